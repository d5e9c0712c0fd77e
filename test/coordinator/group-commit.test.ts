/** Group commit: a batch of deliveries shares one transaction, each in a savepoint, each acknowledged only once committed. */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../daemons/coordinator/db.js';
import { GroupCommit } from '../../daemons/coordinator/group-commit.js';
import { TaskStore } from '../../daemons/coordinator/task-store.js';
import { WebhookDeliveries } from '../../daemons/coordinator/webhook-deliveries.js';
import { api, onCleanup, startTestCoordinator, tempDir, testEnv } from '../helpers.js';
import { SECRET, deliver, openedWith } from '../github-webhooks.js';

function setup() {
  const file = join(tempDir(), 'coordinator.sqlite');
  const db = openDb(file);
  const reader = new Database(file, { readonly: true });
  onCleanup(() => { reader.close(); db.close(); });
  const store = new TaskStore(db, { maxAttempts: 3, retryBackoffMs: 100 });
  const commits = new GroupCommit((fn) => store.inTransaction(fn));
  const deliveries = new WebhookDeliveries(db);
  /** What another connection sees: only what is committed. */
  const committedTasks = () => (reader.prepare('SELECT count(*) AS n FROM tasks').get() as { n: number }).n;
  const task = (title: string) => store.create({ title, body: '', labels: [], repo: null, specialty: 'general', specialtyReason: 'test' });
  return { db, store, commits, deliveries, committedTasks, task };
}

describe('GroupCommit', () => {
  it('acknowledges a delivery only after the commit that holds it', async () => {
    const { db, commits, deliveries, committedTasks, task } = setup();
    let settled = false;
    const seenInside: number[] = [];
    const done = commits.run(() => {
      const t = task('one');
      deliveries.record({ id: 'd1', event: 'issues', action: 'opened', outcome: 'task-created', taskId: t.id });
      seenInside.push(committedTasks());
      return t;
    }).then((t) => {
      settled = true;
      // When the caller hears of it, it is durable: another connection sees it, and no transaction is open.
      expect(db.inTransaction).toBe(false);
      expect(committedTasks()).toBe(1);
      return t;
    });
    await Promise.resolve();
    expect(settled).toBe(false); // queued for the end of the turn, not yet run or committed
    await done;
    expect(seenInside).toEqual([0]); // inside the transaction nothing was visible to others yet
    expect(deliveries.get('d1')?.outcome).toBe('task-created');
  });

  it('commits a batch in one transaction, and a delivery that throws fails alone', async () => {
    const { commits, deliveries, committedTasks, task } = setup();
    const record = (id: string, fail = false) => commits.run(() => {
      const t = task(id);
      deliveries.record({ id, event: 'issues', action: 'opened', outcome: 'task-created', taskId: t.id });
      if (fail) throw new Error(`bad delivery ${id}`);
      return t.id;
    });
    const results = await Promise.allSettled([record('a'), record('b', true), record('c')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toBe('bad delivery b');
    expect(commits.stats).toEqual({ batches: 1, pieces: 3 });
    expect(committedTasks()).toBe(2); // b's task and its delivery row were rolled back with its savepoint
    expect(deliveries.get('b')).toBeUndefined();
    expect(deliveries.get('a')).toBeDefined();
    expect(deliveries.get('c')).toBeDefined();
  });

  it('commits work handed in during a flush in a batch of its own, even past the batch size', async () => {
    const { store, committedTasks, task } = setup();
    const commits = new GroupCommit((fn) => store.inTransaction(fn), 2);
    const inner: Array<Promise<unknown>> = [];
    await commits.run(() => {
      // Two more pieces reach the batch size while this batch runs: they must wait for their own commit.
      inner.push(commits.run(() => task('inner 1')), commits.run(() => task('inner 2')));
      return task('outer');
    });
    expect(commits.stats).toEqual({ batches: 1, pieces: 1 });
    expect(committedTasks()).toBe(1);
    await Promise.all(inner);
    expect(commits.stats).toEqual({ batches: 2, pieces: 3 });
    expect(committedTasks()).toBe(3);
  });

  it('rejects every delivery of a batch whose commit fails', async () => {
    const { store, committedTasks, task } = setup();
    // A transaction function that throws after the work stands for a commit that fails (disk full).
    let outer = true;
    const broken = new GroupCommit((fn) => {
      if (!outer) return store.inTransaction(fn);
      outer = false;
      try { return store.inTransaction(() => { fn(); throw new Error('disk full'); }); } finally { outer = true; }
    });
    const results = await Promise.allSettled([broken.run(() => task('x')), broken.run(() => task('y'))]);
    expect(results.every((r) => r.status === 'rejected' && (r.reason as Error).message === 'disk full')).toBe(true);
    expect(committedTasks()).toBe(0);
  });
});

describe('POST /webhooks/github with group commit', () => {
  it('gives each of many concurrent deliveries its own task, and a replay (in the same batch or later) 200, not a second task', async () => {
    const c = await startTestCoordinator(testEnv(tempDir(), { CCC_WEBHOOK_SECRET: SECRET }));
    const payloads = Array.from({ length: 20 }, (_, i) => {
      const p = openedWith(['ccc']);
      p.issue.number = 1000 + i;
      return p;
    });
    // The first delivery is sent twice at once: both land in the same batch.
    const replayed = { delivery: 'replayed-in-batch-0001' };
    const replies = await Promise.all([
      ...payloads.map((p, i) => deliver(c.url, p, i === 0 ? replayed : {})),
      deliver(c.url, payloads[0], replayed),
    ]);
    const created = replies.filter((r) => r.status === 201);
    const duplicates = replies.filter((r) => r.status === 200);
    expect(created).toHaveLength(20);
    expect(duplicates).toHaveLength(1);
    expect(duplicates[0]!.body).toMatchObject({ duplicate: true, outcome: 'task-created' });
    const later = await deliver(c.url, payloads[0], replayed);
    expect(later.status).toBe(200);
    expect(later.body.duplicate).toBe(true);
    expect((await api(c.url, '/tasks')).body.tasks).toHaveLength(20);
  });
});
