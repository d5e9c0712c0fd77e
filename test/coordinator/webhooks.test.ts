/** POST /webhooks/github against a real coordinator, fed GitHub's own example payloads, signed as GitHub signs them. */
import { randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import { describe, expect, it } from 'vitest';
import { RawAgent, api, startTestCoordinator, tempDir, testEnv, SPECIALTIES } from '../helpers.js';
import { SECRET, comment, deliver, example, openedWith, withLabels, type IssuePayload } from '../github-webhooks.js';
import type { Env } from '../../daemons/shared/config.js';

async function coordinator(extra: Env = { CCC_WEBHOOK_SECRET: SECRET }) {
  return startTestCoordinator(testEnv(tempDir(), extra));
}

async function tasks(url: string): Promise<any[]> {
  return (await api(url, '/tasks')).body.tasks;
}

describe('POST /webhooks/github', () => {
  it('answers ping with a pong', async () => {
    const c = await coordinator();
    const r = await deliver(c.url, example('ping'), { event: 'ping' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ pong: true, zen: 'Anything added dilutes everything else.' });
  });

  it('makes a task of an issue opened with the trigger label, routed by its ccc: label', async () => {
    const c = await coordinator();
    const payload = openedWith(['bug', 'ccc', 'ccc:frontend']);
    const r = await deliver(c.url, payload);
    expect(r.status).toBe(201);
    expect(r.body.task).toMatchObject({
      state: 'queued', source: 'github', repo: payload.repository.full_name, issueNumber: payload.issue.number,
      title: payload.issue.title, body: payload.issue.body, labels: ['bug', 'ccc', 'ccc:frontend'], specialty: 'frontend',
    });
    expect(r.body.task.routeReason).toContain('label ccc:frontend');
    expect(await tasks(c.url)).toHaveLength(1);
    expect(c.lines.some((l) => l.includes('"outcome":"task-created"'))).toBe(true);
  });

  it('routes by keywords when the issue has no ccc: label, as the API does', async () => {
    const c = await coordinator();
    const payload = openedWith(['ccc']);
    payload.issue.title = 'Add a Dockerfile and a CI pipeline';
    const r = await deliver(c.url, payload);
    expect(r.status).toBe(201);
    expect(r.body.task.specialty).toBe('devops');
  });

  it('ignores an issue opened without the trigger label', async () => {
    const c = await coordinator();
    const r = await deliver(c.url, openedWith(['bug']));
    expect(r.status).toBe(202);
    expect(r.body.ignored).toContain('without the "ccc" label');
    expect(await tasks(c.url)).toEqual([]);
  });

  it('uses CCC_TRIGGER_LABEL as the trigger label', async () => {
    const c = await coordinator({ CCC_WEBHOOK_SECRET: SECRET, CCC_TRIGGER_LABEL: 'agent-please' });
    expect((await deliver(c.url, openedWith(['ccc']))).status).toBe(202);
    expect((await deliver(c.url, openedWith(['Agent-Please']))).status).toBe(201);
  });

  it('makes a task when the trigger label is added, and ignores other labels', async () => {
    const c = await coordinator();
    const other = withLabels(example('issues', 'labeled'), ['bug']);
    const ignored = await deliver(c.url, other);
    expect(ignored.status).toBe(202);
    expect(ignored.body.ignored).toContain('label "bug" on Codertocat/Hello-World#1 is not the trigger label "ccc"');

    const labeled = withLabels(example('issues', 'labeled'), ['bug', 'ccc']);
    labeled.label!.name = 'ccc';
    const r = await deliver(c.url, labeled);
    expect(r.status).toBe(201);
    expect(r.body.task).toMatchObject({ source: 'github', issueNumber: 1, labels: ['bug', 'ccc'], specialty: 'general' });
  });

  it('answers with the existing task while the issue has one queued, assigned or running', async () => {
    const c = await coordinator();
    const first = await deliver(c.url, openedWith(['ccc']));
    // GitHub also sends `labeled` for labels given at creation: it must not make a second task.
    const labeled = withLabels(example('issues', 'labeled'), ['ccc']);
    labeled.label!.name = 'ccc';
    const again = await deliver(c.url, labeled);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ outcome: 'task-exists', task: { id: first.body.task.id } });
    expect(await tasks(c.url)).toHaveLength(1);
  });

  it('an issue labelled with several specialties becomes a plan; /ccc cancel stops it with its step; /ccc retry goes on from that step', async () => {
    const c = await coordinator();
    const opened = await deliver(c.url, openedWith(['ccc', 'ccc:frontend', 'ccc:backend']));
    expect(opened.status).toBe(201);
    const plan = opened.body.task;
    expect(plan).toMatchObject({ kind: 'plan', specialty: 'plan', state: 'queued' });
    expect(plan.steps.map((s: any) => [s.specialty, s.state])).toEqual([['backend', 'queued'], ['frontend', 'pending']]);
    const same = await deliver(c.url, comment('/ccc run'), { event: 'issue_comment' });
    expect(same.body).toMatchObject({ outcome: 'task-exists', task: { id: plan.id } });
    const cancel = await deliver(c.url, comment('/ccc cancel'), { event: 'issue_comment' });
    expect(cancel.body).toMatchObject({ outcome: 'task-cancelled', task: { id: plan.id, state: 'cancelled' } });
    expect((await api(c.url, `/tasks/${plan.steps[0].taskId}`)).body.task.state).toBe('cancelled');
    const retry = await deliver(c.url, comment('/ccc retry'), { event: 'issue_comment' });
    expect(retry.status).toBe(201);
    expect(retry.body.task.steps.map((s: any) => s.state)).toEqual(['queued', 'pending']);
    expect((await api(c.url, `/tasks/${plan.id}`)).body.task.events.map((e: any) => e.kind)).toContain('retried');
  });

  it('/ccc plan starts a planner run (any agent); /ccc approve without a proposal is ignored with what to do', async () => {
    const c = await coordinator();
    const approve = await deliver(c.url, comment('/ccc approve'), { event: 'issue_comment' });
    expect(approve.status).toBe(202);
    expect(approve.body.ignored).toMatch(/no \/ccc plan proposal on .*; comment \/ccc plan first/);
    const plan = await deliver(c.url, comment('/ccc plan'), { event: 'issue_comment' });
    expect(plan.status).toBe(201);
    expect(plan.body).toMatchObject({ outcome: 'planner-started', task: { kind: 'planner', specialty: 'general', state: 'queued' } });
    const still = await deliver(c.url, comment('/ccc approve'), { event: 'issue_comment' });
    expect(still.status).toBe(202);
    expect(still.body.ignored).toMatch(/has no proposal to approve \(it is queued\)/);
    expect((await deliver(c.url, comment('/ccc plan', 'NONE'), { event: 'issue_comment' })).status).toBe(202);
  });

  it('runs and cancels with /ccc comments', async () => {
    const c = await coordinator();
    const run = await deliver(c.url, comment('/ccc run\nplease look at this'), { event: 'issue_comment' });
    expect(run.status).toBe(201);
    expect(run.body.task).toMatchObject({ source: 'github', issueNumber: 1, state: 'queued' });
    const id = run.body.task.id;

    const cancel = await deliver(c.url, comment('/ccc cancel'), { event: 'issue_comment' });
    expect(cancel.status).toBe(200);
    expect(cancel.body).toMatchObject({ outcome: 'task-cancelled', task: { id, state: 'cancelled' } });
    const events = (await api(c.url, `/tasks/${id}`)).body.task.events;
    expect(events.at(-1).message).toContain('cancelled by @Codertocat on GitHub');

    const nothing = await deliver(c.url, comment('/ccc cancel'), { event: 'issue_comment' });
    expect(nothing.status).toBe(202);
    expect(nothing.body.ignored).toContain('no queued, assigned or running task');

    // A finished or cancelled task does not stop a new run.
    const rerun = await deliver(c.url, comment('/ccc run'), { event: 'issue_comment' });
    expect(rerun.status).toBe(201);
    expect(rerun.body.task.id).not.toBe(id);
  });

  it('ignores comments that are not commands, unknown commands and commands on pull requests', async () => {
    const c = await coordinator();
    const plain = await deliver(c.url, example('issue_comment', 'created'), { event: 'issue_comment' });
    expect(plain.status).toBe(202);
    expect(plain.body.ignored).toBe('comment is not a /ccc command');
    const unknown = await deliver(c.url, comment('/ccc deploy'), { event: 'issue_comment' });
    expect(unknown.body.ignored).toContain('unknown command "/ccc deploy"');
    const onPr = comment('/ccc run');
    (onPr.issue as Record<string, unknown>).pull_request = { url: 'https://api.github.com/repos/Codertocat/Hello-World/pulls/1' };
    const pr = await deliver(c.url, onPr, { event: 'issue_comment' });
    expect(pr.status).toBe(202);
    // A /ccc comment on a pull request the cluster did not open does nothing (test/coordinator/follow-ups.test.ts has the rest).
    expect(pr.body.ignored).toContain('was not opened by this cluster');
    expect(await tasks(c.url)).toEqual([]);
  });

  it('lets only allowed author associations trigger work', async () => {
    const c = await coordinator();
    const outsiderIssue = openedWith(['ccc']);
    outsiderIssue.issue.author_association = 'NONE';
    const opened = await deliver(c.url, outsiderIssue);
    expect(opened.status).toBe(202);
    expect(opened.body.ignored).toContain('issue author @Codertocat is NONE, not one of OWNER, MEMBER, COLLABORATOR');

    const outsiderComment = await deliver(c.url, comment('/ccc run', 'CONTRIBUTOR'), { event: 'issue_comment' });
    expect(outsiderComment.status).toBe(202);
    expect(outsiderComment.body.ignored).toContain('commenter @Codertocat is CONTRIBUTOR');
    expect((await deliver(c.url, comment('/ccc cancel', 'FIRST_TIME_CONTRIBUTOR'), { event: 'issue_comment' })).status).toBe(202);

    // An outsider's own issue labelled as they opened it (an issue template does that): not enough.
    const selfLabeled = withLabels(example('issues', 'labeled'), ['ccc']);
    selfLabeled.label!.name = 'ccc';
    selfLabeled.issue.author_association = 'NONE';
    const self = await deliver(c.url, selfLabeled);
    expect(self.status).toBe(202);
    expect(self.body.ignored).toContain('labelling their own issue');
    expect(await tasks(c.url)).toEqual([]);

    // A maintainer labelling an outsider's issue is the vetting: that makes a task.
    selfLabeled.sender = { ...selfLabeled.sender, login: 'maintainer' };
    expect((await deliver(c.url, selfLabeled)).status).toBe(201);
  });

  it('ignores other events and actions with 202, one info line each', async () => {
    const c = await coordinator();
    const push = await deliver(c.url, { ref: 'refs/heads/main' }, { event: 'push' });
    expect(push.status).toBe(202);
    expect(push.body).toEqual({ ignored: 'event push is not acted on (only ping, issues, issue_comment, pull_request_review and pull_request_review_comment)' });
    const edited = await deliver(c.url, example('issues', 'edited'));
    expect(edited.status).toBe(202);
    expect(edited.body.ignored).toContain('issues.edited is not acted on');
    const lines = c.lines.filter((l) => l.includes('webhook ignored'));
    expect(lines).toHaveLength(2);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 30, event: 'push', outcome: `ignored: ${push.body.ignored}`, delivery: push.delivery });
  });

  it('refuses a bad or missing signature with 401, never echoing it', async () => {
    const c = await coordinator();
    const payload = openedWith(['ccc']);
    const wrong = await deliver(c.url, payload, { secret: 'some-other-secret-0123456789' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('unauthorized');
    expect(wrong.body.error.message).toContain('CCC_WEBHOOK_SECRET');
    const forged = `sha256=${'0'.repeat(64)}`;
    const zeros = await deliver(c.url, payload, { signature: forged });
    expect(zeros.status).toBe(401);
    expect(JSON.stringify(zeros.body)).not.toContain(forged);
    const truncated = await deliver(c.url, payload, { signature: 'sha256=abc' });
    expect(truncated.status).toBe(401);
    // Signed, but not these bytes.
    const body = JSON.stringify(payload);
    const tampered = await deliver(c.url, payload, { rawBody: body.replace('"ccc"', '"CCC"'), signature: await sign(SECRET, body) });
    expect(tampered.status).toBe(401);
    const missing = await deliver(c.url, payload, { signature: null });
    expect(missing.status).toBe(401);
    expect(missing.body.error.message).toContain('missing X-Hub-Signature-256');
    expect(await tasks(c.url)).toEqual([]);
    // A refused delivery is not recorded: once signed right, the same delivery id is handled.
    expect((await deliver(c.url, payload, { delivery: zeros.delivery })).status).toBe(201);
  });

  it('answers 503 saying to set CCC_WEBHOOK_SECRET when there is none', async () => {
    const c = await coordinator({});
    const r = await deliver(c.url, openedWith(['ccc']));
    expect(r.status).toBe(503);
    expect(r.body.error).toMatchObject({ code: 'webhooks_disabled' });
    expect(r.body.error.message).toContain('CCC_WEBHOOK_SECRET is not set: set it');
    expect(await tasks(c.url)).toEqual([]);
  });

  it('refuses missing X-GitHub-Event or X-GitHub-Delivery, and payloads missing what it needs, with 400', async () => {
    const c = await coordinator();
    const noEvent = await deliver(c.url, openedWith(['ccc']), { event: null });
    expect(noEvent.status).toBe(400);
    expect(noEvent.body.error.message).toContain('X-GitHub-Event');
    const noDelivery = await deliver(c.url, openedWith(['ccc']), { delivery: null });
    expect(noDelivery.status).toBe(400);
    expect(noDelivery.body.error.message).toContain('X-GitHub-Delivery');
    const noIssue = example('issues', 'opened') as Partial<IssuePayload>;
    delete noIssue.issue;
    const invalid = await deliver(c.url, noIssue);
    expect(invalid.status).toBe(400);
    expect(invalid.body.error).toMatchObject({ code: 'invalid_request', fields: [expect.objectContaining({ path: 'issue' })] });
    expect(await tasks(c.url)).toEqual([]);
  });

  it('answers 400 for a body that is not JSON and 413 for one over 1 MiB, and stays up', async () => {
    const c = await coordinator();
    const form = await deliver(c.url, undefined, { rawBody: 'payload=%7B%22action%22%3A%22opened%22%7D' });
    expect(form.status).toBe(400);
    expect(form.body.error).toMatchObject({ code: 'invalid_json' });
    expect(form.body.error.message).toContain('application/json');
    const big = openedWith(['ccc']);
    big.issue.body = 'y'.repeat(2 * 1024 * 1024);
    const tooLarge = await deliver(c.url, big);
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.error.code).toBe('too_large');
    expect((await deliver(c.url, openedWith(['ccc']))).status).toBe(201);
  });

  it('does a replayed delivery once, even after a coordinator restart', async () => {
    const env = testEnv(tempDir(), { CCC_WEBHOOK_SECRET: SECRET });
    const first = await startTestCoordinator(env);
    const payload = openedWith(['ccc']);
    const delivery = randomUUID();
    const created = await deliver(first.url, payload, { delivery });
    expect(created.status).toBe(201);
    const replay = await deliver(first.url, payload, { delivery });
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ duplicate: true, outcome: 'task-created', task: { id: created.body.task.id } });
    const ignoredOnce = await deliver(first.url, { ref: 'x' }, { event: 'push', delivery: 'push-delivery-1' });
    expect(ignoredOnce.status).toBe(202);
    await first.close();

    const second = await startTestCoordinator(env);
    const afterRestart = await deliver(second.url, payload, { delivery });
    expect(afterRestart.status).toBe(200);
    expect(afterRestart.body).toMatchObject({ duplicate: true, task: { id: created.body.task.id } });
    const ignoredAgain = await deliver(second.url, { ref: 'x' }, { event: 'push', delivery: 'push-delivery-1' });
    expect(ignoredAgain.body).toMatchObject({ duplicate: true, outcome: expect.stringMatching(/^ignored: event push/) });
    expect(await tasks(second.url)).toHaveLength(1);
    expect(second.lines.some((l) => l.includes('webhook delivery seen before'))).toBe(true);
  });

  it('hands the task to an agent with the specialty', async () => {
    const c = await coordinator();
    const agent = await RawAgent.connect(c.url);
    await agent.hello('frontend', SPECIALTIES.frontend!);
    const r = await deliver(c.url, openedWith(['ccc', 'ccc:frontend']));
    const assign = await agent.next('task.assign');
    expect(assign).toMatchObject({ taskId: r.body.task.id, task: { issueNumber: 1, repo: 'Codertocat/Hello-World', specialty: 'frontend' } });
    // /ccc cancel reaches the agent that runs it.
    await deliver(c.url, comment('/ccc cancel'), { event: 'issue_comment' });
    expect(await agent.next('task.cancel')).toMatchObject({ taskId: r.body.task.id, reason: 'cancelled by @Codertocat on GitHub' });
  });

  it('never writes the secret or a signature to the log', async () => {
    const c = await coordinator();
    const payload = openedWith(['ccc']);
    const signature = await sign(SECRET, JSON.stringify(payload));
    await deliver(c.url, payload);
    await deliver(c.url, payload, { secret: 'some-other-secret-0123456789' });
    await deliver(c.url, payload, { signature: null });
    await deliver(c.url, example('ping'), { event: 'ping' });
    await deliver(c.url, { ref: 'x' }, { event: 'push' });
    expect(c.lines.length).toBeGreaterThan(3);
    const log = c.lines.join('\n');
    expect(log).not.toContain(SECRET);
    expect(log).not.toContain(signature.slice('sha256='.length));
  });
});
