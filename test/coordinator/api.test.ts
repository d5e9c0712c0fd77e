import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, RawAgent, api, startTestCoordinator, tempDir, testEnv, SPECIALTIES } from '../helpers.js';

async function coordinator() {
  return startTestCoordinator(testEnv(tempDir()));
}

describe('coordinator HTTP API', () => {
  it('answers health and readiness without a token', async () => {
    const c = await coordinator();
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${c.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ok: true, agents: 0 });
  });

  it('refuses a missing or wrong admin token with 401 and a JSON error', async () => {
    const c = await coordinator();
    const missing = await api(c.url, '/tasks', { token: null });
    expect(missing.status).toBe(401);
    expect(missing.body.error.code).toBe('unauthorized');
    expect((await api(c.url, '/agents', { token: 'wrong-token-wrong-token' })).status).toBe(401);
    // The agent token is not an admin token.
    expect((await api(c.url, '/agents', { token: 'agent-token-for-tests-0123456789' })).status).toBe(401);
    expect((await api(c.url, '/agents', { token: ADMIN_TOKEN })).status).toBe(200);
  });

  it('creates a task with 201, routes its specialty and returns it with its events', async () => {
    const c = await coordinator();
    const created = await api(c.url, '/tasks', { body: { title: 'Add an endpoint', body: 'python api', labels: ['ccc:frontend'] } });
    expect(created.status).toBe(201);
    const { task } = created.body;
    expect(task).toMatchObject({ id: 1, state: 'queued', title: 'Add an endpoint', specialty: 'frontend', agentId: null, attempt: 0, maxAttempts: 3, repo: null });
    expect(task.routeReason).toContain('label ccc:frontend');
    expect(Date.parse(task.createdAt)).not.toBeNaN();
    const got = await api(c.url, `/tasks/${task.id}`);
    expect(got.status).toBe(200);
    expect(got.body.task.events.map((e: { kind: string }) => e.kind)).toEqual(['created']);
  });

  it('says in the route reason when no agent of cluster.yml has the specialty', async () => {
    const c = await coordinator();
    const { body } = await api(c.url, '/tasks', { body: { title: 'Port the app to COBOL', labels: ['ccc:cobol'] } });
    expect(body.task.specialty).toBe('cobol');
    expect(body.task.routeReason).toContain('no agent in cluster.yml has cobol');
    expect(body.task.routeReason).toContain('routing.fallbackAfterSeconds');
    const staffed = await api(c.url, '/tasks', { body: { title: 'x', labels: ['ccc:react'] } });
    expect(staffed.body.task.routeReason).not.toContain('no agent');
  });

  it('rejects invalid task bodies with 400 naming the offending fields', async () => {
    const c = await coordinator();
    const r = await api(c.url, '/tasks', { body: { title: '', labels: 'x', repo: '../etc', extra: 1 } });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_request');
    const paths = r.body.error.fields.map((f: { path: string }) => f.path);
    expect(paths).toEqual(expect.arrayContaining(['title', 'labels', 'repo', 'extra']));
    expect(r.body.error.message).toContain('title');
    const notJson = await api(c.url, '/tasks', { rawBody: '{"title":' });
    expect(notJson.status).toBe(400);
    expect(notJson.body.error.code).toBe('invalid_json');
    const badQuery = await api(c.url, '/tasks?state=sleeping');
    expect(badQuery.status).toBe(400);
    expect(badQuery.body.error.fields[0].path).toBe('state');
    expect((await api(c.url, '/tasks/abc')).status).toBe(400);
  });

  it('answers 413 for an oversized body and stays up', async () => {
    const c = await coordinator();
    const r = await api(c.url, '/tasks', { rawBody: JSON.stringify({ title: 'x', body: 'y'.repeat(2 * 1024 * 1024) }) });
    expect(r.status).toBe(413);
    expect(r.body.error.code).toBe('too_large');
    expect((await api(c.url, '/tasks', { body: { title: 'still fine' } })).status).toBe(201);
  });

  it('answers 404 for unknown tasks, agents and routes', async () => {
    const c = await coordinator();
    expect((await api(c.url, '/tasks/999')).status).toBe(404);
    expect((await api(c.url, '/tasks/999/cancel', { method: 'POST' })).status).toBe(404);
    expect((await api(c.url, '/agents/ghost/drain', { method: 'POST' })).status).toBe(404);
    const route = await api(c.url, '/nothing-here');
    expect(route.status).toBe(404);
    expect(route.body.error.code).toBe('not_found');
  });

  it('cancels and retries, refusing illegal transitions with 409', async () => {
    const c = await coordinator();
    const { body } = await api(c.url, '/tasks', { body: { title: 'cancel me' } });
    const id = body.task.id;
    expect((await api(c.url, `/tasks/${id}/retry`, { method: 'POST' })).status).toBe(409);
    const cancelled = await api(c.url, `/tasks/${id}/cancel`, { method: 'POST' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.task.state).toBe('cancelled');
    const again = await api(c.url, `/tasks/${id}/cancel`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('illegal_transition');
    expect(again.body.error.message).toContain('cancelled');
    const retried = await api(c.url, `/tasks/${id}/retry`, { method: 'POST' });
    expect(retried.status).toBe(200);
    expect(retried.body.task.state).toBe('queued');
  });

  it('lists tasks filtered by state and agent', async () => {
    const c = await coordinator();
    for (const title of ['a', 'b', 'c']) await api(c.url, '/tasks', { body: { title } });
    await api(c.url, '/tasks/2/cancel', { method: 'POST' });
    expect((await api(c.url, '/tasks')).body.tasks).toHaveLength(3);
    const queued = (await api(c.url, '/tasks?state=queued')).body.tasks;
    expect(queued.map((t: { id: number }) => t.id).sort()).toEqual([1, 3]);
    expect((await api(c.url, '/tasks?agent=backend')).body.tasks).toEqual([]);
  });

  it('lists registered agents and drains and resumes them', async () => {
    const c = await coordinator();
    const agent = await RawAgent.connect(c.url);
    await agent.hello('backend', SPECIALTIES.backend!);
    const { body } = await api(c.url, '/agents');
    expect(body.agents).toEqual([
      expect.objectContaining({ id: 'backend', hostname: 'backend.test', specialties: SPECIALTIES.backend, capacity: 2, running: 0, state: 'online', version: 'test' }),
    ]);
    expect((await api(c.url, '/agents/backend/drain', { method: 'POST' })).body.agent.state).toBe('draining');
    // A drained agent gets no work.
    await api(c.url, '/tasks', { body: { title: 'api work', labels: ['ccc:backend'] } });
    await new Promise((r) => setTimeout(r, 300));
    expect(agent.received.filter((m) => m.type === 'task.assign')).toEqual([]);
    expect((await api(c.url, '/agents/backend/resume', { method: 'POST' })).body.agent.state).toBe('online');
    const assign = await agent.next('task.assign');
    expect(assign).toMatchObject({ taskId: 1, attempt: 1, task: { title: 'api work', specialty: 'backend' } });
    agent.ws.close();
    await new Promise((r) => setTimeout(r, 200));
    expect((await api(c.url, '/agents')).body.agents[0].state).toBe('offline');
  });
});

describe('GET /api/v1/summary', () => {
  it('counts tasks and agents by state', async () => {
    const c = await startTestCoordinator(testEnv(tempDir()));
    await api(c.url, '/tasks', { body: { title: 'a' } });
    await api(c.url, '/tasks', { body: { title: 'b' } });
    await api(c.url, '/tasks/2/cancel', { method: 'POST' });
    const { status, body } = await api(c.url, '/summary');
    expect(status).toBe(200);
    expect(body).toEqual({
      tasks: { queued: 1, assigned: 0, running: 0, succeeded: 0, failed: 0, cancelled: 1 },
      agents: { online: 0, draining: 0, offline: 0 },
      budget: { limitUsd: null, spentTodayUsd: 0, day: new Date().toISOString().slice(0, 10), waiting: null },
    });
  });
});
