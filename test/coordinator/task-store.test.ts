/** TaskStore over a real SQLite file, with a fake clock: lifecycle, fencing, retries, leases, cancel/retry, durability. */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrate, openDb, type Db } from '../../daemons/coordinator/db.js';
import { errorHandler } from '../../daemons/coordinator/http-error.js';
import { migrations } from '../../daemons/coordinator/migrations.js';
import { IllegalTransition, type TaskResult } from '../../daemons/coordinator/task-model.js';
import { MAX_PROGRESS_EVENTS, MAX_STALE_EVENTS, RELEASE_DELAY_MS, TaskNotFound, TaskStore, type NewTask, type StorePolicy } from '../../daemons/coordinator/task-store.js';
import { CccError } from '../../daemons/shared/errors.js';
import { memoryLogger, onCleanup, tempDir } from '../helpers.js';

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const LEASE = 5_000;
const POLICY: StorePolicy = { maxAttempts: 3, retryBackoffMs: 1_000 };

function open(file: string): Db {
  const db = openDb(file);
  onCleanup(() => { if (db.open) db.close(); });
  return db;
}

function setup(policy: StorePolicy = POLICY) {
  const file = join(tempDir(), 'db.sqlite');
  const db = open(file);
  const clock = { t: T0 };
  const store = new TaskStore(db, policy, () => clock.t);
  return { file, db, clock, store };
}

function spec(over: Partial<NewTask> = {}): NewTask {
  return {
    title: 'Add pagination to the /users API endpoint',
    body: 'limit and offset',
    labels: ['bug', 'ccc:backend'],
    repo: 'octo/shop',
    specialty: 'backend',
    specialtyReason: 'label ccc:backend → backend',
    ...over,
  };
}

const ok = (summary = 'done'): TaskResult => ({ outcome: 'succeeded', summary, retryable: false, exitCode: 0, durationMs: 1234 });
const failure = (retryable: boolean, summary = 'exit 1'): TaskResult => ({ outcome: 'failed', summary, retryable, exitCode: 1, durationMs: 10 });
const kinds = (store: TaskStore, id: number) => store.events(id).map((e) => e.kind);
const iso = (t: number) => new Date(t).toISOString();

/** Creates a task and assigns it; returns its id and attempt. */
function assigned(store: TaskStore, agent = 'backend', over: Partial<NewTask> = {}) {
  const id = store.create(spec(over)).id;
  const attempt = store.assign(id, agent, `${agent} has backend`, LEASE);
  return { id, attempt, ref: { taskId: id, attempt } };
}

function running(store: TaskStore, agent = 'backend') {
  const a = assigned(store, agent);
  expect(store.started(a.ref, agent)).toBe(true);
  return a;
}

describe('create', () => {
  it('records where a task came from and finds the newest task of an issue', () => {
    const { store } = setup();
    const first = store.create(spec({ source: 'github', issueNumber: 7 }));
    expect(first).toMatchObject({ source: 'github', issueNumber: 7, repo: 'octo/shop' });
    const second = store.create(spec({ source: 'github', issueNumber: 7 }));
    store.create(spec({ source: 'github', issueNumber: 8 }));
    expect(store.forIssue('octo/shop', 7)?.id).toBe(second.id);
    expect(store.forIssue('octo/other', 7)).toBeUndefined();
  });

  it('stores a queued task with a created event', () => {
    const { store } = setup();
    const task = store.create(spec());
    expect(task).toEqual({
      id: 1,
      kind: 'task',
      planId: null,
      stepIndex: null,
      state: 'queued',
      title: 'Add pagination to the /users API endpoint',
      body: 'limit and offset',
      labels: ['bug', 'ccc:backend'],
      repo: 'octo/shop',
      source: 'api',
      issueNumber: null,
      pullRequest: null,
      branch: null,
      previousTaskId: null,
      followUp: null,
      context: [],
      specialty: 'backend',
      routeReason: 'label ccc:backend → backend; waiting for an agent',
      agentId: null,
      attempt: 0,
      maxAttempts: 3,
      createdAt: iso(T0),
      updatedAt: iso(T0),
    });
    expect(store.get(1)).toEqual(task);
    expect(store.events(1)).toEqual([
      { id: expect.any(Number), at: iso(T0), kind: 'created', attempt: 0, agentId: null, message: 'accepted: label ccc:backend → backend' },
    ]);
  });

  it('gives increasing ids and makes the task dispatchable', () => {
    const { store } = setup();
    const a = store.create(spec());
    const b = store.create(spec({ repo: null, labels: [] }));
    expect(b.id).toBeGreaterThan(a.id);
    expect(b.repo).toBeNull();
    expect(b.labels).toEqual([]);
    expect(store.dispatchable(10).map((r) => r.id)).toEqual([a.id, b.id]);
    expect(store.dispatchable(1).map((r) => r.id)).toEqual([a.id]);
  });

  it('takes maxAttempts from the policy', () => {
    const { store } = setup({ maxAttempts: 7, retryBackoffMs: 0 });
    expect(store.create(spec()).maxAttempts).toBe(7);
  });
});

