/**
 * Keeps GitHub (or the local forge) in step with each task that came from an
 * issue: one tracking comment edited as the task moves, a ccc:* status label,
 * and, when an agent pushed a branch, the pull request (`Closes #N`).
 * Updates of one task run in order; a failure is logged, never fatal.
 */
import type { Logger } from '../shared/log.js';
import type { Forge, StatusLabel } from './forge.js';
import type { Task } from './task-model.js';
import type { TaskStore } from './task-store.js';

const OUTPUT_LINES = 10;

export class Publisher {
  private readonly chains = new Map<number, Promise<void>>();
  /** What each unfinished task's issue already shows, so an unchanged comment or label is not written again. */
  private readonly shown = new Map<number, { comment: string; label: StatusLabel | null }>();

  constructor(
    private readonly store: TaskStore,
    readonly forge: Forge,
    private readonly log: Logger,
  ) {
    store.onChange((task) => this.enqueue(task.id));
  }

  /** Resolves when every update queued so far has been sent. */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.all(this.chains.values());
  }

  private enqueue(taskId: number): void {
    const previous = this.chains.get(taskId) ?? Promise.resolve();
    const next = previous.then(() => this.publish(taskId)).catch((err: unknown) => {
      this.log.error({ taskId, forge: this.forge.name, err: (err as Error).message }, 'could not update the issue or pull request');
    });
    this.chains.set(taskId, next);
    void next.finally(() => {
      if (this.chains.get(taskId) !== next) return;
      this.chains.delete(taskId);
      // Nothing more queued for it: a finished task's issue will not change again unless it is retried.
      const state = this.store.get(taskId)?.state;
      if (!state || ['succeeded', 'failed', 'cancelled'].includes(state)) this.shown.delete(taskId);
    });
  }

  /** Brings the forge to the task's current state (read fresh, so a burst of changes collapses). */
  private async publish(taskId: number): Promise<void> {
    let task = this.store.get(taskId);
    const repo = task?.repo;
    if (!task || !repo) return;
    const r = task.result;
    if (task.state === 'succeeded' && r?.branch && r.commit && !task.pullRequest) {
      const pr = await this.forge.openPullRequest({
        repo, head: r.branch, base: r.base ?? 'main', taskId,
        title: task.title, body: pullRequestBody(task),
      });
      this.store.setPullRequest(taskId, pr);
      this.log.info({ taskId, pr: pr.number, url: pr.url }, 'pull request opened');
      task = this.store.get(taskId)!;
    }
    if (!task.issueNumber) return;
    const shown = this.shown.get(taskId);
    const comment = this.comment(task);
    const label = statusLabel(task);
    if (comment !== shown?.comment) {
      const known = this.store.trackingComment(taskId);
      const commentId = await this.forge.upsertComment(repo, task.issueNumber, comment, known);
      if (commentId !== known) this.store.setTrackingComment(taskId, commentId);
    }
    if (!shown || label !== shown.label) await this.forge.setStatusLabel(repo, task.issueNumber, label);
    this.shown.set(taskId, { comment, label });
  }

  comment(task: Task): string {
    const head = `**claude-code-cluster** · task ${task.id} · ${task.specialty}`;
    const attempt = `attempt ${task.attempt} of ${task.maxAttempts}`;
    switch (task.state) {
      case 'queued':
        return `${head}\n\nQueued: ${task.routeReason}`;
      case 'assigned':
      case 'running':
        return `${head}\n\nRunning on agent **${task.agentId}** (${attempt}).`;
      case 'succeeded':
        return task.pullRequest
          ? `${head}\n\nDone: pull request #${task.pullRequest.number} — ${task.pullRequest.url}${costLine(task)}`
          : `${head}\n\nFinished without changing any file: ${task.result?.summary ?? ''}${costLine(task)}`;
      case 'failed': {
        const output = this.store.events(task.id).filter((e) => e.kind === 'progress').slice(-OUTPUT_LINES).map((e) => e.message);
        const tail = output.length ? `\n\nLast output:\n\n\`\`\`\n${output.join('\n').replaceAll('```', "'''")}\n\`\`\`` : '';
        return `${head}\n\nFailed (${attempt}): ${task.result?.summary ?? 'no result'}${tail}`;
      }
      case 'cancelled':
        return `${head}\n\nCancelled.`;
    }
  }
}

function statusLabel(task: Task): StatusLabel | null {
  switch (task.state) {
    case 'queued':
    case 'assigned': return 'ccc:queued';
    case 'running': return 'ccc:running';
    case 'succeeded': return 'ccc:done';
    case 'failed': return 'ccc:failed';
    case 'cancelled': return null;
  }
}

function costLine(task: Task): string {
  const r = task.result;
  if (r?.turns == null && r?.costUsd == null) return '';
  return `\n\n${r.turns ?? '?'} turns · $${(r.costUsd ?? 0).toFixed(4)} · agent ${task.agentId}`;
}

export function pullRequestBody(task: Task): string {
  const closes = task.issueNumber ? `Closes #${task.issueNumber}\n\n` : '';
  const r = task.result;
  return `${closes}${r?.summary ?? ''}\n\n---\nMade by the **${task.agentId}** agent of claude-code-cluster (task ${task.id}, attempt ${task.attempt}, specialty ${task.specialty})${costLine(task).replace(/^\n\n/, '; ')}.`;
}
