/**
 * The local forge's pull requests through the API, with real git: a task's
 * pushed branch becomes a pull request whose commits and diff are read from the
 * bare repository; comments make follow-ups; the dashboard's page opens
 * without a token; and the diff runs no driver a pushed branch asks for.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureDemoRepo } from '../../daemons/cli/demo-repo.js';
import { pushBranch } from '../forge-branch.js';
import { api, eventually, startTestCoordinator, tempDir, testEnv } from '../helpers.js';

async function setup() {
  const dir = tempDir();
  const c = await startTestCoordinator(testEnv(dir));
  const bare = ensureDemoRepo(c.localForge.root);
  const commit = pushBranch(bare, 'ccc/3-add-a-health-endpoint', { 'server/health.py': 'def health():\n    return {"ok": True}\n' });
  const task = c.store.create({ title: 'Add a /health endpoint', body: 'b', labels: [], repo: 'demo/app', specialty: 'backend', specialtyReason: 'r' });
  c.store.assign(task.id, 'backend', 'r', 60_000);
  c.store.finish({ taskId: task.id, attempt: 1 }, 'backend', { outcome: 'succeeded', retryable: false, summary: 'ok', exitCode: 0, durationMs: 1, branch: 'ccc/3-add-a-health-endpoint', base: 'main', commit, sessionId: 's1' });
  await c.publisher.idle();
  const pr = c.store.get(task.id)!.pullRequest!;
  return { c, bare, commit, task, pr };
}

describe('local forge pull requests', () => {
  it('serve a pull request with its commits, diff and conversation; its link is the dashboard page, which opens without a token', async () => {
    const { c, commit, pr } = await setup();
    expect(pr.url).toBe(`${c.url}/pulls/${pr.number}`);
    const { body } = await api(c.url, `/forge/pulls/${pr.number}`);
    expect(body.pull).toMatchObject({ number: pr.number, head: 'ccc/3-add-a-health-endpoint', base: 'main', draft: false, state: 'open', comments: [], truncated: false });
    expect(body.pull.commits).toEqual([expect.objectContaining({ sha: commit, subject: 'change server/health.py' })]);
    expect(body.pull.diff).toContain('+++ b/server/health.py');
    expect(body.pull.tasks).toEqual([expect.objectContaining({ state: 'succeeded' })]);

    const page = await fetch(`${c.url}/pulls/${pr.number}`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await page.text()).toContain('/dashboard/pull.js');
    expect((await fetch(`${c.url}/pulls/abc`)).status).toBe(404);
    expect((await api(c.url, `/forge/pulls/${pr.number}`, { token: null })).status).toBe(401);
  });

  it('a /ccc comment makes a follow-up on the branch; other comments are kept; bad input is refused with what to do', async () => {
    const { c, pr, task } = await setup();
    const plain = await api(c.url, `/forge/pulls/${pr.number}/comments`, { body: { body: 'Looks fine.', author: 'bob' } });
    expect(plain).toMatchObject({ status: 201, body: { outcome: 'comment', comment: { author: 'bob', body: 'Looks fine.' } } });
    const asked = await api(c.url, `/forge/pulls/${pr.number}/comments`, { body: { body: '/ccc also log each request', author: 'alice' } });
    expect(asked.status).toBe(201);
    expect(asked.body).toMatchObject({
      outcome: 'task-created',
      task: { branch: 'ccc/3-add-a-health-endpoint', previousTaskId: task.id, issueNumber: pr.number, pullRequest: { number: pr.number }, specialty: 'backend',
        followUp: { kind: 'comment', author: 'alice', body: '/ccc also log each request', pullRequest: pr.number } },
    });
    // The earlier comment is context; the request is not repeated in it.
    expect(asked.body.task.context).toEqual([expect.objectContaining({ author: 'bob', body: 'Looks fine.' })]);
    const busy = await api(c.url, `/forge/pulls/${pr.number}/comments`, { body: { body: '/ccc and more' } });
    expect(busy.body.outcome).toBe('task-exists');
    const cancelled = await api(c.url, `/forge/pulls/${pr.number}/comments`, { body: { body: '/ccc cancel' } });
    expect(cancelled.body).toMatchObject({ outcome: 'task-cancelled', task: { state: 'cancelled' } });
    const retried = await api(c.url, `/forge/pulls/${pr.number}/comments`, { body: { body: '/ccc retry' } });
    expect(retried.body).toMatchObject({ outcome: 'task-created', task: { id: asked.body.task.id, state: 'queued' } });
    // The follow-up's tracking comment is in the pull request's conversation.
    await eventually(async () => (await api(c.url, `/forge/pulls/${pr.number}`)).body.pull.comments.some((x: any) => x.author === 'claude-code-cluster' && x.body.includes('follow-up on #')), 5000, 'tracking comment');

    expect((await api(c.url, `/forge/pulls/${pr.number}/comments`, { body: { body: '  ' } })).body.error.message).toContain('body');
    expect((await api(c.url, `/forge/pulls/${pr.number}/comments`, { body: { body: 'x', author: '../evil' } })).status).toBe(400);
    expect((await api(c.url, '/forge/pulls/99/comments', { body: { body: '/ccc x' } })).body.error.message).toContain('ccc pulls');
    expect((await api(c.url, '/forge/pulls/x')).status).toBe(400);
  });

  it('reads the diff with no external diff or textconv driver, even when the repository and the branch ask for one', async () => {
    const { c, bare, pr } = await setup();
    const marker = join(tempDir(), 'driver-ran');
    execFileSync('git', ['--git-dir', bare, 'config', 'diff.evil.command', `touch ${marker}`]);
    execFileSync('git', ['--git-dir', bare, 'config', 'diff.evil.textconv', `touch ${marker}; cat`]);
    // A bare repository reads attributes from info/attributes (a plain `git diff` then runs the driver: checked by hand).
    mkdirSync(join(bare, 'info'), { recursive: true });
    writeFileSync(join(bare, 'info', 'attributes'), '* diff=evil\n');
    pushBranch(bare, 'ccc/3-add-a-health-endpoint', { '.gitattributes': '* diff=evil\n', 'server/more.py': 'x = 1\n' });
    const { body } = await api(c.url, `/forge/pulls/${pr.number}`);
    expect(body.pull.diff).toContain('+++ b/server/more.py');
    expect(body.pull.commits).toHaveLength(2);
    expect(existsSync(marker)).toBe(false);
  });
  it('work kept at a limit opens a draft marked incomplete; a follow-up that completes it makes it ready', async () => {
    const dir = tempDir();
    const c = await startTestCoordinator(testEnv(dir));
    const bare = ensureDemoRepo(c.localForge.root);
    const branch = 'ccc/5-big-change';
    const first = pushBranch(bare, branch, { 'server/big.py': 'part = 1\n' });
    const task = c.store.create({ title: 'Big change', body: 'b', labels: [], repo: 'demo/app', specialty: 'backend', specialtyReason: 'r' });
    c.store.assign(task.id, 'backend', 'r', 60_000);
    c.store.finish({ taskId: task.id, attempt: 1 }, 'backend', { outcome: 'failed', retryable: false, summary: 'reached the turn limit (6 turns)', incomplete: 'reached the turn limit (6 turns)', exitCode: 1, durationMs: 1, branch, base: 'main', commit: first });
    await c.publisher.idle();
    const pr = c.store.get(task.id)!.pullRequest!;
    expect(c.localForge.pull(pr.number)).toMatchObject({ draft: true, title: '[incomplete] Big change', head: branch });
    expect(c.localForge.pull(pr.number)!.body).toContain('**Incomplete:** reached the turn limit');

    const asked = await api(c.url, `/forge/pulls/${pr.number}/comments`, { body: { body: '/ccc finish it' } });
    const id = asked.body.task.id as number;
    expect(asked.body.task.branch).toBe(branch);
    const second = pushBranch(bare, branch, { 'server/big2.py': 'part = 2\n' });
    c.store.assign(id, 'backend', 'r', 60_000);
    c.store.finish({ taskId: id, attempt: 1 }, 'backend', { outcome: 'succeeded', retryable: false, summary: 'done', exitCode: 0, durationMs: 1, branch, base: 'main', commit: second });
    await c.publisher.idle();
    expect(c.localForge.pull(pr.number)!.draft).toBe(false);
    expect(c.localForge.pulls()).toHaveLength(1);
  });
});
