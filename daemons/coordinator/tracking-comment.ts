/**
 * What the tracking comment of a task says at each state: where it runs, the
 * pull request it opened or added to, and for every final failure its reason
 * and how to try again — no run ends without saying why.
 */
import { lastOf, type Task, type TaskEvent } from './task-model.js';
import { planPullRequestBody, planTrackingComment, plannerComment } from './plans/plan-text.js';

const OUTPUT_LINES = 10;
/** The event the publisher records when it could not open or reuse the pull request. */
export const PUBLISH_FAILED = 'publish-failed';

export function trackingComment(task: Task, events: readonly TaskEvent[]): string {
  if (task.kind === 'plan') return planTrackingComment(task, events);
  const planner = task.kind === 'planner' ? plannerComment(task, events) : undefined;
  if (planner) return planner;
  const head = `**claude-code-cluster** · task ${task.id} · ${task.specialty}${task.followUp ? ` · follow-up on #${task.followUp.pullRequest}` : ''}`;
  const attempt = `attempt ${task.attempt} of ${task.maxAttempts}`;
  const retry = `To try again, comment \`/ccc retry\` here or run \`ccc retry ${task.id}\`.`;
  const r = task.result;
  switch (task.state) {
    case 'queued':
      return `${head}\n\nQueued: ${task.routeReason}`;
    case 'assigned':
    case 'running':
      return `${head}\n\nRunning on agent **${task.agentId}** (${attempt})${task.branch ? ` on branch \`${task.branch}\`` : ''}.`;
    case 'succeeded': {
      const pr = task.pullRequest;
      if (!r?.commit) return `${head}\n\nFinished without changing any file: ${r?.summary ?? ''}${costLine(task)}`;
      if (!pr) {
        const why = lastOf(events, PUBLISH_FAILED) ?? 'no pull request was recorded';
        return `${head}\n\nDone, and branch \`${r.branch}\` is pushed at ${r.commit.slice(0, 12)}, but the pull request could not be opened: ${why}\n\nOpen it by hand from that branch, or fix the cause and comment \`/ccc run\` again.${costLine(task)}`;
      }
      const continued = task.followUp || task.previousTaskId;
      const what = continued ? `pushed ${r.commit.slice(0, 12)} to pull request #${pr.number}` : `pull request #${pr.number}`;
      // An agent that cannot continue a branch pushes a new one: say so rather than claim the pull request changed.
      const elsewhere = task.branch && r.branch && r.branch !== task.branch
        ? `\n\nNote: the agent pushed branch \`${r.branch}\`, not \`${task.branch}\` (is it older than the coordinator?), so pull request #${pr.number} did not change.`
        : '';
      return `${head}\n\nDone: ${what} — ${pr.url}${r.incomplete ? `\n\nIncomplete: ${r.incomplete}` : ''}${elsewhere}${costLine(task)}`;
    }
    case 'failed': {
      const output = events.filter((e) => e.kind === 'progress').slice(-OUTPUT_LINES).map((e) => e.message);
      const tail = output.length ? `\n\nLast output:\n\n\`\`\`\n${output.join('\n').replaceAll('```', "'''")}\n\`\`\`` : '';
      const pr = task.pullRequest;
      const kept = r?.incomplete && pr
        ? `\n\nThe work so far is kept in ${r.commit ? 'draft ' : ''}pull request #${pr.number} — ${pr.url}; a \`/ccc <what to do>\` comment there continues it.`
        : r?.incomplete && r.branch ? `\n\nThe work so far is pushed to branch \`${r.branch}\`${lastOf(events, PUBLISH_FAILED) ? `, but no pull request could be opened: ${lastOf(events, PUBLISH_FAILED)}` : ''}.` : '';
      return `${head}\n\nFailed (${attempt}): ${r?.summary ?? 'no result'}${kept}\n\n${retry}${tail}`;
    }
    case 'cancelled':
      return `${head}\n\nCancelled. ${retry}`;
  }
}

export function costLine(task: Task): string {
  const r = task.result;
  if (r?.turns == null && r?.costUsd == null) return '';
  return `\n\n${r.turns ?? '?'} turns · $${(r.costUsd ?? 0).toFixed(4)} · agent ${task.agentId}`;
}

export function pullRequestBody(task: Task): string {
  if (task.kind === 'plan') return planPullRequestBody(task);
  const closes = task.issueNumber ? `Closes #${task.issueNumber}\n\n` : '';
  const r = task.result;
  const incomplete = r?.incomplete ? `**Incomplete:** ${r.incomplete}. Comment \`/ccc <what to do>\` on this pull request to continue the work.\n\n` : '';
  return `${closes}${incomplete}${r?.summary ?? ''}\n\n---\nMade by the **${task.agentId}** agent of claude-code-cluster (task ${task.id}, attempt ${task.attempt}, specialty ${task.specialty})${costLine(task).replace(/^\n\n/, '; ')}.`;
}
