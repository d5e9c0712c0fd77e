/**
 * The durable task store: every state change is one SQLite transaction that
 * also appends to the task's event history. Messages from agents pass the
 * fencing check (same agent, same attempt, task still active) or are ignored.
 * Rows, transactions and announcements: task-records.ts; plans, forge links
 * and read-only views: task-links.ts.
 */
import { TaskLinks } from './task-links.js';
import { MAX_PROGRESS_EVENTS, MAX_RETRY_BACKOFF_MS, MAX_STALE_EVENTS, RELEASE_DELAY_MS, type NewTask, type Revoked } from './task-store-types.js';
import type { TaskRef } from '../shared/protocol.js';
import { ACTIVE_STATES, IllegalTransition, canTransition, toTask, type Task, type TaskResult, type TaskRow } from './task-model.js';

export * from './task-store-types.js';

export class TaskStore extends TaskLinks {
  create(spec: NewTask): Task {
    return this.tx(() => {
      const now = this.now();
      const { lastInsertRowid } = this.stmt.insert.run({
        ...spec,
        source: spec.source ?? 'api',
        issueNumber: spec.issueNumber ?? null,
        labels: JSON.stringify(spec.labels),
        branch: spec.branch ?? null,
        pullRequest: spec.pullRequest ? JSON.stringify(spec.pullRequest) : null,
        prNumber: spec.pullRequest?.number ?? null,
        previousTaskId: spec.previousTaskId ?? null,
        followUp: spec.followUp ? JSON.stringify(spec.followUp) : null,
        context: spec.context?.length ? JSON.stringify(spec.context) : null,
        kind: spec.kind ?? 'task',
        planId: spec.planId ?? null,
        stepIndex: spec.stepIndex ?? null,
        planSteps: spec.planSteps ? JSON.stringify(spec.planSteps) : null,
        routeReason: `${spec.specialtyReason}; waiting for an agent`,
        maxAttempts: this.policy.maxAttempts,
        now,
      });
      const id = Number(lastInsertRowid);
      this.changed.add(id);
      this.addEvent(id, 'created', 0, null, `accepted: ${spec.specialtyReason}`);
      return this.shaped(this.row(id)!);
    });
  }

  /** Says on each queued task why it waits (a change only when the reason is new, announced like a state change). */
  setWaitReason(rows: readonly TaskRow[], reasonOf: (row: TaskRow) => string): void {
    this.tx(() => {
      for (const row of rows) {
        const reason = reasonOf(row);
        if (row.state !== 'queued' || row.route_reason === reason) continue;
        this.db.prepare('UPDATE tasks SET route_reason = ? WHERE id = ? AND state = ?').run(reason, row.id, 'queued');
        this.changed.add(row.id);
        this.addEvent(row.id, 'waiting', row.attempt, null, reason);
      }
    });
  }

  /** queued → assigned to `agentId` under a new attempt number; returns that attempt. */
  assign(id: number, agentId: string, routeReason: string, leaseMs: number): number {
    return this.tx(() => {
      const row = this.mustMove(id, 'assigned');
      const attempt = row.attempt + 1;
      const now = this.now();
      this.db.prepare(`UPDATE tasks SET state = 'assigned', agent_id = ?, attempt = ?, route_reason = ?, lease_expires_at = ?, updated_at = ? WHERE id = ?`)
        .run(agentId, attempt, routeReason, now + leaseMs, now, id);
      this.changed.add(id);
      this.addEvent(id, 'assigned', attempt, agentId, routeReason);
      return attempt;
    });
  }

  /**
   * The row the message is about, if `agentId` still holds that attempt of an
   * active task; otherwise undefined, and the caller ignores the message.
   */
  fenced(ref: TaskRef, agentId: string): TaskRow | undefined {
    const row = this.row(ref.taskId);
    if (!row || row.agent_id !== agentId || row.attempt !== ref.attempt || !ACTIVE_STATES.includes(row.state)) return undefined;
    return row;
  }

  started(ref: TaskRef, agentId: string): boolean {
    return this.tx(() => {
      const row = this.fenced(ref, agentId);
      if (!row || row.state !== 'assigned') return false;
      this.update(row.id, { state: 'running' });
      this.addEvent(row.id, 'started', ref.attempt, agentId, `running on ${agentId}`);
      return true;
    });
  }

  progress(ref: TaskRef, agentId: string, text: string): boolean {
    const row = this.fenced(ref, agentId);
    if (!row) return false;
    const key = `${ref.taskId}:${ref.attempt}`;
    const count = (this.progressCounts.get(key) ?? 0) + 1;
    this.progressCounts.set(key, count);
    if (count <= MAX_PROGRESS_EVENTS) this.addEvent(row.id, 'progress', ref.attempt, agentId, text);
    else if (count === MAX_PROGRESS_EVENTS + 1) this.addEvent(row.id, 'progress-truncated', ref.attempt, agentId, `more than ${MAX_PROGRESS_EVENTS} progress lines; the rest are not kept`);
    return true;
  }

