/** One row per GitHub delivery (X-GitHub-Delivery), so a replay is recognised even after a restart. */
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';

export interface Delivery {
  id: string;
  event: string;
  action: string | null;
  /** What was done: pong, task-created, task-exists, task-cancelled, ignored: <reason>. */
  outcome: string;
  taskId: number | null;
}

interface DeliveryRow {
  id: string;
  event: string;
  action: string | null;
  outcome: string;
  task_id: number | null;
}

export class WebhookDeliveries {
  private readonly byId: Statement<[string], DeliveryRow>;
  private readonly insert: Statement;

  constructor(db: Db, private readonly now: () => number = Date.now) {
    this.byId = db.prepare<[string], DeliveryRow>('SELECT id, event, action, outcome, task_id FROM webhook_deliveries WHERE id = ?');
    this.insert = db.prepare('INSERT INTO webhook_deliveries (id, event, action, outcome, task_id, received_at) VALUES (@id, @event, @action, @outcome, @taskId, @receivedAt)');
  }

  get(id: string): Delivery | undefined {
    const row = this.byId.get(id);
    return row && { id: row.id, event: row.event, action: row.action, outcome: row.outcome, taskId: row.task_id };
  }

  /** Call inside the transaction that does the delivery's work, so both commit or neither. */
  record(delivery: Delivery): void {
    this.insert.run({ ...delivery, receivedAt: this.now() });
  }
}