describe('assign', () => {
  it('moves queued → assigned under attempt 1 with a lease, and records the route', () => {
    const { store, clock } = setup();
    const { id } = store.create(spec());
    clock.t = T0 + 100;
    const attempt = store.assign(id, 'backend', 'backend has backend; least loaded of 1 eligible (0/2 running)', LEASE);
    expect(attempt).toBe(1);
    expect(store.get(id)).toMatchObject({ state: 'assigned', agentId: 'backend', attempt: 1, routeReason: 'backend has backend; least loaded of 1 eligible (0/2 running)', updatedAt: iso(T0 + 100) });
    const [row] = store.activeOf('backend');
    expect(row).toMatchObject({ id, lease_expires_at: T0 + 100 + LEASE });
    expect(store.events(id).at(-1)).toMatchObject({ kind: 'assigned', attempt: 1, agentId: 'backend', at: iso(T0 + 100) });
    expect(store.dispatchable(10)).toEqual([]);
  });

  it('refuses a task that is not queued', () => {
    const { store } = setup();
    const { id } = assigned(store);
    expect(() => store.assign(id, 'frontend', 'x', LEASE)).toThrow(IllegalTransition);
    expect(store.get(id)).toMatchObject({ agentId: 'backend', attempt: 1 });
  });
});