  /** Records an agent's result: done, failed for good, or queued again with backoff. */
  finish(ref: TaskRef, agentId: string, result: TaskResult): Task | undefined {
    return this.tx(() => {
      const row = this.fenced(ref, agentId);
      if (!row) {
        const current = this.row(ref.taskId);
        if (current) this.staleIgnored(current, ref, agentId, `ignored a ${result.outcome} result for attempt ${ref.attempt} (current attempt ${current.attempt}, ${current.state})`);
        return undefined;
      }
      const now = this.now();
      if (result.outcome === 'succeeded') {
        this.update(row.id, { state: 'succeeded', lease_expires_at: null, result: JSON.stringify(result) });
        this.addEvent(row.id, 'succeeded', ref.attempt, agentId, result.summary);
      } else if (result.retryable && row.attempt < row.max_attempts) {
        const delay = Math.min(MAX_RETRY_BACKOFF_MS, this.policy.retryBackoffMs * 2 ** Math.min(row.attempt - 1, 30));
        this.update(row.id, { state: 'queued', agent_id: null, lease_expires_at: null, not_before: now + delay, result: JSON.stringify(result) });
        this.addEvent(row.id, 'retry-scheduled', ref.attempt, agentId, `attempt ${row.attempt} of ${row.max_attempts} failed (${result.summary}); retrying in ${Math.round(delay / 1000)} s`);
      } else {
        const why = result.retryable ? `attempt ${row.attempt} of ${row.max_attempts} failed, no attempts left` : 'not retryable';
        this.update(row.id, { state: 'failed', lease_expires_at: null, result: JSON.stringify(result) });
        this.addEvent(row.id, 'failed', ref.attempt, agentId, `${result.summary} (${why})`);
      }
      return toTask(this.row(row.id)!);
    });
  }

  /** The agent handed the task back unfinished (it is draining): queued again, the attempt not counted. */
  released(ref: TaskRef, agentId: string, reason: string): boolean {
    return this.tx(() => {
      const row = this.fenced(ref, agentId);
      if (!row) return false;
      this.db.prepare('UPDATE tasks SET max_attempts = max_attempts + 1 WHERE id = ?').run(row.id);
      this.update(row.id, { state: 'queued', agent_id: null, lease_expires_at: null, not_before: this.now() + RELEASE_DELAY_MS });
      this.addEvent(row.id, 'released', ref.attempt, agentId, `handed back by ${agentId}: ${reason}`);
      return true;
    });
  }

  /** The agent lost the task (lease expired, or it reconnected without it): queued again if attempts remain. */
  lost(row: TaskRow, why: string): Task {
    return this.tx(() => {
      const current = this.row(row.id)!;
      if (current.attempt !== row.attempt || !ACTIVE_STATES.includes(current.state)) return toTask(current);
      if (current.attempt < current.max_attempts) {
        this.update(row.id, { state: 'queued', agent_id: null, lease_expires_at: null, not_before: 0 });
        this.addEvent(row.id, 'requeued', row.attempt, row.agent_id, `${why}; queued again`);
      } else {
        const result: TaskResult = { outcome: 'failed', summary: `${why} on the last attempt`, retryable: false, exitCode: null, durationMs: 0 };
        this.update(row.id, { state: 'failed', lease_expires_at: null, result: JSON.stringify(result) });
        this.addEvent(row.id, 'failed', row.attempt, row.agent_id, result.summary);
      }
      return toTask(this.row(row.id)!);
    });
  }

  /** Operator cancel: final at once; returns whom to tell if an agent was running it. */
  cancel(id: number, by: string): { task: Task; revoked: Revoked } {
    return this.tx(() => {
      const row = this.mustMove(id, 'cancelled');
      // Cancelling a plan cancels the step under way (its agent is told), and so the plan stops.
      const step = row.kind === 'plan' ? this.stepsOf(id).find((s) => canTransition(s.state, 'cancelled')) : undefined;
      const revoked: Revoked = step ? this.cancel(step.id, by).revoked
        : ACTIVE_STATES.includes(row.state) && row.agent_id ? { agentId: row.agent_id, taskId: id, attempt: row.attempt } : null;
      this.update(id, { state: 'cancelled', lease_expires_at: null });
      this.addEvent(id, 'cancelled', row.attempt, row.agent_id, `cancelled by ${by}`);
      return { task: this.get(id)!, revoked };
    });
  }

  /** Operator retry of a failed or cancelled task: queued again with a fresh budget of attempts. */
  retry(id: number, by: string): Task {
    return this.tx(() => {
      const row = this.mustMove(id, 'queued');
      if (row.state !== 'failed' && row.state !== 'cancelled') {
        throw new IllegalTransition(id, row.state, 'queued', 'only a failed or cancelled task can be retried');
      }
      // A plan goes on from the step that stopped it: that step runs again, the ones before it stay done.
      const stopped = row.kind === 'plan' ? this.stepsOf(id).find((s) => s.state === 'failed' || s.state === 'cancelled') : undefined;
      if (stopped) this.retry(stopped.id, by);
      else this.db.prepare('UPDATE tasks SET max_attempts = attempt + ? WHERE id = ?').run(this.policy.maxAttempts, id);
      this.update(id, { state: 'queued', agent_id: null, not_before: 0, result: null });
      this.addEvent(id, 'retried', row.attempt, null, stopped ? `retried by ${by}: from step ${stopped.step_index! + 1} (${stopped.specialty})` : `retried by ${by}`);
      return this.get(id)!;
    });
  }

  /** A `stale-ignored` event, at most MAX_STALE_EVENTS per task; the last one says the rest are not kept. */
  private staleIgnored(current: TaskRow, ref: TaskRef, agentId: string, message: string): void {
    const { n } = this.stmt.staleCount.get(current.id)!;
    if (n >= MAX_STALE_EVENTS) return;
    const last = n === MAX_STALE_EVENTS - 1 ? `; ${MAX_STALE_EVENTS} stale results recorded, further ones are ignored without an event` : '';
    this.addEvent(current.id, 'stale-ignored', ref.attempt, agentId, message + last);
  }
}
