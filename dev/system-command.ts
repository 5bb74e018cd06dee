import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

// sbin directories are often missing from a non-login PATH, and nginx lives there.
const EXTRA_DIRS = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** The path of `bin` on PATH (or in an sbin directory), if any. */
export function findCommand(bin: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return EXTRA_DIRS.map((d) => `${d}/${bin}`).find((p) => existsSync(p));
  }
}

/**
 * Makes sure a server binary exists. On a fresh Debian/Ubuntu box run as
 * root it installs the Debian package (saying so); anywhere else it throws
 * `hint`, which says how to get one.
 */
export function ensureCommand(
  bin: string,
  {
    debianPackage,
    hint,
    log = () => {},
  }: { debianPackage: string; hint: string; log?: (line: string) => void },
): string {
  const found = findCommand(bin);
  if (found) return found;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && findCommand('apt-get')) {
    log(`${bin} not found: installing Debian package ${debianPackage} with apt-get (once)`);
    execFileSync(
      'sh',
      ['-c', `apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${debianPackage}`],
      { stdio: 'inherit' },
    );
    const installed = findCommand(bin);
    if (installed) return installed;
  }
  throw new Error(hint);
}
