/**
 * Keeps GitHub (or the local forge) in step with each task that came from an
 * issue or a pull request's conversation: one tracking comment edited as the
 * task moves, a ccc:* status label, and, when an agent pushed a branch, the
 * pull request (`Closes #N`) — an open one for the branch is reused, and work
 * kept at a limit opens a draft. Updates of one issue run in order, and the
 * issue's label follows its latest task. A failure to publish is logged and
 * still brings the comment and label to the task's final state, with the reason.
 */
import type { Logger } from '../shared/log.js';
import type { Forge, StatusLabel } from './forge.js';
import type { Task, TaskResult } from './task-model.js';
import type { TaskStore } from './task-store.js';
import { PUBLISH_FAILED, pullRequestBody, trackingComment } from './tracking-comment.js';

export { pullRequestBody } from './tracking-comment.js';

const FINAL = ['succeeded', 'failed', 'cancelled'];

export class Publisher {
  /** One chain of updates per issue (or per task without one), so an issue's label is never raced. */
  private readonly chains = new Map<string, Promise<void>>();
  /** The description each open plan's pull request has, so it is edited only when a step changed it. */
  private readonly pullBodies = new Map<number, string>();
  /** What each unfinished task's issue already shows, so an unchanged comment or label is not written again. */
  private readonly shown = new Map<number, { comment: string; label: StatusLabel | null }>();

  constructor(
    private readonly store: TaskStore,
    readonly forge: Forge,
    private readonly log: Logger,
  ) {
    store.onChange((task) => this.enqueue(task));
  }

