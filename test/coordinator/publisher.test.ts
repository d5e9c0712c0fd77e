/** The publisher against a local stand-in for the GitHub REST routes it uses (Octokit through baseUrl). */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../daemons/coordinator/db.js';
import { GitHubForge } from '../../daemons/coordinator/github-forge.js';
import { Publisher } from '../../daemons/coordinator/publisher.js';
import { planFromLabels } from '../../daemons/coordinator/plans/plan-steps.js';
import { Plans } from '../../daemons/coordinator/plans/plans.js';
import { TaskStore } from '../../daemons/coordinator/task-store.js';
import { githubStandIn } from '../github-stand-in.js';
import { memoryLogger, onCleanup, tempDir } from '../helpers.js';

const TOKEN = 'ghp_testtoken_0123456789abcdef';

async function setup(opts: { failFirstPull?: boolean; failPulls?: boolean; delayMs?: number } = {}) {
  const gh = await githubStandIn(opts);
  const db = openDb(join(tempDir(), 'db.sqlite'));
  onCleanup(() => { db.close(); });
  const store = new TaskStore(db, { maxAttempts: 2, retryBackoffMs: 0 });
  const { log, lines } = memoryLogger([TOKEN]);
  const publisher = new Publisher(store, new GitHubForge({ token: TOKEN, baseUrl: gh.url, log, retryAfterBaseValue: 10, writeSpacingMs: 0 }), log);
  const task = store.create({ title: 'Add a /health endpoint', body: 'please', labels: ['ccc'], repo: 'acme/web', source: 'github', issueNumber: 12, specialty: 'backend', specialtyReason: 'keywords endpoint → backend' });
  return { gh, store, publisher, task, lines };
}

