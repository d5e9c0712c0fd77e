/** Task states, the legal moves between them, and the task as the API shows it. */
import { CccError } from '../shared/errors.js';
import type { ContextComment, FollowUp } from '../shared/protocol.js';

export const TASK_STATES = ['queued', 'assigned', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type TaskState = (typeof TASK_STATES)[number];
export const ACTIVE_STATES: readonly TaskState[] = ['assigned', 'running'];

/** Every legal transition; anything else is refused (HTTP 409). */
const TRANSITIONS: Record<TaskState, readonly TaskState[]> = {
  queued: ['assigned', 'cancelled'],
  assigned: ['running', 'queued', 'succeeded', 'failed', 'cancelled'],
  running: ['queued', 'succeeded', 'failed', 'cancelled'],
  succeeded: [],
  failed: ['queued'],
  cancelled: ['queued'],
};

export function canTransition(from: TaskState, to: TaskState): boolean {
  return TRANSITIONS[from].includes(to);
}

export class IllegalTransition extends CccError {
  constructor(taskId: number, from: TaskState, to: TaskState, why?: string) {
    const allowed = TRANSITIONS[from];
    super(
      `task ${taskId} is ${from}; it cannot become ${to}` +
        (why ? ` (${why})` : allowed.length ? ` (from ${from} it may become ${allowed.join(', ')})` : ` (${from} is final)`),
      'illegal_transition',
    );
  }
}

export interface TaskResult {
  outcome: 'succeeded' | 'failed' | 'cancelled';
  summary: string;
  retryable: boolean;
  exitCode: number | null;
  durationMs: number;
  /** What the run produced, when the executor works in a git workspace. */
  branch?: string | null;
  base?: string | null;
  commit?: string | null;
  /** What the Claude Code CLI reported. */
  costUsd?: number | null;
  turns?: number | null;
  sessionId?: string | null;
  /** Set when a limit ended the run and the work so far was pushed: why it is incomplete. */
  incomplete?: string | null;
}

export interface PullRequestRef {
  number: number;
  url: string;
}

/** One step of a plan as the API shows it: what it is for and how far it got (docs/plans.md). */
export interface PlanStepView {
  index: number;
  specialty: string;
  goal: string;
  /** `pending`: the steps before it have not all succeeded, so it has no task yet. */
  state: TaskState | 'pending';
  taskId: number | null;
  agentId: string | null;
  attempt: number;
  commit: string | null;
  costUsd: number | null;
  turns: number | null;
  summary: string | null;
}

export interface Task {
  id: number;
  /**
   * `plan`: a task no agent runs; its steps are tasks of their own, run one after another.
   * `planner`: a read-only run that proposes a plan's steps (`proposal`, once it answered).
   */
  kind: 'task' | 'plan' | 'planner';
  /** For a plan's step: the plan, and the step's place in it (from 0). */
  planId: number | null;
  stepIndex: number | null;
  /** For a plan: its steps in order. */
  steps?: PlanStepView[];
  /** For a planner run: the steps it proposed, once its answer was a valid plan. */
  proposal?: Array<{ specialty: string; goal: string }>;
  state: TaskState;
  title: string;
  body: string;
  labels: string[];
  repo: string | null;
  source: 'api' | 'github';
  issueNumber: number | null;
  pullRequest: PullRequestRef | null;
  /** The branch this task continues (a pull request's head), when it does not start a new one. */
  branch: string | null;
  /** The task whose work this one continues (same pull request). */
  previousTaskId: number | null;
  /** What a follow-up on a pull request asks for. */
  followUp: FollowUp | null;
  /** Earlier comments by allowed users, given to the model as context. */
  context: ContextComment[];
  specialty: string;
  routeReason: string;
  agentId: string | null;
  attempt: number;
  maxAttempts: number;
  createdAt: string;
  updatedAt: string;
  result?: TaskResult;
}

export interface TaskEvent {
  id: number;
  at: string;
  kind: string;
  attempt: number;
  agentId: string | null;
  message: string;
}

/** A task row as stored, before it is shaped for the API. */
export interface TaskRow {
  id: number;
  state: TaskState;
  title: string;
  body: string;
  labels: string;
  repo: string | null;
  source: 'api' | 'github';
  issue_number: number | null;
  pull_request: string | null;
  tracking_comment_id: number | null;
  branch: string | null;
  pr_number: number | null;
  previous_task_id: number | null;
  follow_up: string | null;
  context: string | null;
  specialty: string;
  specialty_reason: string;
  route_reason: string;
  agent_id: string | null;
  attempt: number;
  max_attempts: number;
  lease_expires_at: number | null;
  not_before: number;
  result: string | null;
  created_at: number;
  updated_at: number;
  /** GitHub App installation the task's delivery came from (migration 3). */
  installation_id?: number | null;
  /** Plans (migration 7): see Task.kind, planId, stepIndex; plan_steps is the plan's JSON list of {specialty, goal}. */
  kind: 'task' | 'plan' | 'planner';
  plan_id: number | null;
  step_index: number | null;
  plan_steps: string | null;
}

export function toTask(row: TaskRow): Task {
  const task: Task = {
    id: row.id,
    kind: row.kind ?? 'task',
    planId: row.plan_id ?? null,
    stepIndex: row.step_index ?? null,
    state: row.state,
    title: row.title,
    body: row.body,
    labels: JSON.parse(row.labels) as string[],
    repo: row.repo,
    source: row.source,
    issueNumber: row.issue_number,
    pullRequest: row.pull_request ? (JSON.parse(row.pull_request) as PullRequestRef) : null,
    branch: row.branch,
    previousTaskId: row.previous_task_id,
    followUp: row.follow_up ? (JSON.parse(row.follow_up) as FollowUp) : null,
    context: row.context ? (JSON.parse(row.context) as ContextComment[]) : [],
    specialty: row.specialty,
    routeReason: row.route_reason,
    agentId: row.agent_id,
    attempt: row.attempt,
    maxAttempts: row.max_attempts,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
  if (row.result) task.result = JSON.parse(row.result) as TaskResult;
  return task;
}

/** The message of the newest event of one of these kinds, if any. */
export function lastOf(events: readonly TaskEvent[], ...kinds: string[]): string | undefined {
  for (let i = events.length - 1; i >= 0; i--) if (kinds.includes(events[i]!.kind)) return events[i]!.message;
  return undefined;
}