describe('fencing of agent messages', () => {
  it('started: assigned → running, only for the holder of the current attempt', () => {
    const { store } = setup();
    const { id, ref } = assigned(store);
    expect(store.started(ref, 'frontend')).toBe(false);
    expect(store.started({ taskId: id, attempt: 2 }, 'backend')).toBe(false);
    expect(store.started({ taskId: 999, attempt: 1 }, 'backend')).toBe(false);
    expect(store.get(id)!.state).toBe('assigned');
    expect(store.started(ref, 'backend')).toBe(true);
    expect(store.get(id)!.state).toBe('running');
    expect(store.events(id).at(-1)).toMatchObject({ kind: 'started', attempt: 1, agentId: 'backend', message: 'running on backend' });
    // a second start is a no-op
    expect(store.started(ref, 'backend')).toBe(false);
    expect(kinds(store, id)).toEqual(['created', 'assigned', 'started']);
  });

  it('progress is recorded for the holder only', () => {
    const { store } = setup();
    const { id, ref } = running(store);
    expect(store.progress(ref, 'backend', 'editing api.py')).toBe(true);
    expect(store.progress(ref, 'frontend', 'not mine')).toBe(false);
    expect(store.progress({ taskId: id, attempt: 7 }, 'backend', 'old attempt')).toBe(false);
    const progress = store.events(id).filter((e) => e.kind === 'progress');
    expect(progress).toEqual([expect.objectContaining({ attempt: 1, agentId: 'backend', message: 'editing api.py' })]);
  });

  it('stops keeping progress at the cap, with exactly one progress-truncated event', () => {
    const { store } = setup();
    const { id, ref } = running(store);
    for (let i = 1; i <= MAX_PROGRESS_EVENTS + 5; i++) expect(store.progress(ref, 'backend', `line ${i}`)).toBe(true);
    const events = store.events(id);
    const progress = events.filter((e) => e.kind === 'progress');
    expect(progress.length).toBeLessThanOrEqual(MAX_PROGRESS_EVENTS);
    expect(progress.map((e) => e.message)).not.toContain(`line ${MAX_PROGRESS_EVENTS + 1}`);
    expect(events.filter((e) => e.kind === 'progress-truncated')).toHaveLength(1);
    expect(events.at(-1)).toMatchObject({ kind: 'progress-truncated', attempt: 1, agentId: 'backend', message: `more than ${MAX_PROGRESS_EVENTS} progress lines; the rest are not kept` });
    // the task itself still finishes normally
    expect(store.finish(ref, 'backend', ok())?.state).toBe('succeeded');
  });

  // MAX_PROGRESS_EVENTS is documented as "Progress lines kept per attempt", and the
  // truncation event says "more than 1000 progress lines", so line 1000 should be kept.
  it('keeps exactly MAX_PROGRESS_EVENTS progress lines (the documented cap)', () => {
    const { store } = setup();
    const { id, ref } = running(store);
    for (let i = 1; i <= MAX_PROGRESS_EVENTS; i++) store.progress(ref, 'backend', `line ${i}`);
    const events = store.events(id);
    expect(events.filter((e) => e.kind === 'progress')).toHaveLength(MAX_PROGRESS_EVENTS);
    expect(events.at(-1)).toMatchObject({ kind: 'progress', message: `line ${MAX_PROGRESS_EVENTS}` });
    expect(events.filter((e) => e.kind === 'progress-truncated')).toHaveLength(0);
  });

  it('the progress cap is per attempt: a new attempt starts with a fresh count', () => {
    const { store, clock } = setup();
    const { id, ref } = running(store);
    for (let i = 0; i < MAX_PROGRESS_EVENTS + 5; i++) store.progress(ref, 'backend', `a1 ${i}`);
    clock.t += LEASE + 1;
    store.lost(store.expiredLeases()[0]!, 'lease expired');
    const attempt = store.assign(id, 'frontend', 'r', LEASE);
    expect(store.progress({ taskId: id, attempt }, 'frontend', 'a2 first')).toBe(true);
    expect(store.events(id).at(-1)).toMatchObject({ kind: 'progress', attempt: 2, message: 'a2 first' });
  });

  it('progress before start is accepted (the task is active)', () => {
    const { store } = setup();
    const { ref } = assigned(store);
    expect(store.progress(ref, 'backend', 'cloning')).toBe(true);
  });

  it('finish from the wrong agent or attempt is ignored and recorded as stale-ignored', () => {
    const { store } = setup();
    const { id, ref } = running(store);
    expect(store.finish(ref, 'frontend', ok())).toBeUndefined();
    expect(store.finish({ taskId: id, attempt: 2 }, 'backend', ok())).toBeUndefined();
    expect(store.get(id)).toMatchObject({ state: 'running', agentId: 'backend', attempt: 1 });
    expect(store.get(id)!.result).toBeUndefined();
    const stale = store.events(id).filter((e) => e.kind === 'stale-ignored');
    expect(stale).toHaveLength(2);
    expect(stale[0]).toMatchObject({ attempt: 1, agentId: 'frontend', message: 'ignored a succeeded result for attempt 1 (current attempt 1, running)' });
    expect(stale[1]).toMatchObject({ attempt: 2, agentId: 'backend' });
  });

  it('keeps at most MAX_STALE_EVENTS stale-ignored events per task; the last says the rest are not kept', () => {
    const { store } = setup();
    const { id, ref } = running(store);
    for (let i = 0; i < MAX_STALE_EVENTS + 50; i++) expect(store.finish({ taskId: id, attempt: 7 + i }, 'backend', ok())).toBeUndefined();
    const stale = store.events(id).filter((e) => e.kind === 'stale-ignored');
    expect(stale).toHaveLength(MAX_STALE_EVENTS);
    expect(stale.at(-1)!.message).toContain(`${MAX_STALE_EVENTS} stale results recorded, further ones are ignored without an event`);
    expect(stale.at(-2)!.message).not.toContain('further');
    // The task itself is untouched and still finishes.
    expect(store.finish(ref, 'backend', ok())).toMatchObject({ state: 'succeeded' });
  });

  it('a result for a stale attempt never completes the newer one', () => {
    const { store, clock } = setup();
    const first = running(store, 'backend');
    // the lease runs out; the task goes to another agent under attempt 2
    clock.t += LEASE + 1;
    const [expired] = store.expiredLeases();
    store.lost(expired!, 'lease expired');
    const second = store.assign(first.id, 'frontend', 'fallback', LEASE);
    expect(second).toBe(2);
    // the first agent comes back with its old result
    expect(store.finish(first.ref, 'backend', ok('late'))).toBeUndefined();
    expect(store.get(first.id)).toMatchObject({ state: 'assigned', agentId: 'frontend', attempt: 2 });
    expect(store.events(first.id).at(-1)).toMatchObject({
      kind: 'stale-ignored', attempt: 1, agentId: 'backend',
      message: 'ignored a succeeded result for attempt 1 (current attempt 2, assigned)',
    });
    // the current holder finishes it
    expect(store.finish({ taskId: first.id, attempt: 2 }, 'frontend', ok('on time'))?.state).toBe('succeeded');
    expect(store.get(first.id)!.result?.summary).toBe('on time');
  });

  it('even the same agent cannot finish an attempt it no longer holds', () => {
    const { store, clock } = setup();
    const first = running(store, 'backend');
    clock.t += LEASE + 1;
    store.lost(store.expiredLeases()[0]!, 'lease expired');
    store.assign(first.id, 'backend', 'again', LEASE);
    expect(store.finish(first.ref, 'backend', ok())).toBeUndefined();
    expect(store.get(first.id)).toMatchObject({ state: 'assigned', attempt: 2 });
  });

  it('a finished task ignores everything after, so it never completes twice', () => {
    const { store } = setup();
    const { id, ref } = running(store);
    expect(store.finish(ref, 'backend', ok('first'))?.state).toBe('succeeded');
    expect(store.finish(ref, 'backend', failure(true, 'second'))).toBeUndefined();
    expect(store.progress(ref, 'backend', 'late output')).toBe(false);
    expect(store.started(ref, 'backend')).toBe(false);
    expect(store.released(ref, 'backend', 'draining')).toBe(false);
    const task = store.get(id)!;
    expect(task.state).toBe('succeeded');
    expect(task.result?.summary).toBe('first');
    expect(kinds(store, id)).toEqual(['created', 'assigned', 'started', 'succeeded', 'stale-ignored']);
    expect(store.events(id).at(-1)!.message).toBe('ignored a failed result for attempt 1 (current attempt 1, succeeded)');
  });

  it('finish of an unknown task returns undefined and records nothing', () => {
    const { store } = setup();
    expect(store.finish({ taskId: 42, attempt: 1 }, 'backend', ok())).toBeUndefined();
    expect(store.events(42)).toEqual([]);
  });
});

