/**
 * The config files of the repositories the agent's own git uses, written whole
 * by the agent before each use rather than read and trusted: whatever was
 * planted there (core.fsmonitor, include.path, includeIf, filter drivers,
 * core.sshCommand, credential.helper, extensions) is gone before git reads it.
 * Files that would make git read another directory's config or objects
 * (`commondir`, `config.worktree`, alternates other than the agent's) are removed.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeDir } from '../make-dir.js';

/** A config value git reads back verbatim: quoted, with `\` and `"` escaped; newlines cannot occur in our values. */
function quote(value: string): string {
  if (/[\n\r\0]/.test(value)) throw new Error(`a git config value may not hold a line break: ${JSON.stringify(value)}`);
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/**
 * The cached clone keeps git's automatic gc (in the foreground, under the
 * agent's lock) to repack, but never prunes: a running or kept task may
 * borrow an object whose branch the remote has just deleted. A task's own
 * repositories never gc.
 */
const CORE = (bare: boolean) => [
  '[core]',
  '\trepositoryformatversion = 0',
  '\tfilemode = true',
  `\tbare = ${bare}`,
  '\tlogallrefupdates = false',
  '\tignorecase = false',
  '\tsymlinks = true',
  '[gc]',
  ...(bare ? ['\tautoDetach = false', '\tpruneExpire = never'] : ['\tauto = 0']),
];

function writeConfig(gitDir: string, lines: string[]): void {
  for (const stray of ['commondir', 'config.worktree', 'info/attributes', 'info/grafts', 'shallow']) rmSync(join(gitDir, stray), { recursive: true, force: true });
  writeFileSync(join(gitDir, 'config'), `${lines.join('\n')}\n`, { mode: 0o644 });
}

/** The objects a repository borrows from, or none: exactly this file, nothing planted. */
export function writeAlternates(gitDir: string, objectDirs: string[]): void {
  makeDir(join(gitDir, 'objects', 'info'));
  const file = join(gitDir, 'objects', 'info', 'alternates');
  if (objectDirs.length === 0) rmSync(file, { force: true });
  else writeFileSync(file, `${objectDirs.join('\n')}\n`);
}

/** The cached bare clone: its remote and where fetched branches go (never refs/heads). */
export function writeMirrorConfig(mirror: string, url: string): void {
  writeConfig(mirror, [
    ...CORE(true),
    '[remote "origin"]',
    `\turl = ${quote(url)}`,
    '\tfetch = +refs/heads/*:refs/remotes/origin/*',
  ]);
  writeAlternates(mirror, []);
}

/** A repository with a work tree: the agent's private git dir of a task, or the model's `.git` in the task directory. */
export function writeTaskConfig(gitDir: string, mirror: string): void {
  writeConfig(gitDir, CORE(false));
  writeAlternates(gitDir, [join(mirror, 'objects')]);
}
