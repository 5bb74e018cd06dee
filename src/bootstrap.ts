import 'reflect-metadata';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { INestApplication, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import { rawHttpError } from './infra/http/raw-http-error.js';
import { securityHeaders } from './infra/http/security-headers.js';
import { jsonBodyLimit } from './infra/http/body-limit.js';
import { INSTANCE_HEADER, instanceHeader } from './infra/http/instance-header.js';
import { stopAcceptingOn } from './infra/lifecycle/stop-accepting.js';
import { REPEATED_SIGNAL_MS } from './infra/lifecycle/repeated-signal.js';
import { StrictQueryGuard } from './infra/http/strict-query.guard.js';
import { SquallWsAdapter } from './channels/ws/squall-ws.adapter.js';
import { setupOpenApi } from './docs/openapi.js';
import { Lifecycle } from './infra/lifecycle/lifecycle.js';
import { METRICS_REGISTRY } from './infra/metrics/metrics.js';
import { httpMetrics } from './infra/metrics/http.metrics.js';
import { type AppConfig, ConfigError, hasRole, parseConfig } from './infra/config/config.schema.js';

/** Creates and starts one Squall instance; used by main.ts, the dev start and tests. */
export async function createApp(config: AppConfig): Promise<INestApplication> {
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot(config, await testModules(config)),
    {
      bufferLogs: true,
      bodyParser: false,
    },
  );
  app.useLogger(app.get(Logger));
  app.disable('x-powered-by');
  app.use(instanceHeader(config.INSTANCE_ID));
  app.use(securityHeaders());
  app.use(httpMetrics(app.get(METRICS_REGISTRY)));
  // Behind the load balancer, the client address (rate limits, logs) comes from X-Forwarded-For.
  app.set('trust proxy', config.TRUST_PROXY);
  if (config.CORS_ORIGINS) {
    const origins = config.CORS_ORIGINS.split(',').map((o) => o.trim());
    app.enableCors({
      origin: origins.includes('*') ? true : origins,
      // Requested headers (Authorization among them) are allowed as asked; tokens
      // travel as Authorization or ?token=, never cookies, so no credentials mode.
      exposedHeaders: ['Retry-After', 'X-Request-Id', 'Location', 'Idempotent-Replayed', 'WWW-Authenticate'],
      maxAge: 600,
    });
  }
  app.useBodyParser('json', { limit: jsonBodyLimit(config.MAX_MESSAGE_BYTES) });
  // After the auth guard (APP_GUARD, registered while the app was created).
  app.useGlobalGuards(new StrictQueryGuard());
  if (hasRole(config, 'gateway')) app.useWebSocketAdapter(new SquallWsAdapter(app, config));
  if (hasRole(config, 'api')) setupOpenApi(app);
  const server = app.getHttpServer() as Server;
  server.keepAliveTimeout = config.HTTP_KEEP_ALIVE_TIMEOUT_MS;
  // Above the keep-alive timeout, so a request arriving on a reused socket
  // just before it expires is not cut off by the headers timer.
  server.headersTimeout = config.HTTP_KEEP_ALIVE_TIMEOUT_MS + 1000;
  app.get(Lifecycle).onStopAccepting(stopAcceptingOn(server));
  await app.listen(config.PORT, config.HOST);
  answerMalformedRequests(server, config.INSTANCE_ID);
  return app;
}

/**
 * Requests Node's HTTP parser refuses (headers over 16 KiB, bad syntax), and
 * CONNECT, never reach Nest; Node's default answer has no body, or is no
 * answer at all. Answer them in the common error shape instead.
 */
