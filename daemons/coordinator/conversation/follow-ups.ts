/**
 * Tasks that continue earlier work: a follow-up on a pull request the cluster
 * opened (same branch, same specialty, the previous task's agent preferred),
 * a new run of an issue whose earlier run has a pull request, and a retry that
 * keeps what a failed attempt pushed. One rule for GitHub and the local forge.
 */
import type { ContextComment, FollowUp } from '../../shared/protocol.js';
import type { Forge } from '../forge.js';
import type { Task, TaskState } from '../task-model.js';
import type { NewTask, Revoked, TaskStore } from '../task-store.js';

const OPEN_STATES: readonly TaskState[] = ['queued', 'assigned', 'running'];

export type Continued =
  | { outcome: 'task-created'; task: Task; created: true }
  | { outcome: 'task-exists'; task: Task }
  | { outcome: 'ignored'; reason: string };

/** The branch a task's work is on: the branch it continued, else the one it pushed. */
export function branchOf(task: Task): string | null {
  return task.branch ?? task.result?.branch ?? null;
}

/** A follow-up task on pull request `pull` of `repo`, if the cluster opened it and no task works on it already. */
export function createFollowUp(store: TaskStore, req: { repo: string; pull: number; followUp: FollowUp; context: ContextComment[] }): Continued {
  const origin = store.forPullRequest(req.repo, req.pull);
  if (!origin) return { outcome: 'ignored', reason: `pull request ${req.repo}#${req.pull} was not opened by this cluster` };
  if (OPEN_STATES.includes(origin.state)) return { outcome: 'task-exists', task: origin };
  const branch = branchOf(origin);
  if (!branch) return { outcome: 'ignored', reason: `task ${origin.id} of pull request #${req.pull} names no branch` };
  const spec: NewTask = {
    title: `Follow-up on #${req.pull}: ${rootTitle(origin.title)}`,
    body: origin.body,
    labels: origin.labels,
    repo: req.repo,
    source: origin.source,
    issueNumber: req.pull, // its conversation, tracking comment and label are the pull request's
    // A plan's pull request: its last step's specialist takes the follow-up.
    specialty: origin.steps?.at(-1)?.specialty ?? origin.specialty,
    specialtyReason: `same specialty as ${origin.kind === 'plan' ? `the last step of plan ${origin.id}` : `task ${origin.id}`} (pull request #${req.pull})`,
    branch,
    pullRequest: origin.pullRequest,
    previousTaskId: origin.id,
    followUp: req.followUp,
    context: req.context,
  };
  return { outcome: 'task-created', task: store.create(spec), created: true };
}

/**
 * What a new run of an issue continues: when its latest task's pull request is still open (or it pushed
 * incomplete work without one), the run works on that branch (adding commits, never rewriting them) and
 * the publisher finds the open pull request again. A merged or closed pull request's branch is not reused.
 */
export async function continuationOf(store: TaskStore, forge: Forge, repo: string, issueNumber: number): Promise<Pick<NewTask, 'branch' | 'previousTaskId'>> {
  const last = store.forIssue(repo, issueNumber);
  const branch = last && (last.pullRequest || last.result?.incomplete) ? branchOf(last) : null;
  if (!last || !branch) return {};
  if (last.pullRequest && !(await forge.findOpenPullRequest(repo, branch).catch(() => undefined))) return {};
  return { branch, previousTaskId: last.id };
}

/** `/ccc retry` or `ccc retry <id>`: a failed or cancelled task runs again, continuing any branch its attempt pushed. */
export function retryTask(store: TaskStore, id: number, by: string): Task {
  const task = store.get(id);
  const pushed = task?.result?.incomplete ? task.result.branch : null;
  return store.inTransaction(() => {
    if (pushed && !task?.branch) store.continueBranch(id, pushed);
    return store.retry(id, by);
  });
}

/** The task `/ccc retry` on an issue or pull request means: its latest, when it failed or was cancelled. */
export function retryLatest(store: TaskStore, req: { repo: string; number: number; pull: boolean; by: string }): Continued {
  const task = req.pull ? store.forPullRequest(req.repo, req.number) : store.forIssue(req.repo, req.number);
  const where = `${req.pull ? 'pull request' : 'issue'} ${req.repo}#${req.number}`;
  if (!task) return { outcome: 'ignored', reason: `no task of this cluster on ${where} to retry` };
  if (task.state !== 'failed' && task.state !== 'cancelled') return { outcome: 'ignored', reason: `task ${task.id} of ${where} is ${task.state}; only a failed or cancelled task can be retried` };
  return { outcome: 'task-created', task: retryTask(store, task.id, req.by), created: true };
}

/** `/ccc cancel`: the queued, assigned or running task of the issue or pull request. */
export function cancelOpen(store: TaskStore, req: { repo: string; issueNumber: number; by: string }): { task: Task; revoked: Revoked } | { reason: string } {
  const current = store.forIssue(req.repo, req.issueNumber);
  if (!current || !OPEN_STATES.includes(current.state)) return { reason: `no queued, assigned or running task for ${req.repo}#${req.issueNumber} to cancel` };
  return store.cancel(current.id, req.by);
}

/** The issue's title under any number of "Follow-up on #N: " prefixes. */
function rootTitle(title: string): string {
  return title.replace(/^(Follow-up on #\d+: )+/, '');
}
