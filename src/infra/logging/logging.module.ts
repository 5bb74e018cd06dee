import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { DynamicModule, Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { stdSerializers } from 'pino';
import type { AppConfig } from '../config/config.schema.js';

const REQUEST_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
// Query parameters that may carry credentials (browsers cannot set headers on
// WebSocket or EventSource requests, so tokens end up in the URL).
const SECRET_QUERY = /([?&](?:token|access_token|auth|jwt|key)=)[^&]*/gi;

export const redactUrl = (url: string | undefined) => url?.replace(SECRET_QUERY, '$1[redacted]');

/**
 * pino-pretty is a dev dependency: a production install (the image, `npm ci
 * --omit=dev`) has none, and NODE_ENV left unset there means development.
 */
function prettyPrinterInstalled(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/**
 * JSON lines, or pino-pretty in development where it is installed; every HTTP
 * line carries the request id (taken from `X-Request-Id` when sane, else generated).
 */
@Module({})
export class LoggingModule {
  static forRoot(config: AppConfig): DynamicModule {
    const pretty = config.NODE_ENV === 'development' && prettyPrinterInstalled();
    return {
      module: LoggingModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.LOG_LEVEL,
            // Which instance wrote a line, when many write to one place.
            base: { instance: config.INSTANCE_ID, pid: process.pid },
            transport: pretty
              ? { target: 'pino-pretty', options: { singleLine: true, translateTime: 'SYS:HH:MM:ss.l' } }
              : undefined,
            genReqId: (req, res) => {
              const given = req.headers['x-request-id'];
              const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
              res.setHeader('X-Request-Id', id);
              return id;
            },
            redact: {
              paths: [
                'req.headers.authorization',
                'req.headers.cookie',
                'req.headers["sec-websocket-protocol"]',
                'res.headers["set-cookie"]',
              ],
              censor: '[redacted]',
            },
            // pino-http would wrap each serializer in a standard one that first
            // copies the request into a fresh object (headers, address, query...)
            // on every request, at any level, only for ours to pick three
            // fields: read them from the request itself. res and err keep the
            // standard serializers, which is what the wrapping gave them.
            wrapSerializers: false,
            serializers: {
              req: (req: IncomingMessage & { id?: string; originalUrl?: string }) => ({
                id: req.id,
                method: req.method,
                url: redactUrl(req.originalUrl ?? req.url),
              }),
              res: stdSerializers.res,
              err: stdSerializers.err,
            },
            // Probes and scrapes would drown the log.
            autoLogging: { ignore: (req) => /^\/(health|metrics)/.test(req.url ?? '') },
          },
        }),
      ],
    };
  }
}
