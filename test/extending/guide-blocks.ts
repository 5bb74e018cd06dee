/**
 * Reads the checked walkthroughs of docs/extending.md and applies them to a
 * copy of the project, following the convention the guide states:
 *
 * - a block starting `// src/path.ts` is a new file, the whole block;
 * - a block starting `// src/path.ts: add Name to list` holds imports to add
 *   to that file's imports, and `Name` goes at the end of its array `list`.
 *
 * Anything else in a checked section is an error, so the guide cannot carry a
 * block the test does not apply.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type Change =
  | { kind: 'file'; path: string; code: string }
  | { kind: 'add'; path: string; name: string; list: string; imports: string[] };

export interface Walkthrough {
  heading: string;
  /** The number of files the walkthrough says it touches (its bold "**N files**"). */
  statedFiles: number;
  changes: Change[];
}

const NEW_FILE = /^\/\/ (src\/[\w./-]+\.ts)$/;
const ADD = /^\/\/ (src\/[\w./-]+\.ts): add (\w+) to (\w+)$/;

/** The `## ` section whose heading starts with `prefix` (e.g. "1."). */
export function walkthrough(markdown: string, prefix: string): Walkthrough {
  const sections = markdown.split(/^## /m).slice(1);
  const section = sections.find((s) => s.startsWith(prefix));
  if (!section) throw new Error(`docs/extending.md has no section "## ${prefix}"`);
  const heading = section.slice(0, section.indexOf('\n'));
  const stated = /\*\*(\d+) files?\b/.exec(section);
  if (!stated) throw new Error(`"${heading}" does not state its file count as **N files**`);
  const changes: Change[] = [];
  for (const [, lang, body] of section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)) {
    if (lang !== 'ts') continue;
    const [first, ...rest] = body.trimEnd().split('\n');
    const add = ADD.exec(first);
    const file = NEW_FILE.exec(first);
    if (add) {
      const imports = rest.filter((l) => l.trim() !== '');
      const stray = imports.find((l) => !/^import .* from '[^']+';$/.test(l));
      if (stray) throw new Error(`"${first}": only import lines belong in an add block, found: ${stray}`);
      changes.push({ kind: 'add', path: add[1], name: add[2], list: add[3], imports });
    } else if (file) {
      changes.push({ kind: 'file', path: file[1], code: rest.join('\n') + '\n' });
    } else {
      throw new Error(`"${heading}": a ts block starts with neither a new file nor an add header: ${first}`);
    }
  }
  return { heading, statedFiles: Number(stated[1]), changes };
}

/** Distinct files a walkthrough's blocks touch. */
export const touchedFiles = (w: Walkthrough) => new Set(w.changes.map((c) => c.path));

/** Adds `name` at the end of the array literal assigned to `list` in `source`, and the imports after the last one. */
export function addToList(source: string, change: Extract<Change, { kind: 'add' }>): string {
  const start = new RegExp(`\\b${change.list}\\b[^=\\n]*=\\s*\\[`).exec(source);
  if (!start) throw new Error(`${change.path} has no array \`${change.list} = [...]\``);
  const open = start.index + start[0].length - 1;
  let depth = 0;
  let close = open;
  for (; close < source.length; close++) {
    if (source[close] === '[') depth++;
    else if (source[close] === ']' && --depth === 0) break;
  }
  const inner = source
    .slice(open + 1, close)
    .replace(/\/\/.*$/gm, '')
    .trim();
  const item = inner === '' || inner.endsWith(',') ? `${change.name},` : `, ${change.name}`;
  let out = source.slice(0, close) + item + source.slice(close);

  const imports = [...out.matchAll(/^import\b[^;]*;$/gm)];
  if (imports.length === 0) throw new Error(`${change.path} has no imports to add to`);
  const last = imports[imports.length - 1];
  const at = last.index + last[0].length;
  out = out.slice(0, at) + '\n' + change.imports.join('\n') + out.slice(at);
  return out;
}

/** Writes or edits each file of the walkthrough under `root`. */
export function apply(root: string, w: Walkthrough): void {
  for (const change of w.changes) {
    const target = join(root, change.path);
    if (change.kind === 'file') {
      if (existsSync(target)) throw new Error(`${change.path} is shown as a new file but exists already`);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, change.code);
    } else {
      writeFileSync(target, addToList(readFileSync(target, 'utf8'), change));
    }
  }
}