function answerMalformedRequests(server: Server, instanceId: string): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // As Node's own handler: no answer on a dead socket, nor in the middle of
    // a response already under way (a pipelined request behind a stream).
    const inResponse = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage
      ?.headersSent;
    if (err.code === 'ECONNRESET' || !socket.writable || inResponse) {
      socket.destroy();
      return;
    }
    const [status, error, message] =
      err.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'request line and headers exceed 16 KiB']
        : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? [408, 'Request Timeout', 'request not received in time']
          : [400, 'Bad Request', 'malformed HTTP request'];
    socket.end(rawHttpError(status, error, message, { [INSTANCE_HEADER]: instanceId }));
  });
  // Node hands CONNECT to 'connect' listeners only and, with none, drops the
  // connection without a word; Squall proxies nothing, so say so.
  server.on('connect', (_req: IncomingMessage, socket: Duplex) => {
    socket.on('error', () => socket.destroy());
    socket.end(rawHttpError(405, 'Method Not Allowed', 'CONNECT is not supported'));
  });
}

export { REPEATED_SIGNAL_MS };

export interface RunOptions {
  /** Runs after the app has closed, before the process exits (the dev stack stops here). */
  afterClose?: () => Promise<void>;
}

/**
 * Test-only job types and the like (testing/ folders, built by
 * tsconfig.testing.json): TEST_MODULES lists compiled module files whose
 * default export is a Nest module. Ignored when NODE_ENV=production, so a
 * production process never loads code named by its environment.
 */
async function testModules(config: AppConfig): Promise<Type[]> {
  if (config.NODE_ENV === 'production' || !config.TEST_MODULES) return [];
  const files = config.TEST_MODULES.split(',').map((f) => f.trim());
  return Promise.all(
    files.map(async (f) => ((await import(pathToFileURL(resolve(f)).href)) as { default: Type }).default),
  );
}

/**
 * The process entry: validate the environment (one line and exit 1 when it is
 * wrong), start, and on SIGTERM/SIGINT close gracefully and exit 0.
 */
export async function runMain(env: NodeJS.ProcessEnv, options: RunOptions = {}): Promise<void> {
  let config: AppConfig;
  try {
    config = parseConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`squall: ${err.message}\n`);
      await options.afterClose?.();
      process.exit(1);
    }
    throw err;
  }

  let app: INestApplication;
  try {
    app = await createApp(config);
  } catch (err) {
    process.stderr.write(`squall: failed to start: ${(err as Error).stack ?? err}\n`);
    await options.afterClose?.();
    process.exit(1);
  }
  const logger = app.get(Logger);
  logger.log(
    `squall listening on http://${config.HOST}:${config.PORT} as ${config.ROLE.join(',')}`,
    'Bootstrap',
  );

  let first: { signal: string; at: number } | undefined;
  const shutdown = async (signal: string) => {
    if (first) {
      // `npm start` / `npm run` pass the terminal's Ctrl-C on to the service,
      // which the terminal has already sent it to: one Ctrl-C arrives twice,
      // milliseconds apart. Only a later (or different) signal is a second one.
      if (signal === first.signal && Date.now() - first.at < REPEATED_SIGNAL_MS) return;
      // A second signal means "now".
      process.stderr.write(`squall: second signal (${signal}): exiting without finishing the shutdown\n`);
      process.exit(1);
    }
    first = { signal, at: Date.now() };
    logger.log(`${signal} received, shutting down`, 'Bootstrap');
    // The app's own hooks are bounded by SHUTDOWN_TIMEOUT_MS; this is the backstop.
    const backstop = setTimeout(() => {
      process.stderr.write('squall: shutdown timed out\n');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS + 5000);
    backstop.unref();
    // Closes the listening socket, then fails readiness; the 1001s follow in app.close().
    app.get(Lifecycle).beginShutdown();
    // Requests still open when the budget is spent (a client that stopped
    // reading, say) would hold the HTTP server's close forever: cut them.
    const force = setTimeout(() => {
      (app.getHttpServer() as import('node:http').Server).closeAllConnections();
    }, config.SHUTDOWN_TIMEOUT_MS);
    force.unref();
    let code = 0;
    try {
      await app.close();
    } catch (err) {
      process.stderr.write(`squall: error during shutdown: ${(err as Error).message}\n`);
      code = 1;
    }
    await options.afterClose?.().catch(() => undefined);
    process.exit(code);
  };
  // Nest's enableShutdownHooks re-raises the signal after closing, which makes
  // the exit status 143; orchestrators expect 0 for a clean stop.
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
