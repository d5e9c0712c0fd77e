/**
 * Idempotency-Key for POST /api/v1/tasks: a client that retries a request (say after a coordinator
 * crash) gets the task its first request created, never a second one. The key is stored in the
 * task's own transaction, so a task exists exactly when its key does. Keys live a day.
 */
import { createHash } from 'node:crypto';
import type { Db } from './db.js';
import { HttpError } from './http-error.js';
import type { Task } from './task-model.js';
import type { TaskStore } from './task-store.js';

/** How long a key is remembered; a retry later than this creates a new task. */
export const IDEMPOTENCY_KEY_TTL_MS = 24 * 60 * 60 * 1000;
/** Printable ASCII, as the header allows; long enough for a UUID or a client's own scheme. */
const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

export class IdempotencyKeys {
  private readonly stmt;

  constructor(db: Db, private readonly now: () => number = Date.now) {
    this.stmt = {
      get: db.prepare<[string], { request_hash: string; task_id: number }>('SELECT request_hash, task_id FROM idempotency_keys WHERE key = ?'),
      put: db.prepare('INSERT INTO idempotency_keys (key, request_hash, task_id, created_at) VALUES (?, ?, ?, ?)'),
      expire: db.prepare('DELETE FROM idempotency_keys WHERE created_at < ?'),
    };
  }

  /**
   * The task of `key` if a request with the same body made one, else the task `create` makes now
   * (stored with the key in one transaction). A key reused with another body is refused with 422.
   */
  once(store: TaskStore, key: string, request: unknown, create: () => Task): { task: Task; created: boolean } {
    if (!KEY_PATTERN.test(key)) {
      throw new HttpError(400, 'invalid_request', 'Idempotency-Key must be 1 to 200 printable ASCII characters without spaces (a UUID is a good key)');
    }
    const hash = createHash('sha256').update(JSON.stringify(request)).digest('hex');
    return store.inTransaction(() => {
      const now = this.now();
      this.stmt.expire.run(now - IDEMPOTENCY_KEY_TTL_MS);
      const seen = this.stmt.get.get(key);
      if (seen) {
        if (seen.request_hash !== hash) {
          throw new HttpError(422, 'idempotency_key_reused',
            `Idempotency-Key "${key}" was already used for a different request (task ${seen.task_id}): send a new key for a new task, or the same body to get task ${seen.task_id} back`);
        }
        const task = store.get(seen.task_id);
        if (task) return { task, created: false };
      }
      const task = create();
      this.stmt.put.run(key, hash, task.id, now);
      return { task, created: true };
    });
  }
}
