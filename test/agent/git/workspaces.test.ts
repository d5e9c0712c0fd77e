/** Workspaces with real git 2.39: layout, push, re-runs of an issue, continuing a branch without force, the sweep. */
import { existsSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isPermanent } from '../../../daemons/agent/git/permanent-failure.js';
import { branchName, slugify } from '../../../daemons/agent/git/workspaces.js';
import { setup, sh } from './fixture.js';

const commitOf = (p: { commit: string } | null) => p!.commit;

describe('workspaces', () => {
  it('slugs titles into safe branch names', () => {
    expect(slugify('Add a /health endpoint!')).toBe('add-a-health-endpoint');
    expect(slugify('--upload-pack=touch /tmp/pwned')).toBe('upload-pack-touch-tmp-pwned');
    expect(slugify('../../etc/passwd')).toBe('etc-passwd');
    expect(slugify('日本語')).toBe('task');
    expect(branchName(12, 'x'.repeat(100))).toBe(`ccc/12-${'x'.repeat(40)}`);
  });

  it('makes a task directory on ccc/<issue>-<slug> with a private git dir outside it, commits and pushes only that branch', async () => {
    const { origin, root, workspaces } = setup();
    const mainBefore = sh(['rev-parse', 'main'], origin);
    const ws = await workspaces.prepare({ taskId: 3, attempt: 1, repo: 'acme/web', issueNumber: 12, title: 'Add a /health endpoint' });
    expect(ws).toMatchObject({ branch: 'ccc/12-add-a-health-endpoint', base: 'main', continued: false, dir: join(root, 'tasks', '3-1'), gitDir: join(root, 'gitdirs', '3-1.git') });
    expect(readFileSync(join(ws.dir, 'README.md'), 'utf8')).toBe('# web\n');
    // The model's own .git works for `git status` and is clean; it is not the agent's.
    expect(sh(['status', '--porcelain', '--branch'], ws.dir)).toBe('## ccc/12-add-a-health-endpoint');
    writeFileSync(join(ws.dir, 'health.py'), 'def health():\n    return "ok"\n');
    const commit = commitOf(await workspaces.publish(ws, 'Add a /health endpoint (#12)'));
    expect(commit).toMatch(/^[0-9a-f]{40}$/);
    expect(sh(['rev-parse', 'refs/heads/ccc/12-add-a-health-endpoint'], origin)).toBe(commit);
    expect(sh(['log', '-1', '--format=%an <%ae>|%s', commit], origin)).toBe('ccc agent <ccc-agent@localhost>|Add a /health endpoint (#12)');
    expect(sh(['show', '--name-only', '--format=', commit], origin)).toBe('health.py');
    expect(sh(['rev-parse', 'main'], origin)).toBe(mainBefore);
    expect(sh(['for-each-ref', '--format=%(refname)'], origin).split('\n').sort()).toEqual(['refs/heads/ccc/12-add-a-health-endpoint', 'refs/heads/main']);
    workspaces.remove(ws);
    expect(existsSync(ws.dir)).toBe(false);
    expect(existsSync(ws.gitDir)).toBe(false);
  });

  it('keeps a running task\'s branch when another task of the same repository fetches', async () => {
    const { origin, workspaces } = setup();
    const a = await workspaces.prepare({ taskId: 1, attempt: 1, repo: 'acme/web', issueNumber: 1, title: 'first' });
    const b = await workspaces.prepare({ taskId: 2, attempt: 1, repo: 'acme/web', issueNumber: 2, title: 'second' });
    writeFileSync(join(a.dir, 'a.txt'), 'a');
    writeFileSync(join(b.dir, 'b.txt'), 'b');
    const [ca, cb] = (await Promise.all([workspaces.publish(a, 'a'), workspaces.publish(b, 'b')])).map(commitOf);
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

  it('runs an issue again after a failed run whose workspace is kept (was: "already checked out", three times)', async () => {
    const { origin, workspaces } = setup();
    const failed = await workspaces.prepare({ taskId: 7, attempt: 1, repo: 'acme/web', issueNumber: 7, title: 'Fix the login' });
    writeFileSync(join(failed.dir, 'half.txt'), 'half');
    workspaces.finish(failed); // failed: kept for inspection, not removed
    const again = await workspaces.prepare({ taskId: 8, attempt: 1, repo: 'acme/web', issueNumber: 7, title: 'Fix the login' });
    expect(again.branch).toBe(failed.branch);
    writeFileSync(join(again.dir, 'fix.txt'), 'fixed');
    const commit = commitOf(await workspaces.publish(again, 'Fix the login (#7)'));
    expect(sh(['rev-parse', `refs/heads/${again.branch}`], origin)).toBe(commit);
    expect(readFileSync(join(failed.dir, 'half.txt'), 'utf8')).toBe('half');
  });

  it('continues the issue\'s branch from its remote head: a reviewer\'s commit is kept, the push is a fast-forward', async () => {
    const { origin, workspaces, reviewerPushes } = setup();
    const task = { repo: 'acme/web', issueNumber: 9, title: 'Add search' };
    const first = await workspaces.prepare({ taskId: 1, attempt: 1, ...task });
    writeFileSync(join(first.dir, 'search.py'), 'v1\n');
    const c1 = commitOf(await workspaces.publish(first, 'v1'));
    const review = reviewerPushes(first.branch, 'REVIEW.md');
    const second = await workspaces.prepare({ taskId: 2, attempt: 1, ...task });
    expect(second).toMatchObject({ continued: true, start: review, base: 'main' });
    expect(readFileSync(join(second.dir, 'REVIEW.md'), 'utf8')).toBe('from a reviewer\n');
    writeFileSync(join(second.dir, 'search.py'), 'v2\n');
    const c2 = commitOf(await workspaces.publish(second, 'v2'));
    expect(sh(['rev-list', '--parents', '-1', c2], origin)).toBe(`${c2} ${review}`);
    expect(sh(['rev-list', '--reverse', `refs/heads/${first.branch}`], origin).split('\n').slice(1)).toEqual([c1, review, c2]);
  });

  it('merges a commit pushed to the branch while the task ran, without force; a conflict fails clearly and overwrites nothing', async () => {
    const { origin, workspaces, reviewerPushes } = setup();
    const branch = 'feature/docs';
    reviewerPushes(branch, 'START.md');
    const ws = await workspaces.prepare({ taskId: 1, attempt: 1, repo: 'acme/web', issueNumber: 5, title: 'Docs', branch });
    expect(ws).toMatchObject({ branch, continued: true, base: 'main' });
    const theirs = reviewerPushes(branch, 'NOTES.md');
    writeFileSync(join(ws.dir, 'docs.md'), 'docs\n');
    const merged = commitOf(await workspaces.publish(ws, 'docs'));
    expect(sh(['rev-list', '--parents', '-1', merged], origin).split(' ')).toHaveLength(3);
    expect(sh(['merge-base', '--is-ancestor', theirs, branch], origin)).toBe('');
    expect(sh(['ls-tree', '--name-only', branch], origin).split('\n').sort()).toEqual(['NOTES.md', 'README.md', 'START.md', 'docs.md']);

    const clash = await workspaces.prepare({ taskId: 2, attempt: 1, repo: 'acme/web', issueNumber: 5, title: 'Docs', branch });
    const head = reviewerPushes(branch, 'README.md', '# theirs\n');
    writeFileSync(join(clash.dir, 'README.md'), '# ours\n');
    const err = await workspaces.publish(clash, 'ours').catch((e: Error) => e);
    expect((err as Error).message).toMatch(/branch feature\/docs moved on the remote .*conflicts with the work of this task in README\.md; nothing was overwritten/);
    expect(isPermanent(err)).toBe(true);
    expect(sh(['rev-parse', branch], origin)).toBe(head);
  });

  it('refuses a named branch that does not exist, is the default branch or is not a plain name, without retry', async () => {
    const { workspaces } = setup();
    for (const [branch, message] of [['feature/none', /branch feature\/none does not exist on the remote acme\/web/], ['main', /branch main is the default branch of acme\/web/], ['--force', /not a plain branch name/], ['a/../b', /not a plain branch name/]] as const) {
      const err = await workspaces.prepare({ taskId: 1, attempt: 1, repo: 'acme/web', issueNumber: 1, title: 't', branch }).catch((e: Error) => e);
      expect((err as Error).message, branch).toMatch(message);
      expect(isPermanent(err)).toBe(true);
    }
  });

  it('commits and pushes for a title with a NUL byte (the API accepts one; an argument cannot carry it)', async () => {
    const { origin, workspaces } = setup();
    const ws = await workspaces.prepare({ taskId: 5, attempt: 1, repo: 'acme/web', issueNumber: null, title: 'nul\u0000title' });
    writeFileSync(join(ws.dir, 'x.txt'), 'x');
    const commit = commitOf(await workspaces.publish(ws, 'nul\u0000title'));
    expect(sh(['log', '-1', '--format=%s', commit], origin)).toBe('nultitle');
  });

  it('refuses repository names that could escape the root or reach git as options', async () => {
    const { workspaces } = setup();
    for (const repo of ['../acme/web', 'acme/..', '-acme/web', 'acme/web/../../x', 'acme']) {
      await expect(workspaces.prepare({ taskId: 1, attempt: 1, repo, issueNumber: 1, title: 't' }), repo).rejects.toThrow(/not owner\/name/);
    }
  });

  it('says which git step failed when the repository does not exist, and that no retry can help', async () => {
    const { workspaces } = setup();
    const err = await workspaces.prepare({ taskId: 1, attempt: 1, repo: 'acme/missing', issueNumber: 1, title: 't' }).catch((e: Error) => e);
    expect((err as Error).message).toMatch(/git fetch --prune failed: .*does not appear to be a git repository/);
    expect(isPermanent(err)).toBe(true);
  });

  it('sweeps only workspaces of finished tasks, never a running one, whatever its age (keepFailedHours: 0)', async () => {
    const { workspaces } = setup({ keepFailedMs: 0 });
    const running = await workspaces.prepare({ taskId: 5, attempt: 1, repo: 'acme/web', issueNumber: 5, title: 'long' });
    const old = new Date(Date.now() - 48 * 3_600_000);
    utimesSync(running.dir, old, old);
    expect(workspaces.sweep()).toBe(0);
    expect(existsSync(join(running.dir, 'README.md'))).toBe(true);
    expect(existsSync(running.gitDir)).toBe(true);
    workspaces.finish(running);
    expect(workspaces.sweep(Date.now() + 1)).toBe(1);
    expect(existsSync(running.dir)).toBe(false);
    expect(existsSync(running.gitDir)).toBe(false);
  });

  it('sweeps a finished task\'s kept workspace once older than the policy', async () => {
    const { workspaces } = setup();
    const ws = await workspaces.prepare({ taskId: 5, attempt: 1, repo: 'acme/web', issueNumber: 5, title: 'kept' });
    workspaces.finish(ws);
    expect(workspaces.sweep()).toBe(0);
    const old = new Date(Date.now() - 120_000);
    utimesSync(ws.dir, old, old);
    utimesSync(ws.gitDir, old, old);
    expect(workspaces.sweep()).toBe(1);
    expect(existsSync(ws.dir)).toBe(false);
  });
});
