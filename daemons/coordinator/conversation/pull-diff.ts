/**
 * A local-forge pull request's commits and diff, read from its bare
 * repository with git that trusts nothing it was given: no system or global
 * config, no external diff or textconv drivers, refs checked before use and
 * passed after `--end-of-options`, a bounded output.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** A diff past this is cut (the dashboard and the CLI show that it was). */
export const MAX_DIFF_BYTES = 2 * 1024 * 1024;
const SAFE_REF = /^(?!.*\.\.)(?!-)[A-Za-z0-9._/-]{1,255}$/;

export interface PullCommit { sha: string; author: string; at: string; subject: string }
export interface PullDiff { commits: PullCommit[]; diff: string; truncated: boolean }

const GIT_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', GIT_TERMINAL_PROMPT: '0', LANG: 'C' };

async function git(gitDir: string, args: string[]): Promise<string> {
  const { stdout } = await run('git', ['--git-dir', gitDir, '-c', 'core.fsmonitor=false', '-c', 'core.hooksPath=/dev/null', ...args], {
    env: GIT_ENV, maxBuffer: MAX_DIFF_BYTES * 2, encoding: 'utf8',
  });
  return stdout;
}

/** Commits on `head` not on `base`, and the diff from their merge base (what GitHub shows). */
export async function pullDiff(gitDir: string, base: string, head: string): Promise<PullDiff> {
  if (!SAFE_REF.test(base) || !SAFE_REF.test(head)) throw new Error(`unsafe branch name in the pull request (${JSON.stringify(base)}, ${JSON.stringify(head)})`);
  const range = `refs/heads/${base}...refs/heads/${head}`;
  const log = await git(gitDir, ['log', '--no-color', '--format=%H%x00%an%x00%aI%x00%s', '--end-of-options', `refs/heads/${base}..refs/heads/${head}`]);
  const commits = log.split('\n').filter(Boolean).map((line) => {
    const [sha = '', author = '', at = '', subject = ''] = line.split('\0');
    return { sha, author, at, subject };
  });
  const diff = await git(gitDir, ['diff', '--no-color', '--no-ext-diff', '--no-textconv', '--end-of-options', range]);
  const truncated = Buffer.byteLength(diff) > MAX_DIFF_BYTES;
  return { commits, diff: truncated ? Buffer.from(diff).subarray(0, MAX_DIFF_BYTES).toString('utf8') : diff, truncated };
}
