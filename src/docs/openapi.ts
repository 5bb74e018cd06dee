import { applyDecorators, type INestApplication } from '@nestjs/common';
import { ApiHeader, ApiResponse, DocumentBuilder, type OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { ErrorBody } from './openapi-models.js';

export const DOCS_PATH = 'docs';
export const OPENAPI_JSON_PATH = `/${DOCS_PATH}/openapi.json`;

const ERRORS: Record<number, { description: string; message: string }> = {
  400: { description: 'bad input: channel name, query, body', message: 'limit must be between 1 and 1000' },
  401: {
    description: 'no token, or an invalid or expired one (token mode)',
    message: 'the token has expired',
  },
  403: { description: 'forbidden', message: 'this token may not publish to channel chat:lobby' },
  404: { description: 'not found', message: 'job 0b9f1f0e-8f6a-4f0e-9a43-0c1d2e3f4a5b not found' },
  409: {
    description: 'conflict with the current state',
    message: 'job 0b9f1f0e-8f6a-4f0e-9a43-0c1d2e3f4a5b is already completed',
  },
  413: { description: 'payload too large', message: 'data is 70002 bytes serialised; the limit is 65536' },
  429: { description: 'rate limited (see Retry-After)', message: 'publish rate limit exceeded' },
  503: { description: 'Postgres or Redis unavailable (see Retry-After)', message: 'database unavailable' },
};

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  503: 'Service Unavailable',
};

/**
 * Documents the `{statusCode, error, message}` answers an endpoint can give,
 * with an example each: a status, or `[status, example message]` where the
 * generic example would mislead.
 */
export function ApiErrors(...statuses: (number | [number, string])[]): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ...statuses.map((entry) => {
      const [status, message] = Array.isArray(entry) ? entry : [entry, ERRORS[entry].message];
      return ApiResponse({
        status,
        description: ERRORS[status].description,
        type: ErrorBody,
        example: { statusCode: status, error: REASONS[status], message },
        headers:
          status === 429 || status === 503
            ? { 'Retry-After': { description: 'seconds to wait', schema: { type: 'integer' } } }
            : status === 401
              ? { 'WWW-Authenticate': { description: '`Bearer`', schema: { type: 'string' } } }
              : undefined,
      });
    }),
  );
}

/** `Idempotent-Replayed: true` on an answer that returns an earlier result for a reused key. */
export const IDEMPOTENT_REPLAYED = {
  'Idempotent-Replayed': {
    description: '`true` when the idempotencyKey was already used and the original is returned',
    schema: { type: 'string', enum: ['true'] },
  },
};

/** The `Last-Event-ID` header of an SSE reconnect. */
export const ApiLastEventId = () =>
  ApiHeader({
    name: 'Last-Event-ID',
    required: false,
    description: 'seq of the last event received; takes precedence over `after`',
  });

export function buildOpenApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Squall')
    .setDescription(
      'REST, long poll and Server-Sent Events of Squall. Every error answers `{statusCode, error, message}`. ' +
        'The WebSocket protocol (`/v1/ws`) and the SSE event stream are described in AsyncAPI: docs/asyncapi.yaml; ' +
        'the full contract in docs/protocol.md and docs/jobs.md.',
    )
    .setVersion('0.1.0')
    .addTag('channels', 'publish, history, long poll, Server-Sent Events')
    .addTag('jobs', 'background jobs; progress on channel job:<id>')
    .addTag('namespaces', 'per-namespace channel settings')
    .addTag('operations', 'health and Prometheus metrics')
    // Token mode (docs/security.md): a JWT on every route but health, metrics and these docs.
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    .addSecurityRequirements('bearer')
    .build();
  return SwaggerModule.createDocument(app, config);
}

/**
 * Swagger UI at /docs and the document at /docs/openapi.json (api role). The
 * document is built once from the controllers' decorators, so it lists what
 * this instance actually routes.
 */
export function setupOpenApi(app: INestApplication): void {
  const document = buildOpenApiDocument(app);
  SwaggerModule.setup(DOCS_PATH, app, document, {
    jsonDocumentUrl: OPENAPI_JSON_PATH,
    raw: ['json'],
    customSiteTitle: 'Squall API',
  });
}
