/**
 * The task store's ground floor: rows and their history in SQLite, one
 * transaction per change, and what changed announced to listeners once it
 * committed (events first, then each changed task once; a step's plan too).
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';
import { taskStatements, type TaskStatements } from './task-statements.js';
import { TaskNotFound, type StorePolicy, type TaskEventOf } from './task-store-types.js';
import { stepViews, parsePlanSteps } from './plans/plan-steps.js';
import { ACTIVE_STATES, IllegalTransition, canTransition, toTask, type Task, type TaskEvent, type TaskRow, type TaskState } from './task-model.js';

export class TaskRecords {
  protected readonly stmt: TaskStatements;
  protected readonly updates = new Map<string, Statement>();
  protected readonly progressCounts = new Map<string, number>();
  protected readonly listeners: Array<(task: Task) => void> = [];
  /** Tasks changed and events added in the transaction under way, announced once it commits. */
  protected readonly changed = new Set<number>();
  protected readonly newEvents: TaskEventOf[] = [];
  protected readonly eventListeners: Array<(event: TaskEventOf) => void> = [];

  constructor(
    protected readonly db: Db,
    protected readonly policy: StorePolicy,
    protected readonly now: () => number = Date.now,
  ) {
    this.stmt = taskStatements(db);
  }

  /** Runs `fn` in one transaction (nested calls become savepoints). */
  inTransaction<T>(fn: () => T): T {
    return this.tx(fn);
  }

  /** Calls `listener` with each event added to any task's history (progress included), once committed. */
  onEvent(listener: (event: TaskEventOf) => void): void {
    this.eventListeners.push(listener);
  }

  /** Calls `listener` with each task whose state changed, after the change is committed. */
  onChange(listener: (task: Task) => void): void {
    this.listeners.push(listener);
  }

  protected tx<T>(fn: () => T): T {
    let value: T;
    // What was noted before this (save)point: a rolled-back savepoint's changes and events are never announced.
    const eventsBefore = this.newEvents.length;
    const changedBefore = new Set(this.changed);
    try {
      value = this.db.transaction(fn)();
    } catch (err) {
      this.newEvents.length = eventsBefore;
      for (const id of [...this.changed]) if (!changedBefore.has(id)) this.changed.delete(id);
      throw err;
    }
    if (!this.db.inTransaction) this.flush();
    return value;
  }

  get(id: number): Task | undefined {
    const row = this.row(id);
    return row && this.shaped(row);
  }

  /** The task as the API shows it: a plan with its steps' states. */
  protected shaped(row: TaskRow): Task {
    const task = toTask(row);
    if (row.kind === 'plan') task.steps = stepViews(row, this.stmt.stepsOf.all(row.id));
    if (row.kind === 'planner' && row.plan_steps) task.proposal = parsePlanSteps(row.plan_steps);
    return task;
  }

  /** Records something that happened to a task outside its state machine (e.g. a publishing failure). */
  note(id: number, kind: string, message: string, announce = false): void {
    this.tx(() => {
      if (announce) this.changed.add(id); // watchers show it (e.g. an approved proposal)
      this.addEvent(id, kind, this.row(id)?.attempt ?? 0, null, message);
    });
  }

  events(id: number): TaskEvent[] {
    return this.stmt.events.all(id).map((e) => ({
      id: e.id, at: new Date(e.at).toISOString(), kind: e.kind, attempt: e.attempt, agentId: e.agent_id, message: e.message,
    }));
  }

  list(filter: { state?: TaskState; agent?: string; limit?: number }): Task[] {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (filter.state) { where.push('state = ?'); args.push(filter.state); }
    if (filter.agent) { where.push('agent_id = ?'); args.push(filter.agent); }
    const sql = `SELECT * FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`;
    return this.db.prepare<Array<string | number>, TaskRow>(sql).all(...args, filter.limit ?? 500).map((row) => this.shaped(row));
  }

  /** The stored row (plans read their step list from it). */
  rowOf(id: number): TaskRow | undefined {
    return this.row(id);
  }

  protected row(id: number): TaskRow | undefined {
    return this.stmt.get.get(id);
  }

  protected mustMove(id: number, to: TaskState): TaskRow {
    const row = this.row(id);
    if (!row) throw new TaskNotFound(id);
    if (!canTransition(row.state, to)) throw new IllegalTransition(id, row.state, to);
    return row;
  }

  protected update(id: number, fields: Partial<Pick<TaskRow, 'state' | 'agent_id' | 'lease_expires_at' | 'not_before' | 'result'>>): void {
    const keys = Object.keys(fields).sort().join(',');
    let statement = this.updates.get(keys);
    if (!statement) {
      const sets = keys.split(',').map((k) => `${k} = @${k}`).join(', ');
      statement = this.db.prepare(`UPDATE tasks SET ${sets}, updated_at = @updated_at WHERE id = @id`);
      this.updates.set(keys, statement);
    }
    statement.run({ ...fields, updated_at: this.now(), id });
    if (fields.state) this.changed.add(id);
    if (fields.state && !ACTIVE_STATES.includes(fields.state)) {
      for (const key of this.progressCounts.keys()) if (key.startsWith(`${id}:`)) this.progressCounts.delete(key);
    }
  }

  protected addEvent(taskId: number, kind: string, attempt: number, agentId: string | null, message: string): void {
    const at = this.now();
    const { lastInsertRowid } = this.stmt.event.run(taskId, at, kind, attempt, agentId, message);
    this.newEvents.push({ taskId, id: Number(lastInsertRowid), at: new Date(at).toISOString(), kind, attempt, agentId, message });
    if (!this.db.inTransaction) this.flush();
  }

  /** Announces what the finished transaction changed: events first, then each changed task once. */
  private flush(): void {
    const events = this.newEvents.splice(0);
    for (const event of events) for (const listener of this.eventListeners) listener(event);
    const ids = [...this.changed];
    this.changed.clear();
    // A step's change changes its plan's view (steps[]), so the plan is announced too, after the step.
    for (const id of [...ids]) {
      const planId = this.row(id)?.plan_id;
      if (planId && !ids.includes(planId)) ids.push(planId);
    }
    for (const id of ids) {
      const task = this.get(id);
      if (task) for (const listener of this.listeners) listener(task);
    }
  }
}
