/** Idempotency-Key on POST /api/v1/tasks: a retry gets the same task, across a coordinator restart too. */
import { describe, expect, it } from 'vitest';
import { openDb } from '../../daemons/coordinator/db.js';
import { IDEMPOTENCY_KEY_TTL_MS, IdempotencyKeys } from '../../daemons/coordinator/idempotency.js';
import { TaskStore } from '../../daemons/coordinator/task-store.js';
import { api, startTestCoordinator, tempDir, testEnv } from '../helpers.js';
import { join } from 'node:path';

const task = { title: 'Add a health endpoint', labels: ['ccc:backend'] };

describe('POST /api/v1/tasks with Idempotency-Key', () => {
  it('creates once (201), answers a retry with the same task (200), also after a restart', async () => {
    const env = testEnv(tempDir());
    const first = await startTestCoordinator(env);
    const headers = { 'idempotency-key': 'submit-7f3a' };
    const created = await api(first.url, '/tasks', { body: task, headers });
    expect(created.status).toBe(201);
    const again = await api(first.url, '/tasks', { body: task, headers });
    expect(again.status).toBe(200);
    expect(again.body.task.id).toBe(created.body.task.id);
    await first.close();

    const second = await startTestCoordinator(env);
    const afterRestart = await api(second.url, '/tasks', { body: task, headers });
    expect(afterRestart.status).toBe(200);
    expect(afterRestart.body.task).toMatchObject({ id: created.body.task.id, title: task.title });
    // Without a key, or with another key, a request is a new task.
    expect((await api(second.url, '/tasks', { body: task })).status).toBe(201);
    expect((await api(second.url, '/tasks', { body: task, headers: { 'idempotency-key': 'other' } })).status).toBe(201);
    expect((await api(second.url, '/tasks')).body.tasks).toHaveLength(3);
  });

  it('refuses a key reused with another body with 422 and keeps the first task', async () => {
    const c = await startTestCoordinator(testEnv(tempDir()));
    const headers = { 'idempotency-key': 'k-1' };
    await api(c.url, '/tasks', { body: task, headers });
    const reused = await api(c.url, '/tasks', { body: { ...task, title: 'Something else' }, headers });
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotency_key_reused');
    expect(reused.body.error.message).toContain('different request (task 1)');
    const bad = await api(c.url, '/tasks', { body: task, headers: { 'idempotency-key': 'x'.repeat(201) } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('Idempotency-Key');
    expect((await api(c.url, '/tasks')).body.tasks.map((t: { title: string }) => t.title)).toEqual([task.title]);
  });

  it('forgets keys after a day, so the table stays bounded', () => {
    const db = openDb(join(tempDir(), 'db.sqlite'));
    let now = 1_000_000;
    const store = new TaskStore(db, { maxAttempts: 3, retryBackoffMs: 1000 }, () => now);
    const keys = new IdempotencyKeys(db, () => now);
    const create = () => store.create({ title: 't', body: '', labels: [], repo: null, specialty: 'general', specialtyReason: 'r' });
    for (let i = 0; i < 5; i++) keys.once(store, `old-${i}`, { i }, create);
    expect(keys.once(store, 'old-0', { i: 0 }, create).created).toBe(false);
    now += IDEMPOTENCY_KEY_TTL_MS + 1;
    const late = keys.once(store, 'old-0', { i: 0 }, create);
    expect(late.created).toBe(true);
    expect(db.prepare('SELECT count(*) AS n FROM idempotency_keys').get()).toEqual({ n: 1 });
    db.close();
  });
});
