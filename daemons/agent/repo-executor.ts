/**
 * Gives a task that names a repository its own worktree, runs the inner
 * executor there, then commits and pushes the branch. A failed attempt's
 * worktree is kept for inspection (swept after the configured hours).
 */
import type { Logger } from '../shared/log.js';
import type { Execution, ExecutionHooks, ExecutionOutcome, Executor } from './executor.js';
import type { Workspaces } from './workspaces.js';

export class RepoExecutor implements Executor {
  constructor(
    private readonly inner: Executor,
    private readonly workspaces: Workspaces,
    private readonly log: Logger,
    /** git's environment for a task that brings its own push token (GitHub App installation token). */
    private readonly gitEnvFor: (pushToken: string) => Record<string, string> = () => ({}),
  ) {}

  async run(execution: Execution, hooks: ExecutionHooks): Promise<ExecutionOutcome> {
    const { task, taskId, attempt } = execution;
    const { pushToken, ...forCli } = execution; // the CLI never sees the token
    const gitEnv = pushToken ? this.gitEnvFor(pushToken) : undefined;
    if (!task.repo) return this.inner.run(forCli, hooks);
    this.workspaces.sweep();
    let ws;
    try {
      ws = await this.workspaces.prepare({ taskId, attempt, repo: task.repo, issueNumber: task.issueNumber, title: task.title }, gitEnv);
    } catch (err) {
      return { outcome: 'failed', retryable: true, exitCode: null, summary: `cannot prepare a worktree of ${task.repo}: ${(err as Error).message}` };
    }
    hooks.progress(`worktree ready: branch ${ws.branch} from ${ws.base}`);
    const outcome = await this.inner.run({ ...forCli, workDir: ws.dir }, hooks);
    if (outcome.outcome !== 'succeeded') {
      this.log.info({ taskId, attempt, dir: ws.dir }, 'keeping the worktree of an unsuccessful attempt for inspection');
      return outcome;
    }
    const issue = task.issueNumber ? ` (#${task.issueNumber})` : '';
    let commit: string | null;
    try {
      commit = await this.workspaces.publish(ws, `${task.title}${issue}\n\nMade by the ${task.specialty} agent of claude-code-cluster (task ${taskId}, attempt ${attempt}).`, gitEnv);
    } catch (err) {
      return { ...outcome, outcome: 'failed', retryable: true, summary: `the work is done but could not be pushed: ${(err as Error).message}` };
    }
    await this.workspaces.remove(ws);
    if (!commit) return { ...outcome, branch: null, commit: null, summary: `${outcome.summary} (no file changed, so no branch was pushed)`.trim() };
    hooks.progress(`pushed ${ws.branch} at ${commit.slice(0, 12)}`);
    return { ...outcome, branch: ws.branch, base: ws.base, commit };
  }
}
