/** Pushes a branch to a bare repository with real git, as an agent would, for tests of the local forge. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers.js';

const GIT_ENV = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e', GIT_CONFIG_GLOBAL: '/dev/null' };

/** Commits `files` on top of `branch` (made from main when new) and pushes it to `bare`; returns the commit. */
export function pushBranch(bare: string, branch: string, files: Record<string, string>): string {
  const work = mkdtempSync(join(tempDir(), 'clone-'));
  const git = (...args: string[]) => execFileSync('git', args, { cwd: work, env: GIT_ENV }).toString().trim();
  git('clone', '--quiet', bare, '.');
  try { git('checkout', '--quiet', branch); } catch { git('checkout', '--quiet', '-b', branch); }
  for (const [path, content] of Object.entries(files)) writeFileSync(join(work, path), content);
  git('add', '.');
  git('commit', '--quiet', '-m', `change ${Object.keys(files).join(' ')}`);
  git('push', '--quiet', 'origin', branch);
  return git('rev-parse', 'HEAD');
}
