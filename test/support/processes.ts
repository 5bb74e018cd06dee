import { readFileSync, readdirSync } from 'node:fs';

/** Every process under `root` (children, theirs, ...), read from /proc; `root` itself excluded. */
export function processTree(root: number): { pid: number; comm: string }[] {
  const procs = readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => {
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        const close = stat.lastIndexOf(')');
        const [, ppid] = stat.slice(close + 2).split(' ');
        return [{ pid: Number(name), ppid: Number(ppid), comm: stat.slice(stat.indexOf('(') + 1, close) }];
      } catch {
        return []; // gone meanwhile
      }
    });
  const tree = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const p of procs) {
      if (!tree.has(p.pid) && tree.has(p.ppid)) grew = tree.add(p.pid).size > 0;
    }
  }
  return procs.filter((p) => tree.has(p.pid) && p.pid !== root).map(({ pid, comm }) => ({ pid, comm }));
}

/** Running (a zombie has finished: it only waits for its new parent to reap it). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
