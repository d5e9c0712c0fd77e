/** What runs a task on an agent. The agent owns the protocol; an executor only does the work. */
import type { TaskSpec } from '../shared/protocol.js';

export interface Execution {
  taskId: number;
  attempt: number;
  task: TaskSpec;
  /** A directory of this attempt's own. */
  workDir: string;
  /** A push credential for this task only (GitHub App installation token), used instead of CCC_GIT_PUSH_TOKEN. */
  pushToken?: string;
  /** For a plan's step: what each earlier step's commit changed (commit → `git show`), for the prompt. */
  stepDiffs?: Record<string, string>;
}

export interface ExecutionHooks {
  /** Aborted on cancel, drain timeout or shutdown; the executor must stop its work promptly. */
  signal: AbortSignal;
  progress(text: string): void;
}

/** The limit a run stopped at, when that is why it failed. */
export type Limit = 'turns' | 'budget' | 'timeout' | 'idle';

export interface ExecutionOutcome {
  outcome: 'succeeded' | 'failed' | 'cancelled';
  /** Whether a failure may be retried by another attempt. */
  retryable: boolean;
  summary: string;
  exitCode: number | null;
  /** What the Claude Code CLI reported, when it ran. */
  costUsd?: number | null;
  turns?: number | null;
  sessionId?: string | null;
  /** The pushed branch and its head commit, when the task worked in a repository. */
  branch?: string | null;
  base?: string | null;
  commit?: string | null;
  /** Set by the inner executor when the run failed because it hit this limit (the work may still be kept). */
  limit?: Limit;
  /** Why the pushed work is unfinished (a limit was hit); the pull request should be a draft. */
  incomplete?: string | null;
}

export interface Executor {
  run(execution: Execution, hooks: ExecutionHooks): Promise<ExecutionOutcome>;
}