describe('publisher (GitHub through Octokit)', () => {
  it('keeps one tracking comment up to date, moves the status label, and opens the pull request with Closes #N', async () => {
    const { gh, store, publisher, task, lines } = await setup({ failFirstPull: true });
    store.assign(task.id, 'backend', 'backend has backend', 10_000);
    store.started({ taskId: task.id, attempt: 1 }, 'backend');
    await publisher.idle();
    store.finish({ taskId: task.id, attempt: 1 }, 'backend', {
      outcome: 'succeeded', retryable: false, summary: 'Added GET /health.', exitCode: 0, durationMs: 900,
      branch: 'ccc/12-add-a-health-endpoint', base: 'main', commit: 'a'.repeat(40), costUsd: 0.0123, turns: 3, sessionId: 's',
    });
    await publisher.idle();

    const created = gh.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/issues/12/comments'));
    expect(created).toHaveLength(1); // one tracking comment, edited afterwards
    expect(gh.calls.filter((c) => c.method === 'PATCH').length).toBeGreaterThanOrEqual(1);
    const final = [...gh.comments.values()][0]!;
    expect(final).toContain('Done: pull request #7');
    expect(final).toContain('3 turns · $0.0123');

    const pulls = gh.calls.filter((c) => c.method === 'POST' && c.path === '/repos/acme/web/pulls');
    expect(pulls).toHaveLength(2); // the 502 was retried by Octokit's retry plugin
    expect(pulls[1]!.body).toMatchObject({ head: 'ccc/12-add-a-health-endpoint', base: 'main', title: 'Add a /health endpoint' });
    expect(pulls[1]!.body.body).toMatch(/^Closes #12\n/);
    expect(store.get(task.id)!.pullRequest).toEqual({ number: 7, url: 'https://github.example/acme/web/pull/7' });

    // An unchanged comment or label is not written again (opening the PR re-announces the task).
    const commentWrites = gh.calls.filter((c) => c.path.includes('/comments')).map((c) => c.body.body);
    expect(new Set(commentWrites).size).toBe(commentWrites.length);
    const added = gh.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/labels')).map((c) => c.body.labels[0]);
    expect(added.at(-1)).toBe('ccc:done');
    expect(new Set(added).size).toBe(added.length);
    expect(added).toContain('ccc:running');
    expect(gh.calls.every((c) => c.auth === `token ${TOKEN}`)).toBe(true);
    expect(lines.join('\n')).not.toContain(TOKEN);
  });

  it('reports a failure with its reason and the last lines of output', async () => {
    const { gh, store, publisher, task } = await setup();
    store.assign(task.id, 'backend', 'r', 10_000);
    store.progress({ taskId: task.id, attempt: 1 }, 'backend', 'tool Bash: npm test');
    store.progress({ taskId: task.id, attempt: 1 }, 'backend', '3 tests failed');
    store.finish({ taskId: task.id, attempt: 1 }, 'backend', { outcome: 'failed', retryable: false, summary: 'reached the turn limit (30 turns)', exitCode: 1, durationMs: 5 });
    await publisher.idle();
    const final = [...gh.comments.values()][0]!;
    expect(final).toContain('Failed (attempt 1 of 2): reached the turn limit');
    expect(final).toContain('tool Bash: npm test\n3 tests failed');
    expect(gh.calls.filter((c) => c.path.endsWith('/labels')).at(-1)!.body.labels).toEqual(['ccc:failed']);
    expect(gh.calls.some((c) => c.path.endsWith('/pulls'))).toBe(false);
    expect(final).toContain(`comment \`/ccc retry\` here or run \`ccc retry ${task.id}\``);
  });

  const pushed = { outcome: 'succeeded' as const, retryable: false, summary: 'More work.', exitCode: 0, durationMs: 5, branch: 'ccc/12-add-a-health-endpoint', base: 'main', commit: 'b'.repeat(40) };

  it('reuses the open pull request of the branch instead of opening a second (GitHub would answer 422)', async () => {
    const { gh, store, publisher, task } = await setup();
    gh.pulls.push({ number: 7, head: 'ccc/12-add-a-health-endpoint', base: 'main', title: 'x', body: '', draft: false, state: 'open', html_url: 'https://github.example/acme/web/pull/7' });
    store.assign(task.id, 'backend', 'r', 10_000);
    store.finish({ taskId: task.id, attempt: 1 }, 'backend', pushed);
    await publisher.idle();
    expect(gh.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/pulls'))).toHaveLength(0);
    expect(store.get(task.id)!.pullRequest).toEqual({ number: 7, url: 'https://github.example/acme/web/pull/7' });
    expect([...gh.comments.values()].at(-1)).toContain('pull request #7');
  });

  it('finds the pull request GitHub says already exists (422) and uses it', async () => {
    const { gh, store, publisher, task } = await setup();
    const pr = { number: 7, head: 'ccc/12-add-a-health-endpoint', base: 'main', title: 'x', body: '', draft: false, state: 'open' as const, html_url: 'https://github.example/acme/web/pull/7' };
    // Opened by someone between the publisher's look-up and its create: the first list answers empty.
    let lists = 0;
    const realPush = gh.pulls.push.bind(gh.pulls);
    const origFilter = gh.pulls.filter.bind(gh.pulls);
    gh.pulls.filter = ((fn: any) => (lists++ === 0 ? [] : origFilter(fn))) as any;
    realPush(pr);
    store.assign(task.id, 'backend', 'r', 10_000);
    store.finish({ taskId: task.id, attempt: 1 }, 'backend', pushed);
    await publisher.idle();
    const creates = gh.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/pulls'));
    expect(creates).toHaveLength(1);
    expect(store.get(task.id)!.pullRequest?.number).toBe(7);
    expect([...gh.comments.values()].at(-1)).toContain('Done: pull request #7');
  });

  it('a publish failure still brings the comment and the label to the final state, with the reason', async () => {
    const { gh, store, publisher, task } = await setup({ failPulls: true });
    store.assign(task.id, 'backend', 'r', 10_000);
    store.finish({ taskId: task.id, attempt: 1 }, 'backend', pushed);
    await publisher.idle();
    const final = [...gh.comments.values()].at(-1)!;
    expect(final).toContain('the pull request could not be opened');
    expect(final).toContain('ccc/12-add-a-health-endpoint');
    expect(gh.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/labels')).at(-1)!.body.labels).toEqual(['ccc:done']);
    expect(store.events(task.id).some((e) => e.kind === 'publish-failed')).toBe(true);
  });

  it('work kept at a limit opens a draft pull request marked incomplete; the comment says how to continue', async () => {
    const { gh, store, publisher, task } = await setup();
    store.assign(task.id, 'backend', 'r', 10_000);
    store.finish({ taskId: task.id, attempt: 1 }, 'backend', { ...pushed, outcome: 'failed', summary: 'reached the turn limit (6 turns)', incomplete: 'reached the turn limit (6 turns)' });
    await publisher.idle();
    const create = gh.calls.find((c) => c.method === 'POST' && c.path.endsWith('/pulls'))!;
    expect(create.body).toMatchObject({ draft: true, title: '[incomplete] Add a /health endpoint' });
    expect(create.body.body).toContain('**Incomplete:** reached the turn limit');
    const final = [...gh.comments.values()].at(-1)!;
    expect(final).toContain('kept in draft pull request #7');
    expect(final).toContain('/ccc retry');
    expect(store.get(task.id)!.state).toBe('failed');
  });

  it('three interleaved runs of one issue leave the label of the latest task', async () => {
    const { gh, store, publisher, task: a } = await setup({ delayMs: 15 });
    const spec = { title: 'Add a /health endpoint', body: 'please', labels: ['ccc'], repo: 'acme/web', source: 'github' as const, issueNumber: 12, specialty: 'backend', specialtyReason: 'r' };
    store.assign(a.id, 'backend', 'r', 10_000);
    store.started({ taskId: a.id, attempt: 1 }, 'backend');
    const b = store.create(spec);
    store.assign(b.id, 'b2', 'r', 10_000);
    const c = store.create(spec);
    store.started({ taskId: b.id, attempt: 1 }, 'b2');
    store.assign(c.id, 'b3', 'r', 10_000);
    store.started({ taskId: c.id, attempt: 1 }, 'b3');
    store.finish({ taskId: c.id, attempt: 1 }, 'b3', { outcome: 'failed', retryable: false, summary: 'no', exitCode: 1, durationMs: 1 });
    // The older runs end after the latest one.
    store.finish({ taskId: b.id, attempt: 1 }, 'b2', { outcome: 'succeeded', retryable: false, summary: 'ok', exitCode: 0, durationMs: 1 });
    store.finish({ taskId: a.id, attempt: 1 }, 'backend', { outcome: 'succeeded', retryable: false, summary: 'ok', exitCode: 0, durationMs: 1 });
    await publisher.idle();
    const labels = gh.calls.filter((c2) => c2.method === 'POST' && c2.path.endsWith('/12/labels')).map((c2) => c2.body.labels[0]);
    expect(labels.at(-1)).toBe('ccc:failed');
    // Each run keeps its own tracking comment, each at its final state.
    expect([...gh.comments.values()].filter((t) => t.includes('Finished without changing any file'))).toHaveLength(2);
    expect([...gh.comments.values()].filter((t) => t.includes('Failed'))).toHaveLength(1);
  });

  it('a plan: one tracking comment with a checklist of its steps, one pull request opened at the first push and edited as steps finish', async () => {
    const { gh, store, publisher, lines } = await setup();
    const plans = new Plans(store, { log: memoryLogger().log, schedule: () => {} });
    const plan = plans.create({ title: 'Health report', body: 'API and page', labels: ['ccc'], repo: 'acme/web', source: 'github', issueNumber: 30, specialty: 'plan', specialtyReason: '' },
      planFromLabels(['ccc:frontend', 'ccc:backend'])!);
    const runStep = (agent: string, commit: string) => {
      const step = store.stepsOf(plan.id).find((s) => s.state === 'queued')!;
      const attempt = store.assign(step.id, agent, 'test', 10_000);
      store.finish({ taskId: step.id, attempt }, agent, {
        outcome: 'succeeded', retryable: false, summary: `${agent} part done`, exitCode: 0, durationMs: 10,
        branch: 'ccc/30-health-report', base: 'main', commit, costUsd: 0.01, turns: 2,
      });
    };
    runStep('backend', 'b'.repeat(40));
    await publisher.idle();
    const opened = gh.calls.filter((c) => c.method === 'POST' && c.path === '/repos/acme/web/pulls');
    expect(opened).toHaveLength(1);
    expect(opened[0]!.body).toMatchObject({ head: 'ccc/30-health-report', base: 'main', title: 'Health report' });
    expect(opened[0]!.body.body).toMatch(/^Closes #30\n/);
    let comment = [...gh.comments.values()].at(-1)!;
    expect(comment).toContain('plan ' + plan.id + ' · backend → frontend');
    expect(comment).toMatch(/- \[x\] 1\. \*\*backend\*\*/);
    expect(comment).toMatch(/- \[ \] 2\. \*\*frontend\*\*/);

    runStep('frontend', 'f'.repeat(40));
    await publisher.idle();
    expect(gh.calls.filter((c) => c.method === 'POST' && c.path === '/repos/acme/web/pulls')).toHaveLength(1);
    const edits = gh.calls.filter((c) => c.method === 'PATCH' && c.path === '/repos/acme/web/pulls/7');
    expect(edits.length).toBeGreaterThanOrEqual(1);
    const body = gh.pulls[0]!.body;
    expect(body).toContain('| 1 | backend |');
    expect(body).toContain('| 2 | frontend |');
    expect(body).toContain('f'.repeat(12));
    expect(body).toContain('4 turns · $0.0200 in all');
    comment = [...gh.comments.values()].at(-1)!;
    expect(comment).toContain('Done: every step finished.');
    expect(comment).toMatch(/- \[x\] 2\. \*\*frontend\*\*/);
    expect(gh.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/issues/30/comments'))).toHaveLength(1);
    const added = gh.calls.filter((c) => c.method === 'POST' && c.path === '/repos/acme/web/issues/30/labels').map((c) => c.body.labels[0]);
    expect(added.at(-1)).toBe('ccc:done');
    expect(lines.join('\n')).not.toContain(TOKEN);
  });
});
