import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The package as an application gets it: the built `@squall/client` through the
 * npm workspace link, with declarations, and nothing in it that only Node has.
 */
const root = join(process.cwd(), 'node_modules', '@squall', 'client');

it('the built package resolves through the workspace, with its declarations', async () => {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  expect(manifest.type).toBe('module');
  expect(manifest.exports['.']).toEqual({ types: './dist/index.d.ts', import: './dist/index.js' });
  expect(readFileSync(join(root, 'dist', 'index.d.ts'), 'utf8')).toContain('createClient');
  // A variable specifier: type-checking (lint) must not need the build.
  const name = '@squall/client';
  const sdk = await import(name);
  expect(typeof sdk.createClient).toBe('function');
  expect(new sdk.SquallError('conflict', 'x')).toBeInstanceOf(Error);
  expect(sdk.backoffDelay(0, { initialMs: 100 }, () => 0)).toBe(100);
});

it('the built code uses no Node-only API, so it runs in browsers', () => {
  const files = readdirSync(join(root, 'dist'), { recursive: true, encoding: 'utf8' }).filter((f) =>
    f.endsWith('.js'),
  );
  expect(files).toEqual(expect.arrayContaining(['index.js', 'client.js', 'transports/websocket.js']));
  for (const file of files) {
    const code = readFileSync(join(root, 'dist', file), 'utf8');
    expect({
      file,
      nodeOnly: code.match(/\bfrom ['"]node:|\brequire\(|\bprocess\.|\bBuffer\b|\b__dirname\b/g),
    }).toEqual({
      file,
      nodeOnly: null,
    });
  }
});
