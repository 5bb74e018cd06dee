import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { get, post, uniqueChannel } from '../support/http.js';
import { type Instance, startInstance, stopAllInstances } from '../support/instance.js';

// Every role, with Nest's route log on: the instance reports each route it
// registered ("Mapped {/v1/jobs, POST} route"), which the document must list.
let app: Instance;
beforeAll(async () => {
  app = await startInstance({ LOG_LEVEL: 'info' });
});
afterAll(() => stopAllInstances());

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = { openapi: string; paths: Record<string, Record<string, any>> };

async function fetchDocument(): Promise<Doc> {
  const res = await fetch(`${app.url}/docs/openapi.json`);
  expect(res.status).toBe(200);
  return (await res.json()) as Doc;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

describe('OpenAPI at /docs', () => {
  it('serves a document that validates against the OpenAPI schema', async () => {
    const doc = await fetchDocument();
    // The OpenAPI 3.x JSON schema of its version, every $ref resolvable.
    const validator = new Validator();
    const result = await validator.validate(doc);
    expect(result.errors).toBeUndefined();
    expect(result.valid).toBe(true);
    expect(() => validator.resolveRefs()).not.toThrow();
    expect(doc.openapi).toMatch(/^3\./);
  });

  it('lists exactly the routes the instance registered', async () => {
    const doc = await fetchDocument();
    const documented = Object.entries(doc.paths)
      .flatMap(([path, item]) =>
        Object.keys(item)
          .filter((m) => METHODS.includes(m))
          .map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
      )
      .sort();
    const registered = [...app.output().matchAll(/Mapped \{([^,}]+), (\w+)\} route/g)]
      .map(([, path, method]) => `${method} ${path}`)
      .sort();
    expect(registered.length).toBeGreaterThan(15);
    expect(documented).toEqual(registered);
  });

  it('documents parameters, bodies, answers and the error shape of every operation', async () => {
    const doc = await fetchDocument();
    const problems: string[] = [];
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const method of Object.keys(item).filter((m) => METHODS.includes(m))) {
        const op = item[method];
        const name = `${method.toUpperCase()} ${path}`;
        if (!op.summary) problems.push(`${name}: no summary`);
        for (const param of path.match(/\{\w+\}/g) ?? []) {
          const p = op.parameters?.find(
            (x: { in: string; name: string }) => x.in === 'path' && `{${x.name}}` === param,
          );
          if (!p) problems.push(`${name}: path parameter ${param} undocumented`);
        }
        if (
          ['post', 'patch', 'put'].includes(method) &&
          !path.endsWith('/cancel') &&
          !op.requestBody?.content?.['application/json']?.schema
        ) {
          problems.push(`${name}: no JSON body schema`);
        }
        const names = (op.parameters ?? []).map((x: { in: string; name: string }) => `${x.in}:${x.name}`);
        if (new Set(names).size !== names.length)
          problems.push(`${name}: a parameter listed twice (${names})`);
        if (names.some((n: string) => /^query:q$/.test(n)))
          problems.push(`${name}: the query DTO leaked as a parameter`);
        const codes = Object.keys(op.responses ?? {});
        if (!codes.some((c) => /^2/.test(c))) problems.push(`${name}: no success answer`);
        for (const code of codes.filter((c) => /^[45]/.test(c) && path.startsWith('/v1/'))) {
          const content = op.responses[code].content?.['application/json'];
          if (content?.schema?.$ref !== '#/components/schemas/ErrorBody')
            problems.push(`${name} ${code}: not the error shape`);
          if (content?.example?.statusCode !== Number(code)) problems.push(`${name} ${code}: no example`);
        }
        if (path.startsWith('/v1/') && !codes.includes('400') && path.includes('{')) {
          problems.push(`${name}: a path parameter but no 400 documented`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('describes what the instance really answers: a message, a page and an error', async () => {
    const validator = new Validator();
    expect((await validator.validate(await fetchDocument())).valid).toBe(true);
    const doc = validator.resolveRefs() as Doc;
    // OpenAPI 3.0's `nullable` and `example` are not JSON Schema keywords: ajv skips them.
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const channel = uniqueChannel('docs');
    const publishOp = doc.paths['/v1/channels/{channel}/messages'].post;
    const historyOp = doc.paths['/v1/channels/{channel}/messages'].get;

    const published = await post(app.url, `/v1/channels/${channel}/messages`, { data: { text: 'hi' } });
    expect(published.status).toBe(201);
    const messageSchema = publishOp.responses['201'].content['application/json'].schema;
    expect(ajv.validate(messageSchema, published.body)).toBe(true);
    // The schema is not vacuous: a message without its seq is refused.
    expect(ajv.validate(messageSchema, { ...published.body, seq: undefined })).toBe(false);

    const page = await get(app.url, `/v1/channels/${channel}/messages?after=0`);
    expect(ajv.validate(historyOp.responses['200'].content['application/json'].schema, page.body)).toBe(true);

    const bad = await get(app.url, `/v1/channels/${channel}/messages?limit=0`);
    expect(bad.status).toBe(400);
    expect(ajv.validate(historyOp.responses['400'].content['application/json'].schema, bad.body)).toBe(true);
    expect(Object.keys(bad.body).sort()).toEqual(['error', 'message', 'statusCode']);
  });

  it('serves Swagger UI at /docs', async () => {
    const res = await fetch(`${app.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/html/);
    expect(await res.text()).toMatch(/swagger-ui/i);
  });
});