  /** Resolves when every update queued so far has been sent. */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.all(this.chains.values());
  }

  private enqueue(task: Task): void {
    const taskId = task.id;
    const key = task.repo && task.issueNumber ? `${task.repo}#${task.issueNumber}` : `task ${taskId}`;
    const previous = this.chains.get(key) ?? Promise.resolve();
    const next = previous.then(() => this.publish(taskId)).catch((err: unknown) => {
      this.log.error({ taskId, forge: this.forge.name, err: (err as Error).message }, 'could not update the issue or pull request');
    });
    this.chains.set(key, next);
    void next.finally(() => {
      if (this.chains.get(key) !== next) return;
      this.chains.delete(key);
      // Nothing more queued: a finished task's issue will not change again unless it is retried.
      const state = this.store.get(taskId)?.state;
      if (!state || FINAL.includes(state)) {
        this.shown.delete(taskId);
        this.pullBodies.delete(taskId);
      }
    });
  }

  /** Brings the forge to the task's current state (read fresh, so a burst of changes collapses). */
  private async publish(taskId: number): Promise<void> {
    let task = this.store.get(taskId);
    const repo = task?.repo;
    // A plan's step is shown by its plan (announced with every change of a step).
    if (!task || !repo || task.planId !== null) return;
    if (needsPullRequest(task)) {
      await this.openPullRequest(task, repo);
      task = this.store.get(taskId)!;
    } else if (task.kind === 'plan' && task.pullRequest) {
      await this.updatePlanPull(task, repo);
    }
    const r = task.result;
    if (task.state === 'succeeded' && task.followUp && task.pullRequest && r?.commit && !r.incomplete) await this.forge.markReady?.(repo, task.pullRequest.number);
    if (!task.issueNumber) return;
    const issue = task.issueNumber;
    const onPull = task.followUp != null; // a follow-up's conversation is its pull request's
    const shown = this.shown.get(taskId);
    const comment = trackingComment(task, this.store.events(taskId));
    const latest = this.store.latestForIssue(repo, issue);
    const label = latest === undefined || latest === taskId ? statusLabel(task) : shown?.label ?? null;
    let failure: unknown;
    if (comment !== shown?.comment) {
      try {
        const known = this.store.trackingComment(taskId);
        const commentId = await this.forge.upsertComment(repo, issue, comment, known, onPull);
        if (commentId !== known) this.store.setTrackingComment(taskId, commentId);
      } catch (err) {
        failure = err; // the label still follows
      }
    }
    // Only the issue's latest task moves its label: an older run ending late must not cover a newer one.
    if ((latest === undefined || latest === taskId) && (!shown || label !== shown.label)) await this.forge.setStatusLabel(repo, issue, label, onPull);
    if (failure) throw failure;
    this.shown.set(taskId, { comment, label });
  }

  /** A plan's pull request describes its steps: edited as they finish (a failure is logged; the next change tries again). */
  private async updatePlanPull(plan: Task, repo: string): Promise<void> {
    const body = pullRequestBody(plan);
    if (this.pullBodies.get(plan.id) === body) return;
    await this.forge.updatePullRequestBody(repo, plan.pullRequest!.number, body);
    this.pullBodies.set(plan.id, body);
  }

  /** Reuses the open pull request of the branch, or opens one (a draft for work kept at a limit); a failure is recorded, not thrown. */
  private async openPullRequest(task: Task, repo: string): Promise<void> {
    const r = task.kind === 'plan' ? planPushed(this.store, task) : task.result!;
    const head = r.branch!;
    try {
      let pr = await this.forge.findOpenPullRequest(repo, head);
      if (pr) {
        this.log.info({ taskId: task.id, pr: pr.number }, 'the branch already has an open pull request; reusing it');
      } else {
        const draft = Boolean(r.incomplete);
        pr = await this.forge.openPullRequest({
          repo, head, base: r.base ?? 'main', taskId: task.id, draft,
          title: draft ? `[incomplete] ${task.title}` : task.title, body: pullRequestBody(task),
        }).catch(async (err: unknown) => {
          // GitHub answers 422 "A pull request already exists" when one was opened meanwhile.
          const existing = await this.forge.findOpenPullRequest(repo, head).catch(() => undefined);
          if (existing) return existing;
          throw err;
        });
        this.log.info({ taskId: task.id, pr: pr.number, url: pr.url, draft }, 'pull request opened');
      }
      this.store.setPullRequest(task.id, pr);
      if (task.kind === 'plan') this.pullBodies.set(task.id, pullRequestBody(task));
    } catch (err) {
      const why = (err as Error).message.slice(0, 500);
      this.log.error({ taskId: task.id, forge: this.forge.name, err: why }, 'could not open the pull request');
      this.store.note(task.id, PUBLISH_FAILED, why);
    }
  }
}

/** A pushed branch with no pull request yet: on success, or kept at a limit; for a plan, as soon as a step pushed. */
function needsPullRequest(task: Task): boolean {
  if (task.kind === 'plan') return !task.pullRequest && Boolean(task.branch) && (task.steps ?? []).some((s) => s.commit);
  const r = task.result;
  if (!r?.branch || !r.commit || task.pullRequest) return false;
  if (task.state === 'succeeded') return true;
  return task.state === 'failed' && Boolean(r.incomplete);
}

/** The branch and base a plan's first pushing step left, as a result the pull request can be opened from. */
function planPushed(store: TaskStore, plan: Task): Pick<TaskResult, 'branch' | 'base' | 'incomplete'> {
  const pushed = store.stepsOf(plan.id).map((row) => (row.result ? (JSON.parse(row.result) as TaskResult) : undefined)).find((r) => r?.commit);
  return { branch: plan.branch, base: pushed?.base ?? null, incomplete: null };
}

function statusLabel(task: Task): StatusLabel | null {
  if (task.kind === 'planner' && task.state === 'succeeded') return null; // a proposal waits for /ccc approve: nothing is done yet
  switch (task.state) {
    case 'queued':
    case 'assigned': return 'ccc:queued';
    case 'running': return 'ccc:running';
    case 'succeeded': return 'ccc:done';
    case 'failed': return 'ccc:failed';
    case 'cancelled': return null;
  }
}