describe('finish', () => {
  it('success is final, keeps the result and drops the lease', () => {
    const { store, clock } = setup();
    const { id, ref } = running(store);
    clock.t = T0 + 2_000;
    const task = store.finish(ref, 'backend', ok('opened PR #3'))!;
    expect(task).toMatchObject({ state: 'succeeded', agentId: 'backend', attempt: 1, updatedAt: iso(T0 + 2_000) });
    expect(task.result).toEqual(ok('opened PR #3'));
    expect(store.events(id).at(-1)).toMatchObject({ kind: 'succeeded', attempt: 1, agentId: 'backend', message: 'opened PR #3' });
    expect(store.activeOf('backend')).toEqual([]);
    clock.t = T0 + 10 * LEASE;
    expect(store.expiredLeases()).toEqual([]);
    expect(store.dispatchable(10)).toEqual([]);
  });

  it('a task may finish straight from assigned', () => {
    const { store } = setup();
    const { ref } = assigned(store);
    expect(store.finish(ref, 'backend', ok())?.state).toBe('succeeded');
  });

  it('a retryable failure requeues with exponential backoff until maxAttempts, then fails', () => {
    const { store, clock } = setup({ maxAttempts: 4, retryBackoffMs: 1_000 });
    const { id } = store.create(spec());
    const delays = [1_000, 2_000, 4_000];
    for (let i = 0; i < delays.length; i++) {
      const attempt = store.assign(id, 'backend', 'route', LEASE);
      expect(attempt).toBe(i + 1);
      const failedAt = clock.t;
      const task = store.finish({ taskId: id, attempt }, 'backend', failure(true, `boom ${attempt}`))!;
      expect(task).toMatchObject({ state: 'queued', agentId: null, attempt });
      expect(task.result?.summary).toBe(`boom ${attempt}`);
      expect(store.events(id).at(-1)).toMatchObject({
        kind: 'retry-scheduled', attempt, agentId: 'backend',
        message: `attempt ${attempt} of 4 failed (boom ${attempt}); retrying in ${delays[i]! / 1000} s`,
      });
      // not dispatchable before the backoff has passed…
      expect(store.dispatchable(10)).toEqual([]);
      clock.t = failedAt + delays[i]! - 1;
      expect(store.dispatchable(10)).toEqual([]);
      // …and dispatchable from then on
      clock.t = failedAt + delays[i]!;
      const rows = store.dispatchable(10);
      expect(rows.map((r) => r.id)).toEqual([id]);
      expect(rows[0]!.not_before).toBe(failedAt + delays[i]!);
      clock.t += 10;
    }
    // the fourth and last attempt fails for good
    const last = store.assign(id, 'backend', 'route', LEASE);
    expect(last).toBe(4);
    const task = store.finish({ taskId: id, attempt: last }, 'backend', failure(true, 'boom 4'))!;
    expect(task.state).toBe('failed');
    expect(store.events(id).at(-1)).toMatchObject({ kind: 'failed', attempt: 4, message: 'boom 4 (attempt 4 of 4 failed, no attempts left)' });
    clock.t += 1e9;
    expect(store.dispatchable(10)).toEqual([]);
  });

  it('other queued tasks stay dispatchable while one waits out its backoff', () => {
    const { store, clock } = setup();
    const a = running(store);
    const b = store.create(spec({ title: 'other' }));
    store.finish(a.ref, 'backend', failure(true));
    expect(store.dispatchable(10).map((r) => r.id)).toEqual([b.id]);
    clock.t += 1_000;
    expect(store.dispatchable(10).map((r) => r.id)).toEqual([a.id, b.id]);
  });

  it('a non-retryable failure fails at once, whatever attempts remain', () => {
    const { store } = setup({ maxAttempts: 5, retryBackoffMs: 1_000 });
    const { id, ref } = running(store);
    const task = store.finish(ref, 'backend', failure(false, 'claude: 401'))!;
    expect(task).toMatchObject({ state: 'failed', attempt: 1, maxAttempts: 5 });
    expect(task.result).toEqual(failure(false, 'claude: 401'));
    expect(store.events(id).at(-1)).toMatchObject({ kind: 'failed', message: 'claude: 401 (not retryable)' });
    expect(store.activeOf('backend')).toEqual([]);
  });

  it('maxAttempts 1 means a retryable failure is final', () => {
    const { store } = setup({ maxAttempts: 1, retryBackoffMs: 1_000 });
    const { ref } = running(store);
    expect(store.finish(ref, 'backend', failure(true))?.state).toBe('failed');
  });
});

describe('released (handed back while draining)', () => {
  it('requeues without consuming an attempt', () => {
    const { store } = setup();
    const { id, ref } = running(store);
    expect(store.released(ref, 'backend', 'draining')).toBe(true);
    expect(store.get(id)).toMatchObject({ state: 'queued', agentId: null, attempt: 1, maxAttempts: 4 });
    expect(store.events(id).at(-1)).toMatchObject({ kind: 'released', attempt: 1, agentId: 'backend', message: 'handed back by backend: draining' });
    expect(store.activeOf('backend')).toEqual([]);
    expect(store.activeCounts()).toEqual(new Map());
  });

  it('is offered again only after RELEASE_DELAY_MS', () => {
    const { store, clock } = setup();
    const { id, ref } = running(store);
    clock.t = T0 + 500;
    store.released(ref, 'backend', 'draining');
    expect(store.dispatchable(10)).toEqual([]);
    clock.t = T0 + 500 + RELEASE_DELAY_MS - 1;
    expect(store.dispatchable(10)).toEqual([]);
    clock.t = T0 + 500 + RELEASE_DELAY_MS;
    expect(store.dispatchable(10).map((r) => r.id)).toEqual([id]);
  });

  it('leaves the full budget of real attempts', () => {
    const { store } = setup({ maxAttempts: 2, retryBackoffMs: 0 });
    const { id, ref } = running(store);
    store.released(ref, 'backend', 'draining');
    const a2 = store.assign(id, 'frontend', 'r', LEASE);
    expect(store.finish({ taskId: id, attempt: a2 }, 'frontend', failure(true))?.state).toBe('queued');
    const a3 = store.assign(id, 'frontend', 'r', LEASE);
    expect(a3).toBe(3);
    expect(store.finish({ taskId: id, attempt: a3 }, 'frontend', failure(true))?.state).toBe('failed');
  });

  it('is fenced', () => {
    const { store } = setup();
    const { id, ref } = running(store);
    expect(store.released(ref, 'frontend', 'draining')).toBe(false);
    expect(store.released({ taskId: id, attempt: 2 }, 'backend', 'draining')).toBe(false);
    expect(store.get(id)).toMatchObject({ state: 'running', maxAttempts: 3 });
  });
});

