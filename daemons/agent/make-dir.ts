/**
 * `mkdir -p` that names the real cause. Node's recursive mkdir reports a
 * read-only or full disk as ENOENT (nodejs/node#47098), which sends an
 * operator looking for a missing directory; this retries the first missing
 * level without recursion, which fails with the true code (EROFS, ENOSPC …).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';

export function makeDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    let missing = dir;
    while (!existsSync(dirname(missing)) && dirname(missing) !== missing) missing = dirname(missing);
    mkdirSync(missing); // throws the real error; if it works after all, go on with the rest
    mkdirSync(dir, { recursive: true });
  }
}
