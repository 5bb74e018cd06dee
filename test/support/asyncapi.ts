import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type AsyncAPIDocumentInterface, DiagnosticSeverity, Parser } from '@asyncapi/parser';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

export const ASYNCAPI_PATH = join(process.cwd(), 'docs', 'asyncapi.yaml');

/** Who sends a WebSocket frame. */
export type Direction = 'client' | 'server';

export interface AsyncApiContract {
  document: AsyncAPIDocumentInterface;
  /** WebSocket frame validators by direction and `event`. */
  frames: Record<Direction, Map<string, ValidateFunction>>;
  /** The payload (the `data:` JSON) of an SSE message event. */
  sseMessage: ValidateFunction;
  /** Why `frame` does not match the schema of its event, or undefined when it does. */
  check(direction: Direction, frame: unknown): string | undefined;
}

/**
 * Parses docs/asyncapi.yaml with @asyncapi/parser (which validates it against
 * the AsyncAPI schema and resolves its $refs) and compiles each message
 * payload with ajv. Operations Squall `receive`s are client frames; what it
 * `send`s, and the replies to what it receives, are server frames.
 */
export async function loadAsyncApi(): Promise<AsyncApiContract & { errors: string[] }> {
  const { document, diagnostics } = await new Parser().parse(readFileSync(ASYNCAPI_PATH, 'utf8'));
  const errors = diagnostics
    .filter((d) => d.severity === DiagnosticSeverity.Error)
    .map((d) => `${d.path.join('.')}: ${d.message}`);
  if (!document) throw new Error(`docs/asyncapi.yaml does not parse:\n${errors.join('\n')}`);

  // The parser annotates schemas with x-parser-* keys, which ajv must not reject.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats.default(ajv);
  const frames: Record<Direction, Map<string, ValidateFunction>> = { client: new Map(), server: new Map() };
  let sseMessage: ValidateFunction | undefined;
  const add = (direction: Direction, message: { payload(): { json(): unknown } | undefined }) => {
    const schema = message.payload()!.json() as { properties?: { event?: { const?: string } } };
    const event = schema.properties?.event?.const;
    if (!event) throw new Error('a WebSocket message payload without a const event');
    frames[direction].set(event, ajv.compile(schema as object));
  };
  for (const op of document.operations().all()) {
    const wsChannel = op
      .channels()
      .all()
      .some((c) => c.address() === '/v1/ws');
    if (!wsChannel) {
      for (const m of op.messages().all()) sseMessage = ajv.compile(m.payload()!.json() as object);
      continue;
    }
    for (const m of op.messages().all()) add(op.action() === 'receive' ? 'client' : 'server', m);
    for (const m of op.reply()?.messages().all() ?? []) add('server', m);
  }
  if (!sseMessage) throw new Error('docs/asyncapi.yaml describes no SSE message');

  const check = (direction: Direction, frame: unknown): string | undefined => {
    const event = (frame as { event?: unknown })?.event;
    const validate = typeof event === 'string' ? frames[direction].get(event) : undefined;
    if (!validate)
      return `no ${direction} frame "${String(event)}" in docs/asyncapi.yaml: ${JSON.stringify(frame)}`;
    if (validate(frame)) return undefined;
    return `${JSON.stringify(frame)}: ${ajv.errorsText(validate.errors)}`;
  };
  return { document, frames, sseMessage, check, errors };
}
