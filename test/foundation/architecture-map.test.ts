import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The map at the top of docs/architecture.md lists every folder of src/ (and
 * nothing that is gone): a newcomer reads the tree from it, so it must not rot.
 */
function mapFolders(): Set<string> {
  const doc = readFileSync('docs/architecture.md', 'utf8');
  const block = /## Map of `src\/`[\s\S]*?```text\n([\s\S]*?)```/.exec(doc)![1];
  const folders = new Set<string>();
  const parents: string[] = [];
  for (const line of block.split('\n')) {
    const m = /^( *)(\S.*?)(?: {2,}|$)/.exec(line);
    if (!m || !m[2].includes('/')) continue;
    const depth = m[1].length / 2;
    const names = m[2].split(',').map((n) => n.trim().replace(/\/$/, ''));
    if (depth === 0) continue; // `src/` itself
    parents.length = depth - 1;
    for (const name of names) folders.add([...parents, name].join('/'));
    parents.push(names[0]);
  }
  return folders;
}

function treeFolders(dir = 'src', prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => {
      const path = prefix ? `${prefix}/${e.name}` : e.name;
      return [path, ...treeFolders(join(dir, e.name), path)];
    });
}

describe('docs/architecture.md', () => {
  it('maps exactly the folders src/ has', () => {
    const tree = treeFolders();
    const map = [...mapFolders()]
      // The demo is meant to be deleted (CI checks a copy without it): its line may outlive it.
      .filter((f) => f !== 'demo' || tree.includes('demo'));
    expect(map.sort()).toEqual(tree.sort());
  });
});