describe('leases', () => {
  it('expire strictly after leaseMs without renewal', () => {
    const { store, clock } = setup();
    const { id } = running(store);
    clock.t = T0 + LEASE;
    expect(store.expiredLeases()).toEqual([]);
    clock.t = T0 + LEASE + 1;
    expect(store.expiredLeases().map((r) => r.id)).toEqual([id]);
  });

  it('renewLeases extends only that agent\'s active tasks', () => {
    const { store, clock } = setup();
    const a = running(store, 'backend');
    const b = assigned(store, 'backend');
    const c = running(store, 'frontend');
    clock.t = T0 + 4_000;
    store.renewLeases('backend', LEASE);
    expect(store.activeOf('backend').map((r) => r.lease_expires_at)).toEqual([T0 + 4_000 + LEASE, T0 + 4_000 + LEASE]);
    clock.t = T0 + LEASE + 1;
    expect(store.expiredLeases().map((r) => r.id)).toEqual([c.id]);
    clock.t = T0 + 4_000 + LEASE + 1;
    expect(store.expiredLeases().map((r) => r.id).sort()).toEqual([a.id, b.id, c.id].sort());
  });

  it('renewLeases does not touch finished or queued tasks', () => {
    const { store, clock } = setup();
    const done = running(store);
    store.finish(done.ref, 'backend', ok());
    store.create(spec());
    store.renewLeases('backend', LEASE);
    clock.t = T0 + 100 * LEASE;
    expect(store.expiredLeases()).toEqual([]);
    expect(store.activeOf('backend')).toEqual([]);
  });

  it('renewAllLeases gives every holder a full lease', () => {
    const { store, clock } = setup();
    running(store, 'backend');
    running(store, 'frontend');
    clock.t = T0 + 60_000;
    expect(store.expiredLeases()).toHaveLength(2);
    store.renewAllLeases(LEASE);
    expect(store.expiredLeases()).toEqual([]);
    clock.t = T0 + 60_000 + LEASE + 1;
    expect(store.expiredLeases()).toHaveLength(2);
  });
});

describe('lost', () => {
  it('requeues the task at once when attempts remain', () => {
    const { store, clock } = setup();
    const { id } = running(store);
    clock.t = T0 + LEASE + 1;
    const [row] = store.expiredLeases();
    const task = store.lost(row!, 'lease expired');
    expect(task).toMatchObject({ state: 'queued', agentId: null, attempt: 1 });
    expect(store.events(id).at(-1)).toMatchObject({ kind: 'requeued', attempt: 1, agentId: 'backend', message: 'lease expired; queued again' });
    expect(store.dispatchable(10).map((r) => r.id)).toEqual([id]);
    expect(store.expiredLeases()).toEqual([]);
  });

  it('fails the task on its last attempt', () => {
    const { store, clock } = setup({ maxAttempts: 2, retryBackoffMs: 0 });
    const { id } = store.create(spec());
    for (let attempt = 1; attempt <= 2; attempt++) {
      store.assign(id, 'backend', 'r', LEASE);
      clock.t += LEASE + 1;
      store.lost(store.expiredLeases()[0]!, 'lease expired');
    }
    const task = store.get(id)!;
    expect(task).toMatchObject({ state: 'failed', attempt: 2 });
    expect(task.result).toEqual({ outcome: 'failed', summary: 'lease expired on the last attempt', retryable: false, exitCode: null, durationMs: 0 });
    expect(store.events(id).at(-1)).toMatchObject({ kind: 'failed', attempt: 2, agentId: 'backend', message: 'lease expired on the last attempt' });
    expect(store.dispatchable(10)).toEqual([]);
  });

  it('is a no-op for a row whose attempt has moved on', () => {
    const { store, clock } = setup();
    const { id } = running(store);
    clock.t = T0 + LEASE + 1;
    const [old] = store.expiredLeases();
    store.lost(old!, 'lease expired');
    store.assign(id, 'frontend', 'r', LEASE);
    const before = store.events(id).length;
    const task = store.lost(old!, 'lease expired (again)');
    expect(task).toMatchObject({ state: 'assigned', agentId: 'frontend', attempt: 2 });
    expect(store.events(id)).toHaveLength(before);
  });

  it('is a no-op for a task that finished meanwhile', () => {
    const { store, clock } = setup();
    const { id, ref } = running(store);
    clock.t = T0 + LEASE + 1;
    const [row] = store.expiredLeases();
    store.finish(ref, 'backend', ok());
    expect(store.lost(row!, 'lease expired').state).toBe('succeeded');
    expect(kinds(store, id).at(-1)).toBe('succeeded');
  });
});

