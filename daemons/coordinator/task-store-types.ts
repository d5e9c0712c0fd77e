/** What the task store takes and gives besides tasks: a new task's fields, its policy, its limits and errors. */
import { CccError } from '../shared/errors.js';
import type { ContextComment, FollowUp } from '../shared/protocol.js';
import type { PullRequestRef, TaskEvent } from './task-model.js';
import type { PlanStep } from './plans/plan-steps.js';

export interface NewTask {
  title: string;
  body: string;
  labels: string[];
  repo: string | null;
  source?: 'api' | 'github';
  issueNumber?: number | null;
  specialty: string;
  specialtyReason: string;
  /** Continuing work: the branch, the pull request it is on, and the task it follows. */
  branch?: string | null;
  pullRequest?: PullRequestRef | null;
  previousTaskId?: number | null;
  followUp?: FollowUp | null;
  context?: ContextComment[];
  /** A plan (its steps run as tasks of their own), or a step of one. */
  kind?: 'task' | 'plan' | 'planner';
  planSteps?: readonly PlanStep[];
  planId?: number | null;
  stepIndex?: number | null;
}

export interface StorePolicy {
  maxAttempts: number;
  retryBackoffMs: number;
}

/** A task event together with the task it belongs to, as the live stream sends it. */
export type TaskEventOf = TaskEvent & { taskId: number };

/** The agent to tell when a task it runs is taken from it. */
export type Revoked = { agentId: string; taskId: number; attempt: number } | null;

/** Progress lines kept per attempt; past this, one 'progress-truncated' event and no more. */
export const MAX_PROGRESS_EVENTS = 1000;
/** `stale-ignored` events kept per task; stale results past this are ignored silently. */
export const MAX_STALE_EVENTS = 20;
/** Retry backoff doubles per attempt up to this. */
export const MAX_RETRY_BACKOFF_MS = 10 * 60 * 1000;
/** A handed-back task waits this long, so an agent that refuses work is not offered it again at once. */
export const RELEASE_DELAY_MS = 1000;

export class TaskNotFound extends CccError {
  constructor(readonly taskId: number) {
    super(`task ${taskId} does not exist; \`ccc tasks\` lists the tasks there are`, 'not_found');
  }
}
