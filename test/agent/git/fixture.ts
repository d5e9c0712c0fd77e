/** A bare "remote" acme/web.git with one commit on main, a reviewer's clone, and Workspaces pointed at it (real git). */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Workspaces } from '../../../daemons/agent/git/workspaces.js';
import { memoryLogger, tempDir } from '../../helpers.js';

export const gitEnv = { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp' };
const who = { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t', GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };

/** Plain git as a test (or a reviewer) runs it. */
export const sh = (args: string[], cwd?: string) => execFileSync('git', args, { cwd, env: { ...gitEnv, ...who }, stdio: ['ignore', 'pipe', 'pipe'] }).toString().trim();

export function setup(opts: { keepFailedMs?: number } = {}) {
  const dir = tempDir('ccc-ws-');
  const origin = join(dir, 'remote', 'acme', 'web.git');
  mkdirSync(origin, { recursive: true });
  sh(['init', '--quiet', '--bare', '--initial-branch=main', origin]);
  const seed = join(dir, 'seed');
  sh(['clone', '--quiet', origin, seed]);
  writeFileSync(join(seed, 'README.md'), '# web\n');
  sh(['add', '.'], seed);
  sh(['commit', '--quiet', '-m', 'initial'], seed);
  sh(['push', '--quiet', 'origin', 'HEAD:main'], seed);
  const root = join(dir, 'state', 'workspaces');
  const workspaces = new Workspaces({
    root,
    gitUrlTemplate: `file://${join(dir, 'remote')}/{owner}/{repo}.git`,
    author: { name: 'ccc agent', email: 'ccc-agent@localhost' },
    gitEnv,
    keepFailedMs: opts.keepFailedMs ?? 60_000,
    log: memoryLogger().log,
  });
  /** A reviewer pushes a commit with `file` to `branch` on the remote (made from main if new); returns it. */
  const reviewerPushes = (branch: string, file: string, content = 'from a reviewer\n'): string => {
    sh(['fetch', '--quiet', 'origin'], seed);
    const exists = sh(['branch', '--remotes', '--list', `origin/${branch}`], seed) !== '';
    sh(['checkout', '--quiet', '-B', branch, exists ? `origin/${branch}` : 'origin/main'], seed);
    writeFileSync(join(seed, file), content);
    sh(['add', '.'], seed);
    sh(['commit', '--quiet', '-m', `reviewer: ${file}`], seed);
    sh(['push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`], seed);
    return sh(['rev-parse', 'HEAD'], seed);
  };
  return { dir, origin, seed, root, workspaces, reviewerPushes };
}
