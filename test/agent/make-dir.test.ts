import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDir } from '../../daemons/agent/make-dir.js';
import { onCleanup, tempDir } from '../helpers.js';

/** A read-only tmpfs at `dir` (root only), unmounted after the test; false where mounting is not allowed. */
function readOnlyMount(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,ro', 'ccc-test', dir], { stdio: 'ignore' });
  } catch {
    return false;
  }
  onCleanup(() => { execFileSync('umount', [dir]); });
  return true;
}

describe('makeDir', () => {
  it('creates missing levels, and accepts a directory that exists', () => {
    const dir = join(tempDir(), 'a', 'b', 'c');
    makeDir(dir);
    makeDir(dir);
    expect(existsSync(dir)).toBe(true);
  });

  it('passes other errors through (a file in the way)', () => {
    const root = tempDir();
    writeFileSync(join(root, 'file'), '');
    expect(() => makeDir(join(root, 'file', 'x'))).toThrow(/ENOTDIR/);
  });

  it('names a read-only disk EROFS, where mkdirSync({recursive}) says ENOENT (nodejs/node#47098)', (ctx) => {
    const mount = join(tempDir(), 'ro');
    mkdirSync(mount);
    if (!readOnlyMount(mount)) return ctx.skip('mounting a tmpfs needs root');
    expect(() => mkdirSync(join(mount, 'work', '1-1'), { recursive: true })).toThrow(/ENOENT/);
    expect(() => makeDir(join(mount, 'work', '1-1'))).toThrow(/EROFS: read-only file system, mkdir '.*\/ro\/work'/);
  });
});
