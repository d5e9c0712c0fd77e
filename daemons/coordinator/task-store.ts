/**
 * The durable task store: every state change is one SQLite transaction that
 * also appends to the task's event history. Messages from agents pass the
 * fencing check (same agent, same attempt, task still active) or are ignored.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';
import { taskStatements, type TaskStatements } from './task-statements.js';
import { MAX_PROGRESS_EVENTS, MAX_RETRY_BACKOFF_MS, MAX_STALE_EVENTS, RELEASE_DELAY_MS, TaskNotFound, type NewTask, type Revoked, type StorePolicy, type TaskEventOf } from './task-store-types.js';
import type { ContextComment, FollowUp, TaskRef } from '../shared/protocol.js';
import { parsePlanSteps, stepViews, type PlanStep } from './plans/plan-steps.js';
import {
  ACTIVE_STATES, IllegalTransition, TASK_STATES, canTransition, toTask,
  type PullRequestRef, type Task, type TaskEvent, type TaskResult, type TaskRow, type TaskState,
} from './task-model.js';

export * from './task-store-types.js';

export class TaskStore {
  private readonly stmt: TaskStatements;
  private readonly updates = new Map<string, Statement>();
  private readonly progressCounts = new Map<string, number>();
  private readonly listeners: Array<(task: Task) => void> = [];
  /** Tasks changed and events added in the transaction under way, announced once it commits. */
  private readonly changed = new Set<number>();
  private readonly newEvents: TaskEventOf[] = [];
  private readonly eventListeners: Array<(event: TaskEventOf) => void> = [];

  constructor(
    private readonly db: Db,
    private readonly policy: StorePolicy,
    private readonly now: () => number = Date.now,
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

  private tx<T>(fn: () => T): T {
    let value: T;
    try {
      value = this.db.transaction(fn)();
    } catch (err) {
      if (!this.db.inTransaction) {
        this.changed.clear();
        this.newEvents.length = 0;
      }
      throw err;
    }
    if (!this.db.inTransaction) this.flush();
    return value;
  }

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

  get(id: number): Task | undefined {
    const row = this.row(id);
    return row && this.shaped(row);
  }

  /** The task as the API shows it: a plan with its steps' states. */
  private shaped(row: TaskRow): Task {
    const task = toTask(row);
    if (row.kind === 'plan') task.steps = stepViews(row, this.stmt.stepsOf.all(row.id));
    if (row.kind === 'planner' && row.plan_steps) task.proposal = parsePlanSteps(row.plan_steps);
    return task;
  }

  /** A planner run's proposal (not a state change, but watchers want it). */
  setProposal(id: number, steps: readonly PlanStep[], message: string): void {
    this.tx(() => {
      this.db.prepare("UPDATE tasks SET plan_steps = ? WHERE id = ? AND kind = 'planner'").run(JSON.stringify(steps), id);
      this.changed.add(id);
      this.addEvent(id, 'plan-proposed', this.row(id)?.attempt ?? 0, null, message);
    });
  }

  /** The newest task of this kind made from the issue (e.g. its latest planner run). */
  latestOfKind(repo: string, issueNumber: number, kind: TaskRow['kind']): Task | undefined {
    const row = this.stmt.ofKind.get(repo, issueNumber, kind);
    return row && this.shaped(row);
  }

  /** Planner runs that succeeded but whose answer was not read yet (the coordinator stopped in between). */
  unreviewedPlanners(): number[] {
    return this.stmt.unreviewedPlanners.all().map((r) => r.id);
  }

  /** The task rows of a plan's steps that exist so far, in step order. */
  stepsOf(planId: number): TaskRow[] {
    return this.stmt.stepsOf.all(planId);
  }

  /** Plans not yet succeeded, failed or cancelled. */
  openPlans(): TaskRow[] {
    return this.stmt.openPlans.all();
  }

  /** A plan's own state follows its steps (plans.ts): no agent, no lease, no attempt of its own. */
  setPlanState(id: number, state: TaskState, event: { kind: string; message: string }, result?: TaskResult): void {
    this.tx(() => {
      const row = this.row(id);
      if (!row || row.kind !== 'plan' || row.state === state) return;
      this.update(id, result ? { state, result: JSON.stringify(result) } : { state });
      this.addEvent(id, event.kind, 0, null, event.message);
    });
  }

  /** Remembers the pull request opened for a task (not a state change). */
  setPullRequest(id: number, pr: PullRequestRef): void {
    this.db.prepare('UPDATE tasks SET pull_request = ?, pr_number = ? WHERE id = ?').run(JSON.stringify(pr), pr.number, id);
    this.changed.add(id); // not a state change, but watchers want the link
    this.addEvent(id, 'pull-request', this.row(id)?.attempt ?? 0, null, `pull request #${pr.number}: ${pr.url}`);
  }

  /** Remembers the GitHub App installation a task's delivery came from (not a state change). */
  setInstallation(id: number, installationId: number): void {
    this.db.prepare('UPDATE tasks SET installation_id = ? WHERE id = ? OR plan_id = ?').run(installationId, id, id);
  }

  /** The installation of the newest task of `repo` that came through the GitHub App, if any. */
  installationOf(repo: string): number | undefined {
    return this.db.prepare<[string], { installation_id: number }>(
      'SELECT installation_id FROM tasks WHERE repo = ? AND installation_id IS NOT NULL ORDER BY id DESC LIMIT 1').get(repo)?.installation_id;
  }

  trackingComment(id: number): number | null {
    return this.row(id)?.tracking_comment_id ?? null;
  }

  setTrackingComment(id: number, commentId: number): void {
    this.db.prepare('UPDATE tasks SET tracking_comment_id = ? WHERE id = ?').run(commentId, id);
  }

  /** The newest task made from this issue, if any. */
  forIssue(repo: string, issueNumber: number): Task | undefined {
    const row = this.stmt.byIssue.get(repo, issueNumber);
    return row && toTask(row);
  }

  /** The id of the issue's task created or retried last: the one its status label follows. */
  latestForIssue(repo: string, issueNumber: number): number | undefined {
    return this.stmt.latestOfIssue.get(repo, issueNumber)?.task_id;
  }

  /** The newest task whose work is on this pull request, if the cluster opened it. */
  forPullRequest(repo: string, number: number): Task | undefined {
    const row = this.stmt.byPull.get(repo, number);
    return row && toTask(row);
  }

  /** A retried task continues the branch its failed attempt pushed (work kept at a limit). */
  continueBranch(id: number, branch: string): void {
    this.db.prepare('UPDATE tasks SET branch = ? WHERE id = ?').run(branch, id);
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

  /** Queued tasks whose backoff has passed, oldest first. */
  dispatchable(limit: number): TaskRow[] {
    return this.stmt.dispatchable.all(this.now(), limit);
  }

  /** How many tasks are in each state (every state present, 0 when none). */
  countsByState(): Record<TaskState, number> {
    const counts = Object.fromEntries(TASK_STATES.map((s) => [s, 0])) as Record<TaskState, number>;
    // Kept by triggers (migration 3): six rows, whatever the history.
    for (const r of this.db.prepare<[], { state: TaskState; n: number }>('SELECT state, n FROM task_state_counts').all()) counts[r.state] = r.n;
    return counts;
  }

  /** How many tasks each agent holds (assigned or running). */
  activeCounts(): Map<string, number> {
    return new Map(this.stmt.activeByAgent.all().map((r) => [r.agent_id, r.n]));
  }

  activeOf(agentId: string): TaskRow[] {
    return this.stmt.activeOfAgent.all(agentId);
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

  /** Active tasks whose lease ran out. */
  expiredLeases(): TaskRow[] {
    return this.stmt.expired.all(this.now());
  }

  renewLeases(agentId: string, leaseMs: number): void {
    this.stmt.renew.run(this.now() + leaseMs, agentId);
  }

  /** After a coordinator restart every holder gets a full lease to reconnect. */
  renewAllLeases(leaseMs: number): void {
    this.stmt.renewAll.run(this.now() + leaseMs);
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

  /** The stored row (plans read their step list from it). */
  rowOf(id: number): TaskRow | undefined {
    return this.row(id);
  }

  private row(id: number): TaskRow | undefined {
    return this.stmt.get.get(id);
  }

  private mustMove(id: number, to: TaskState): TaskRow {
    const row = this.row(id);
    if (!row) throw new TaskNotFound(id);
    if (!canTransition(row.state, to)) throw new IllegalTransition(id, row.state, to);
    return row;
  }

  private update(id: number, fields: Partial<Pick<TaskRow, 'state' | 'agent_id' | 'lease_expires_at' | 'not_before' | 'result'>>): void {
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

  /** A `stale-ignored` event, at most MAX_STALE_EVENTS per task; the last one says the rest are not kept. */
  private staleIgnored(current: TaskRow, ref: TaskRef, agentId: string, message: string): void {
    const { n } = this.stmt.staleCount.get(current.id)!;
    if (n >= MAX_STALE_EVENTS) return;
    const last = n === MAX_STALE_EVENTS - 1 ? `; ${MAX_STALE_EVENTS} stale results recorded, further ones are ignored without an event` : '';
    this.addEvent(current.id, 'stale-ignored', ref.attempt, agentId, message + last);
  }

  private addEvent(taskId: number, kind: string, attempt: number, agentId: string | null, message: string): void {
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
