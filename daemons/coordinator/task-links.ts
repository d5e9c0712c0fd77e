/**
 * What the task store knows beside each task's state machine: the plan a task
 * belongs to and its steps, the pull request, tracking comment and GitHub App
 * installation it is tied to, and the read-only views the scheduler, the
 * metrics and the API ask for.
 */
import type { PlanStep } from './plans/plan-steps.js';
import { TaskRecords } from './task-records.js';
import type { PullRequestRef, Task, TaskResult, TaskRow, TaskState } from './task-model.js';
import { TASK_STATES } from './task-model.js';

export class TaskLinks extends TaskRecords {
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
    return row && this.shaped(row);
  }

  /** The id of the issue's task created or retried last: the one its status label follows. */
  latestForIssue(repo: string, issueNumber: number): number | undefined {
    return this.stmt.latestOfIssue.get(repo, issueNumber)?.task_id;
  }

  /** The newest task whose work is on this pull request, if the cluster opened it. */
  forPullRequest(repo: string, number: number): Task | undefined {
    const row = this.stmt.byPull.get(repo, number);
    return row && this.shaped(row);
  }

  /** A retried task continues the branch its failed attempt pushed (work kept at a limit). */
  continueBranch(id: number, branch: string): void {
    this.db.prepare('UPDATE tasks SET branch = ? WHERE id = ?').run(branch, id);
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
}
