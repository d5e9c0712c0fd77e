/**
 * What a plan says on GitHub (or the local forge): the tracking comment with a
 * checklist of its steps, and the description of its one pull request, which
 * lists each step with its agent, commit, turns and cost.
 */
import { lastOf, type PlanStepView, type Task, type TaskEvent } from '../task-model.js';

const MARK: Record<PlanStepView['state'], string> = {
  pending: '[ ]', queued: '[ ]', assigned: '[ ]', running: '[ ]', succeeded: '[x]', failed: '[ ]', cancelled: '[ ]',
};

export function planTrackingComment(plan: Task, events: readonly TaskEvent[]): string {
  const steps = plan.steps ?? [];
  const head = `**claude-code-cluster** · plan ${plan.id} · ${steps.map((s) => s.specialty).join(' → ')}`;
  const list = steps.map((s) => `- ${MARK[s.state]} ${s.index + 1}. **${s.specialty}**: ${s.goal} — ${stepStatus(s)}`).join('\n');
  const pr = plan.pullRequest ? `\n\nPull request #${plan.pullRequest.number} — ${plan.pullRequest.url}` : '';
  const retry = `To go on from the step that stopped, comment \`/ccc retry\` here or run \`ccc retry ${plan.id}\`.`;
  const last = lastOf(events, 'plan-stopped', 'cancelled');
  switch (plan.state) {
    case 'succeeded': return `${head}\n\nDone: every step finished.${pr}\n\n${list}${totals(steps)}`;
    case 'failed': return `${head}\n\nStopped: ${plan.result?.summary ?? last ?? 'a step failed'}${pr}\n\n${list}\n\n${retry}`;
    case 'cancelled': return `${head}\n\nCancelled.${pr}\n\n${list}\n\n${retry}`;
    default: return `${head}\n\n${plan.state === 'queued' ? 'Queued' : 'Running'}: one branch, handed from step to step.${pr}\n\n${list}`;
  }
}

export function planPullRequestBody(plan: Task): string {
  const steps = plan.steps ?? [];
  const closes = plan.issueNumber ? `Closes #${plan.issueNumber}\n\n` : '';
  const rows = steps.map((s) => `| ${s.index + 1} | ${s.specialty} | ${s.goal.replaceAll('|', '\\|')} | ${stepStatus(s)} | ${s.agentId ?? ''} | ${s.commit ? s.commit.slice(0, 12) : ''} | ${s.turns ?? ''} | ${s.costUsd != null ? `$${s.costUsd.toFixed(4)}` : ''} |`);
  return `${closes}One plan, ${steps.length} specialists in turn on this branch (plan ${plan.id} of claude-code-cluster).\n\n`
    + `| Step | Specialty | Goal | State | Agent | Commit | Turns | Cost |\n|---|---|---|---|---|---|---|---|\n${rows.join('\n')}${totals(steps)}`;
}

/** A planner run's comment: running, its proposal and how to run it, or why its answer was no plan. */
export function plannerComment(task: Task, events: readonly TaskEvent[]): string | undefined {
  const head = `**claude-code-cluster** · task ${task.id} · planner`;
  const approved = lastOf(events, 'plan-approved');
  const invalid = lastOf(events, 'plan-invalid');
  switch (task.state) {
    case 'queued': return `${head}\n\nQueued: a read-only run will propose the steps of a plan (${task.routeReason}).`;
    case 'assigned':
    case 'running': return `${head}\n\nPlanning on agent **${task.agentId}**: a read-only run proposes the steps.`;
    case 'succeeded': {
      if (!task.proposal) return `${head}\n\nThe planner's answer was not a plan: ${invalid ?? 'not read yet'}.\n\nComment \`/ccc plan\` to ask again, or label the issue with the \`ccc:<specialty>\` labels of the steps you want.`;
      const list = task.proposal.map((s, i) => `${i + 1}. **${s.specialty}**: ${s.goal}`).join('\n');
      const next = approved ? `Approved (${approved}).` : 'Comment `/ccc approve` to run it, one specialist after another on one branch, or `/ccc plan` for another proposal.';
      return `${head}\n\nProposed plan (by agent ${task.agentId}):\n\n${list}\n\n${next}`;
    }
    default: return undefined; // failed or cancelled: as for any task
  }
}

function stepStatus(s: PlanStepView): string {
  switch (s.state) {
    case 'pending': return 'waits for the step before';
    case 'queued': return s.attempt > 0 ? 'queued again' : 'queued';
    case 'assigned':
    case 'running': return `running on ${s.agentId} (attempt ${s.attempt})`;
    case 'succeeded': return `done by ${s.agentId}${s.commit ? ` in ${s.commit.slice(0, 12)}` : ' (no file changed)'}`;
    case 'failed': return `failed on ${s.agentId ?? 'no agent'}: ${(s.summary ?? '').slice(0, 200)}`;
    case 'cancelled': return 'cancelled';
  }
}

function totals(steps: readonly PlanStepView[]): string {
  const done = steps.filter((s) => s.turns != null || s.costUsd != null);
  if (!done.length) return '';
  const turns = done.reduce((n, s) => n + (s.turns ?? 0), 0);
  const cost = done.reduce((n, s) => n + (s.costUsd ?? 0), 0);
  return `\n\n${turns} turns · $${cost.toFixed(4)} in all`;
}
