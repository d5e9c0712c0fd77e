/**
 * Gives a task that names a repository its own workspace, runs the inner
 * executor there, then commits and pushes the branch. When the inner run
 * stopped at a limit (turns, budget, wall clock, idle watchdog), the work so
 * far is committed and pushed too and the outcome says `incomplete`, so a
 * draft pull request can keep it. A failed attempt's workspace is kept for
 * inspection (swept after the configured hours, never while it runs).
 */
import type { Logger } from '../../shared/log.js';
import type { Execution, ExecutionHooks, ExecutionOutcome, Executor, Limit } from '../executor.js';
import { isPermanent } from './permanent-failure.js';
import type { Workspace, Workspaces } from './workspaces.js';

export interface RepoExecutorOptions {
  /** Commit and push the work when the run stops at a limit (agent.executor.keepWorkOnLimit). */
  keepWorkOnLimit: boolean;
  /** git's environment for a task that brings its own push token (a GitHub App installation token). */
  gitEnvFor?: (pushToken: string) => Record<string, string>;
}

const LIMIT_REASONS: Record<Limit, string> = {
  turns: 'stopped at the turn limit',
  budget: 'stopped at the cost budget',
  timeout: 'stopped at the wall-clock limit',
  idle: 'stopped by the idle watchdog',
};

export class RepoExecutor implements Executor {
  constructor(
    private readonly inner: Executor,
    private readonly workspaces: Workspaces,
    private readonly log: Logger,
    private readonly opts: RepoExecutorOptions = { keepWorkOnLimit: true },
  ) {}

  async run(execution: Execution, hooks: ExecutionHooks): Promise<ExecutionOutcome> {
    const { pushToken, ...forCli } = execution; // the CLI never sees the task's token
    const { task, taskId, attempt } = forCli;
    const gitEnv = pushToken && this.opts.gitEnvFor ? this.opts.gitEnvFor(pushToken) : undefined;
    if (!task.repo) return withoutLimit(await this.inner.run(forCli, hooks));
    this.workspaces.sweep();
    let ws: Workspace;
    try {
      ws = await this.workspaces.prepare({ taskId, attempt, repo: task.repo, issueNumber: task.issueNumber, title: task.title, branch: task.branch }, gitEnv);
    } catch (err) {
      return { outcome: 'failed', retryable: !isPermanent(err), exitCode: null, summary: `cannot prepare a workspace of ${task.repo}: ${(err as Error).message}` };
    }
    try {
      hooks.progress(ws.continued ? `workspace ready: continuing branch ${ws.branch} at ${ws.start.slice(0, 12)}` : `workspace ready: branch ${ws.branch} from ${ws.base}`);
      return await this.runIn(ws, forCli, hooks, gitEnv);
    } finally {
      this.workspaces.finish(ws);
    }
  }

  private async runIn(ws: Workspace, execution: Execution, hooks: ExecutionHooks, gitEnv: Record<string, string> | undefined): Promise<ExecutionOutcome> {
    const { task, taskId, attempt } = execution;
    const earlier = (task.plan?.steps ?? []).slice(0, task.plan?.index ?? 0).flatMap((s) => (s.commit ? [s.commit] : []));
    const stepDiffs = earlier.length ? await this.workspaces.diffsOf(ws, earlier) : undefined;
    const { limit, ...outcome } = await this.inner.run({ ...execution, workDir: ws.dir, ...(stepDiffs ? { stepDiffs } : {}) }, hooks);
    if (task.planner) {
      // A planner only reads: whatever it left in the directory is not work to push.
      this.workspaces.remove(ws);
      return outcome;
    }
    const incomplete = outcome.outcome === 'failed' && limit && this.opts.keepWorkOnLimit ? LIMIT_REASONS[limit] : null;
    if (outcome.outcome !== 'succeeded' && !incomplete) {
      this.log.info({ taskId, attempt, dir: ws.dir }, 'keeping the workspace of an unsuccessful attempt for inspection');
      return outcome;
    }
    const issue = task.issueNumber ? ` (#${task.issueNumber})` : '';
    const note = incomplete ? `\n\nIncomplete: ${incomplete}. ${outcome.summary}`.trimEnd() : '';
    let published;
    try {
      published = await this.workspaces.publish(ws, `${task.title}${issue}\n\nMade by the ${task.specialty} agent of claude-code-cluster (task ${taskId}, attempt ${attempt}).${note}`, gitEnv);
    } catch (err) {
      const what = incomplete ? `${outcome.summary}; its work so far could not be pushed either` : 'the work is done but could not be pushed';
      return { ...outcome, outcome: 'failed', retryable: incomplete ? outcome.retryable : !isPermanent(err), summary: `${what}: ${(err as Error).message}` };
    }
    if (published?.leftOut.length) hooks.progress(`left out of the commit (each holds a repository of its own): ${published.leftOut.slice(0, 10).join(', ')}`);
    if (incomplete) {
      if (!published) return { ...outcome, summary: `${outcome.summary} (no file changed, so nothing was pushed)` };
      hooks.progress(`pushed the unfinished work to ${ws.branch} at ${published.commit.slice(0, 12)} (incomplete: ${incomplete})`);
      return { ...outcome, branch: ws.branch, base: ws.base, commit: published.commit, incomplete, summary: `${outcome.summary}; the work so far is pushed to ${ws.branch}` };
    }
    this.workspaces.remove(ws);
    if (!published) return { ...outcome, branch: null, commit: null, summary: `${outcome.summary} (no file changed, so no branch was pushed)`.trim() };
    hooks.progress(`pushed ${ws.branch} at ${published.commit.slice(0, 12)}`);
    return { ...outcome, branch: ws.branch, base: ws.base, commit: published.commit };
  }
}

/** `limit` is for this executor only; the task result carries `incomplete` instead. */
function withoutLimit(outcome: ExecutionOutcome): ExecutionOutcome {
  const { limit: _limit, ...rest } = outcome;
  return rest;
}
