import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Workspaces, branchName, slugify } from '../../daemons/agent/workspaces.js';
import { memoryLogger, tempDir } from '../helpers.js';

const env = { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp' };
const sh = (args: string[], cwd?: string) => execFileSync('git', args, { cwd, env: { ...env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' } }).toString().trim();

/** A bare "remote" acme/web.git with one commit on main, and Workspaces pointed at it. */
function setup() {
  const dir = tempDir();
  const origin = join(dir, 'remote', 'acme', 'web.git');
  mkdirSync(origin, { recursive: true });
  sh(['init', '--quiet', '--bare', '--initial-branch=main', origin]);
  const seed = join(dir, 'seed');
  sh(['clone', '--quiet', origin, seed]);
  writeFileSync(join(seed, 'README.md'), '# web\n');
  sh(['add', '.'], seed);
  sh(['commit', '--quiet', '-m', 'initial'], seed);
  sh(['push', '--quiet', 'origin', 'HEAD:main'], seed);
  const workspaces = new Workspaces({
    root: join(dir, 'state', 'workspaces'),
    gitUrlTemplate: `file://${join(dir, 'remote')}/{owner}/{repo}.git`,
    author: { name: 'ccc agent', email: 'ccc-agent@localhost' },
    gitEnv: env,
    keepFailedMs: 60_000,
    log: memoryLogger().log,
  });
  return { dir, origin, workspaces };
}

describe('workspaces', () => {
  it('slugs titles into safe branch names', () => {
    expect(slugify('Add a /health endpoint!')).toBe('add-a-health-endpoint');
    expect(slugify('--upload-pack=touch /tmp/pwned')).toBe('upload-pack-touch-tmp-pwned');
    expect(slugify('../../etc/passwd')).toBe('etc-passwd');
    expect(slugify('日本語')).toBe('task');
    expect(branchName(12, 'x'.repeat(100))).toBe(`ccc/12-${'x'.repeat(40)}`);
  });

  it('makes a worktree on ccc/<issue>-<slug> from a cached mirror, commits and pushes only that branch', async () => {
    const { origin, workspaces } = setup();
    const mainBefore = sh(['rev-parse', 'main'], origin);
    const ws = await workspaces.prepare({ taskId: 3, attempt: 1, repo: 'acme/web', issueNumber: 12, title: 'Add a /health endpoint' });
    expect(ws.branch).toBe('ccc/12-add-a-health-endpoint');
    expect(ws.base).toBe('main');
    expect(readFileSync(join(ws.dir, 'README.md'), 'utf8')).toBe('# web\n');
    writeFileSync(join(ws.dir, 'health.py'), 'def health():\n    return "ok"\n');
    const commit = await workspaces.publish(ws, 'Add a /health endpoint (#12)');
    expect(commit).toMatch(/^[0-9a-f]{40}$/);
    expect(sh(['rev-parse', 'refs/heads/ccc/12-add-a-health-endpoint'], origin)).toBe(commit);
    expect(sh(['log', '-1', '--format=%an <%ae>|%s', commit!], origin)).toBe('ccc agent <ccc-agent@localhost>|Add a /health endpoint (#12)');
    expect(sh(['rev-parse', 'main'], origin)).toBe(mainBefore);
    expect(sh(['for-each-ref', '--format=%(refname)'], origin).split('\n').sort()).toEqual(['refs/heads/ccc/12-add-a-health-endpoint', 'refs/heads/main']);
    await workspaces.remove(ws);
    expect(existsSync(ws.dir)).toBe(false);
  });

  it('keeps a running task\'s branch when another task of the same repository fetches', async () => {
    const { origin, workspaces } = setup();
    const a = await workspaces.prepare({ taskId: 1, attempt: 1, repo: 'acme/web', issueNumber: 1, title: 'first' });
    const b = await workspaces.prepare({ taskId: 2, attempt: 1, repo: 'acme/web', issueNumber: 2, title: 'second' });
    writeFileSync(join(a.dir, 'a.txt'), 'a');
    writeFileSync(join(b.dir, 'b.txt'), 'b');
    const [ca, cb] = await Promise.all([workspaces.publish(a, 'a'), workspaces.publish(b, 'b')]);
    expect(sh(['rev-parse', 'refs/heads/ccc/1-first'], origin)).toBe(ca);
    expect(sh(['rev-parse', 'refs/heads/ccc/2-second'], origin)).toBe(cb);
    expect(sh(['show', '--name-only', '--format=', ca!], origin)).toBe('a.txt');
  });

  it('returns no commit when nothing changed, and starts a retry afresh from the base', async () => {
    const { workspaces } = setup();
    const first = await workspaces.prepare({ taskId: 4, attempt: 1, repo: 'acme/web', issueNumber: null, title: 'Nothing' });
    expect(first.branch).toBe('ccc/4-nothing');
    expect(await workspaces.publish(first, 'nothing')).toBeNull();
    writeFileSync(join(first.dir, 'half-done.txt'), 'x');
    const retry = await workspaces.prepare({ taskId: 4, attempt: 2, repo: 'acme/web', issueNumber: null, title: 'Nothing' });
    expect(existsSync(join(retry.dir, 'half-done.txt'))).toBe(false);
    expect(existsSync(join(retry.dir, 'README.md'))).toBe(true);
  });

  it('commits and pushes for a title with a NUL byte (the API accepts one; an argument cannot carry it)', async () => {
    const { origin, workspaces } = setup();
    const ws = await workspaces.prepare({ taskId: 5, attempt: 1, repo: 'acme/web', issueNumber: null, title: 'nul\u0000title' });
    writeFileSync(join(ws.dir, 'x.txt'), 'x');
    const commit = await workspaces.publish(ws, 'nul\u0000title');
    expect(sh(['log', '-1', '--format=%s', commit!], origin)).toBe('nultitle');
  });

  it('refuses repository names that could escape the root or reach git as options', async () => {
    const { workspaces } = setup();
    for (const repo of ['../acme/web', 'acme/..', '-acme/web', 'acme/web/../../x', 'acme']) {
      await expect(workspaces.prepare({ taskId: 1, attempt: 1, repo, issueNumber: 1, title: 't' }), repo).rejects.toThrow(/not owner\/name/);
    }
  });

  it('says which git step failed when the repository does not exist', async () => {
    const { workspaces } = setup();
    await expect(workspaces.prepare({ taskId: 1, attempt: 1, repo: 'acme/missing', issueNumber: 1, title: 't' })).rejects.toThrow(/git fetch --prune failed: .*does not appear to be a git repository/);
  });

  it('sweeps kept worktrees older than the policy', async () => {
    const { workspaces } = setup();
    const ws = await workspaces.prepare({ taskId: 5, attempt: 1, repo: 'acme/web', issueNumber: 5, title: 'kept' });
    expect(workspaces.sweep()).toBe(0);
    const old = new Date(Date.now() - 120_000);
    utimesSync(ws.dir, old, old);
    expect(workspaces.sweep()).toBe(1);
    expect(existsSync(ws.dir)).toBe(false);
  });
});