describe('cancel', () => {
  it('from queued: final, nobody to notify', () => {
    const { store } = setup();
    const { id } = store.create(spec());
    const { task, revoked } = store.cancel(id, 'operator');
    expect(revoked).toBeNull();
    expect(task.state).toBe('cancelled');
    expect(store.events(id).at(-1)).toMatchObject({ kind: 'cancelled', attempt: 0, agentId: null, message: 'cancelled by operator' });
    expect(store.dispatchable(10)).toEqual([]);
  });

  it('from assigned: tells whom to notify', () => {
    const { store } = setup();
    const { id } = assigned(store, 'devops');
    const { task, revoked } = store.cancel(id, 'operator');
    expect(revoked).toEqual({ agentId: 'devops', taskId: id, attempt: 1 });
    expect(task.state).toBe('cancelled');
  });

  it('from running: tells whom to notify, drops the lease, and fences the agent out', () => {
    const { store, clock } = setup();
    const { id, ref } = running(store, 'testing');
    const { revoked } = store.cancel(id, 'admin');
    expect(revoked).toEqual({ agentId: 'testing', taskId: id, attempt: 1 });
    expect(store.events(id).at(-1)).toMatchObject({ kind: 'cancelled', attempt: 1, agentId: 'testing', message: 'cancelled by admin' });
    expect(store.activeCounts().get('testing')).toBeUndefined();
    clock.t += 100 * LEASE;
    expect(store.expiredLeases()).toEqual([]);
    expect(store.finish(ref, 'testing', ok())).toBeUndefined();
    expect(store.get(id)!.state).toBe('cancelled');
  });

  it('from succeeded is an illegal transition (409)', () => {
    const { store } = setup();
    const { id, ref } = running(store);
    store.finish(ref, 'backend', ok());
    let err: unknown;
    try { store.cancel(id, 'operator'); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(IllegalTransition);
    expect(err).toBeInstanceOf(CccError);
    expect((err as CccError).code).toBe('illegal_transition');
    expect((err as CccError).message).toBe(`task ${id} is succeeded; it cannot become cancelled (succeeded is final)`);
    expect(store.get(id)!.state).toBe('succeeded');
  });

  it('from cancelled is an illegal transition that says what is allowed', () => {
    const { store } = setup();
    const { id } = store.create(spec());
    store.cancel(id, 'operator');
    const before = store.events(id).length;
    expect(() => store.cancel(id, 'operator')).toThrow(`task ${id} is cancelled; it cannot become cancelled (from cancelled it may become queued)`);
    expect(store.events(id)).toHaveLength(before);
  });
});

describe('retry (operator)', () => {
  it('from failed: queued again with a fresh budget and no old result', () => {
    const { store, clock } = setup({ maxAttempts: 2, retryBackoffMs: 1_000 });
    const { id } = store.create(spec());
    for (let a = 1; a <= 2; a++) {
      store.assign(id, 'backend', 'r', LEASE);
      store.finish({ taskId: id, attempt: a }, 'backend', failure(true));
      clock.t += 10_000;
    }
    expect(store.get(id)).toMatchObject({ state: 'failed', attempt: 2, maxAttempts: 2 });
    const task = store.retry(id, 'operator');
    expect(task).toMatchObject({ state: 'queued', agentId: null, attempt: 2, maxAttempts: 4 });
    expect(task.result).toBeUndefined();
    expect(store.events(id).at(-1)).toMatchObject({ kind: 'retried', attempt: 2, agentId: null, message: 'retried by operator' });
    expect(store.dispatchable(10).map((r) => r.id)).toEqual([id]);
    // two more real attempts
    expect(store.assign(id, 'backend', 'r', LEASE)).toBe(3);
    expect(store.finish({ taskId: id, attempt: 3 }, 'backend', failure(true))?.state).toBe('queued');
    clock.t += 10_000;
    expect(store.assign(id, 'backend', 'r', LEASE)).toBe(4);
    expect(store.finish({ taskId: id, attempt: 4 }, 'backend', failure(true))?.state).toBe('failed');
  });

  it('from cancelled: queued again; the agent that ran it stays fenced out', () => {
    const { store } = setup();
    const { id, ref } = running(store);
    store.cancel(id, 'operator');
    const task = store.retry(id, 'operator');
    expect(task).toMatchObject({ state: 'queued', agentId: null, attempt: 1, maxAttempts: 4 });
    expect(store.finish(ref, 'backend', ok())).toBeUndefined();
    expect(store.assign(id, 'backend', 'r', LEASE)).toBe(2);
  });

  it('of a queued task is illegal', () => {
    const { store } = setup();
    const { id } = store.create(spec());
    expect(() => store.retry(id, 'operator')).toThrow(IllegalTransition);
    expect(store.get(id)).toMatchObject({ state: 'queued', maxAttempts: 3 });
  });

  it('of a succeeded task is illegal', () => {
    const { store } = setup();
    const { id, ref } = running(store);
    store.finish(ref, 'backend', ok());
    expect(() => store.retry(id, 'operator')).toThrow(/succeeded is final/);
  });

  // The API (POST /tasks/:id/retry) calls store.retry() directly. A running task
  // put back in the queue would be dispatched again while its first agent, never
  // told, keeps running it: two agents working on the same issue and branch.
  it('of an assigned or running task is illegal (it would run twice)', () => {
    const { store } = setup();
    const a = assigned(store, 'backend');
    const r = running(store, 'frontend');
    expect(() => store.retry(a.id, 'operator')).toThrow(IllegalTransition);
    expect(() => store.retry(r.id, 'operator')).toThrow(IllegalTransition);
    expect(store.get(a.id)).toMatchObject({ state: 'assigned', agentId: 'backend' });
    expect(store.get(r.id)).toMatchObject({ state: 'running', agentId: 'frontend' });
  });
});

describe('unknown tasks', () => {
  it('get is undefined and events empty', () => {
    const { store } = setup();
    expect(store.get(999)).toBeUndefined();
    expect(store.events(999)).toEqual([]);
  });

  it.each(['cancel', 'retry', 'assign'] as const)('%s throws TaskNotFound (not_found)', (op) => {
    const { store } = setup();
    let err: unknown;
    try {
      if (op === 'assign') store.assign(999, 'backend', 'r', LEASE);
      else store[op](999, 'operator');
    } catch (e) { err = e; }
    expect(err).toBeInstanceOf(TaskNotFound);
    expect(err).toBeInstanceOf(CccError);
    expect((err as TaskNotFound).code).toBe('not_found');
    expect((err as TaskNotFound).taskId).toBe(999);
    expect((err as Error).message).toContain('task 999 does not exist');
  });
});

describe('store errors over HTTP', () => {
  /** What the API's error handler answers for `err`. */
  function answer(err: unknown): { status: number; body: any } {
    const out = { status: 0, body: undefined as any };
    const res = { status(code: number) { out.status = code; return res; }, json(body: unknown) { out.body = body; return res; } };
    errorHandler(memoryLogger().log)(err, {} as any, res as any, () => {});
    return out;
  }

  it('IllegalTransition is a 409 and TaskNotFound a 404, with code and message', () => {
    const { store } = setup();
    const { id } = store.create(spec());
    let illegal: unknown;
    try { store.retry(id, 'operator'); } catch (e) { illegal = e; }
    expect(answer(illegal)).toEqual({ status: 409, body: { error: { code: 'illegal_transition', message: `task ${id} is queued; it cannot become queued (from queued it may become assigned, cancelled)` } } });
    let missing: unknown;
    try { store.cancel(404, 'operator'); } catch (e) { missing = e; }
    expect(answer(missing)).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
  });
});

describe('queries', () => {
  it('activeCounts counts assigned and running tasks per agent', () => {
    const { store } = setup();
    expect(store.activeCounts()).toEqual(new Map());
    running(store, 'backend');
    assigned(store, 'backend');
    assigned(store, 'frontend');
    const done = running(store, 'testing');
    store.finish(done.ref, 'testing', ok());
    const cancelled = assigned(store, 'devops');
    store.cancel(cancelled.id, 'operator');
    store.create(spec());
    expect(store.activeCounts()).toEqual(new Map([['backend', 2], ['frontend', 1]]));
  });

  it('list filters by state and agent, newest first, with a limit', () => {
    const { store } = setup();
    const q = store.create(spec({ title: 'queued' }));
    const b1 = running(store, 'backend');
    const b2 = assigned(store, 'backend');
    const f1 = running(store, 'frontend');
    store.finish(f1.ref, 'frontend', ok());
    const ids = (tasks: Array<{ id: number }>) => tasks.map((t) => t.id);
    expect(ids(store.list({}))).toEqual([f1.id, b2.id, b1.id, q.id]);
    expect(ids(store.list({ state: 'queued' }))).toEqual([q.id]);
    expect(ids(store.list({ state: 'running' }))).toEqual([b1.id]);
    expect(ids(store.list({ state: 'succeeded' }))).toEqual([f1.id]);
    expect(ids(store.list({ agent: 'backend' }))).toEqual([b2.id, b1.id]);
    expect(ids(store.list({ agent: 'backend', state: 'assigned' }))).toEqual([b2.id]);
    expect(ids(store.list({ agent: 'frontend', state: 'assigned' }))).toEqual([]);
    expect(ids(store.list({ limit: 2 }))).toEqual([f1.id, b2.id]);
    expect(store.list({ state: 'failed' })).toEqual([]);
  });

  it('inTransaction rolls everything back when the function throws', () => {
    const { store } = setup();
    expect(() => store.inTransaction(() => {
      const t = store.create(spec());
      store.assign(t.id, 'backend', 'r', LEASE);
      throw new Error('abort');
    })).toThrow('abort');
    expect(store.list({})).toEqual([]);
    expect(store.activeCounts()).toEqual(new Map());
  });
});

describe('durability', () => {
  it('tasks, attempts, leases and events survive closing and reopening the file', () => {
    const { file, db, store, clock } = setup();
    const done = running(store, 'backend');
    store.progress(done.ref, 'backend', 'halfway');
    store.finish(done.ref, 'backend', ok('merged'));
    const live = running(store, 'frontend');
    const waiting = store.create(spec({ labels: ['x', 'y'], repo: null }));
    const snapshot = [store.get(done.id), store.get(live.id), store.get(waiting.id)];
    const events = store.events(done.id);
    db.close();

    const reopened = new TaskStore(open(file), POLICY, () => clock.t);
    expect([reopened.get(done.id), reopened.get(live.id), reopened.get(waiting.id)]).toEqual(snapshot);
    expect(reopened.events(done.id)).toEqual(events);
    expect(reopened.activeCounts()).toEqual(new Map([['frontend', 1]]));
    expect(reopened.dispatchable(10).map((r) => r.id)).toEqual([waiting.id]);
    // the fencing state survived too: the holder can finish, nobody else can
    expect(reopened.finish(live.ref, 'backend', ok())).toBeUndefined();
    expect(reopened.finish(live.ref, 'frontend', ok())?.state).toBe('succeeded');
    // new ids keep growing
    expect(reopened.create(spec()).id).toBeGreaterThan(waiting.id);
  });
});

describe('migrations', () => {
  it('a fresh file gets the schema and PRAGMA user_version = migrations.length', () => {
    const file = join(tempDir(), 'nested', 'dir', 'db.sqlite');
    const db = open(file);
    expect(migrations.length).toBeGreaterThanOrEqual(1);
    expect(db.pragma('user_version', { simple: true })).toBe(migrations.length);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(db.pragma('synchronous', { simple: true })).toBe(2); // FULL: an acknowledged task survives power loss
    expect(db.pragma('busy_timeout', { simple: true })).toBeGreaterThan(0);
    const tables = db.prepare<[], { name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((r) => r.name);
    expect(tables).toEqual(expect.arrayContaining(['agents', 'task_events', 'tasks']));
  });

  it('reopening an up-to-date file changes nothing', () => {
    const file = join(tempDir(), 'db.sqlite');
    const db = open(file);
    new TaskStore(db, POLICY).create(spec());
    db.close();
    const again = open(file);
    expect(again.pragma('user_version', { simple: true })).toBe(migrations.length);
    expect(new TaskStore(again, POLICY).list({})).toHaveLength(1);
    // migrate() on a current database is a no-op
    migrate(again);
    expect(again.pragma('user_version', { simple: true })).toBe(migrations.length);
  });

  it('the schema enforces the task states', () => {
    const { db, store } = setup();
    const { id } = store.create(spec());
    expect(() => db.prepare("UPDATE tasks SET state = 'paused' WHERE id = ?").run(id)).toThrow(/CHECK constraint/);
  });

  function newerDb(): string {
    const file = join(tempDir(), 'db.sqlite');
    const raw = new Database(file);
    raw.pragma(`user_version = ${migrations.length + 1}`);
    raw.close();
    return file;
  }

  it('a database from a newer version is refused with a clear message', () => {
    const file = newerDb();
    expect(() => openDb(file)).toThrow(`${file}: database schema version ${migrations.length + 1} is newer than this coordinator knows (${migrations.length}): upgrade ccc`);
    // and it is left as it was
    const raw = new Database(file, { readonly: true });
    try {
      expect(raw.pragma('user_version', { simple: true })).toBe(migrations.length + 1);
      expect(raw.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'tasks'").get()).toEqual({ n: 0 });
    } finally {
      raw.close();
    }
  });

  // A user can fix this (use the newer ccc, or move the file away), so it should be a
  // CccError naming the file, which the CLI prints as one line; a plain Error is
  // reported by `ccc` as "unexpected error (a bug; please report it)" with a stack.
  it('the refusal is a CccError that names the database file', () => {
    const file = newerDb();
    let err: unknown;
    try { openDb(file); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CccError);
    expect((err as Error).message).toContain(file);
  });
});

describe('change notifications', () => {
  it('announces each changed task once, after its transaction commits, and nothing on rollback', () => {
    const { store } = setup();
    const seen: Array<[number, string]> = [];
    store.onChange((t) => seen.push([t.id, t.state]));
    const t = store.create(spec());
    expect(seen).toEqual([[t.id, 'queued']]);
    store.inTransaction(() => {
      store.assign(t.id, 'backend', 'r', 1000);
      store.started({ taskId: t.id, attempt: 1 }, 'backend');
      expect(seen).toHaveLength(1); // not yet committed
    });
    expect(seen).toEqual([[t.id, 'queued'], [t.id, 'running']]);
    expect(() => store.inTransaction(() => {
      store.cancel(t.id, 'op');
      throw new Error('roll back');
    })).toThrow('roll back');
    expect(store.get(t.id)!.state).toBe('running');
    expect(seen).toHaveLength(2);
    store.progress({ taskId: t.id, attempt: 1 }, 'backend', 'no state change');
    expect(seen).toHaveLength(2);
  });

  it('a savepoint that throws is rolled back and announces nothing; the rest of its transaction is announced once', () => {
    const { store } = setup();
    const changed: number[] = [];
    const events: string[] = [];
    store.onChange((t) => changed.push(t.id));
    store.onEvent((e) => events.push(`${e.taskId}:${e.kind}`));
    store.inTransaction(() => {
      store.create(spec({ title: 'kept' }));
      expect(() => store.inTransaction(() => {
        store.create(spec({ title: 'rolled back' }));
        throw new Error('this piece fails');
      })).toThrow('this piece fails');
    });
    expect(store.list({}).map((t) => t.title)).toEqual(['kept']);
    expect(changed).toEqual([1]);
    expect(events).toEqual(['1:created']);
  });
});
