/**
 * The agent ⇄ coordinator WebSocket protocol, version 1: one schema per message,
 * used by both sides to validate what arrives and to type what is sent.
 * docs/protocol.md describes the same in prose.
 */
import { z } from 'zod';
import { repoSchema, specialtySchema } from './names.js';

export const PROTOCOL_VERSION = 1;
/** Where agents open their WebSocket (HTTP upgrade with `Authorization: Bearer <its credential, or the join token to enroll>`). */
export const AGENT_PATH = '/api/v1/agents/connect';
/** Largest frame either side accepts; bigger ones close the connection (1009). */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** Progress text is cut to this many characters before it is sent. */
export const MAX_PROGRESS_CHARS = 4000;

const taskId = z.int().positive();
const attempt = z.int().positive();
const taskRef = z.strictObject({ taskId, attempt });
const specialty = specialtySchema;

/** Comments carried as context: at most this many, each cut to MAX_COMMENT_CHARS. */
export const MAX_CONTEXT_COMMENTS = 30;
export const MAX_COMMENT_CHARS = 8000;

/** A follow-up request made on a pull request: a comment, a review, or a review comment on a line. */
export const followUpSchema = z.strictObject({
  kind: z.enum(['comment', 'review', 'review-comment']),
  author: z.string().max(100),
  body: z.string().max(MAX_COMMENT_CHARS),
  pullRequest: z.int().positive(),
  /** For review comments: the file, the line, and the diff hunk the comment is on. */
  path: z.string().max(1000).nullable().optional(),
  line: z.int().nullable().optional(),
  diffHunk: z.string().max(MAX_COMMENT_CHARS).nullable().optional(),
});

export const contextCommentSchema = z.strictObject({
  author: z.string().max(100),
  body: z.string().max(MAX_COMMENT_CHARS),
  at: z.string().max(40),
});

/** A step of the plan a task belongs to, as the next step's prompt shows it (summaries are the model's own words). */
export const planStepContextSchema = z.strictObject({
  specialty,
  goal: z.string().max(300),
  state: z.string().max(20),
  agentId: z.string().max(64).nullable(),
  commit: z.string().max(64).nullable(),
  summary: z.string().max(4000).nullable(),
});
/** The plan a task is a step of: which step it is, and every step (docs/plans.md). */
export const planContextSchema = z.strictObject({
  planId: z.int().positive(),
  index: z.int().min(0),
  steps: z.array(planStepContextSchema).min(1).max(16),
});

export const taskSpecSchema = z.strictObject({
  title: z.string(),
  body: z.string(),
  labels: z.array(z.string()),
  repo: repoSchema.nullable(),
  issueNumber: z.int().positive().nullable(),
  specialty,
  /** A branch to continue (a pull request's head) instead of making a new one; the agent adds commits to it. */
  branch: z.string().min(1).max(255).nullable().optional(),
  /** The Claude session of the previous attempt on this branch; set only when this agent ran it. */
  resumeSessionId: z.string().min(1).max(100).nullable().optional(),
  /** What a follow-up asks for (untrusted text from a pull request's conversation). */
  followUp: followUpSchema.nullable().optional(),
  /** Earlier comments by allowed users on the issue or pull request, oldest first (untrusted text). */
  context: z.array(contextCommentSchema).max(MAX_CONTEXT_COMMENTS).optional(),
  /** Set when the task is a step of a plan; the earlier steps' commits are on `branch`. */
  plan: planContextSchema.optional(),
  /** Set for a planner run (`/ccc plan`): read-only tools; the answer is a plan using these specialties. */
  planner: z.strictObject({ specialties: z.array(specialty).min(1).max(32) }).optional(),
});

// ── agent → coordinator ────────────────────────────────────────────────────
export const helloSchema = z.strictObject({
  type: z.literal('hello'),
  protocol: z.int(),
  agentId: z.string().min(1).max(64),
  hostname: z.string().max(255),
  version: z.string().max(64),
  specialties: z.array(specialty).min(1).max(64),
  capacity: z.int().min(1).max(64),
  /** Tasks this agent still runs, or has finished but not yet had acknowledged. */
  tasks: z.array(taskRef).max(1000),
});

export const agentMessageSchema = z.discriminatedUnion('type', [
  helloSchema,
  z.strictObject({ type: z.literal('heartbeat') }),
  z.strictObject({ type: z.literal('draining'), reason: z.string().max(500).optional() }),
  /** The agent takes work again after draining itself for a reason (its disk was fixed). */
  z.strictObject({ type: z.literal('resumed') }),
  z.strictObject({ type: z.literal('task.started'), taskId, attempt }),
  z.strictObject({ type: z.literal('task.progress'), taskId, attempt, text: z.string().max(MAX_PROGRESS_CHARS) }),
  z.strictObject({
    type: z.literal('task.result'),
    taskId,
    attempt,
    outcome: z.enum(['succeeded', 'failed', 'cancelled']),
    /** Whether a failure may be retried on another attempt. */
    retryable: z.boolean(),
    summary: z.string().max(MAX_PROGRESS_CHARS),
    exitCode: z.int().nullable(),
    durationMs: z.number().min(0),
    /** The pushed branch and its head commit, when the task worked in a repository. */
    branch: z.string().max(255).nullable().optional(),
    /** The branch it was made from (the pull request's base). */
    base: z.string().max(255).nullable().optional(),
    commit: z.string().regex(/^[0-9a-f]{40}$/).nullable().optional(),
    costUsd: z.number().min(0).nullable().optional(),
    turns: z.int().min(0).nullable().optional(),
    sessionId: z.string().max(100).nullable().optional(),
    /** Set when a limit ended the run and the work so far was pushed: why it is incomplete. */
    incomplete: z.string().max(MAX_PROGRESS_CHARS).nullable().optional(),
  }),
  z.strictObject({ type: z.literal('task.released'), taskId, attempt, reason: z.string().max(500) }),
  z.strictObject({ type: z.literal('error'), code: z.string().max(64), message: z.string().max(2000) }),
]);

// ── coordinator → agent ────────────────────────────────────────────────────
export const coordinatorMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('welcome'),
    protocol: z.int(),
    heartbeatMs: z.int().positive(),
    leaseMs: z.int().positive(),
    /** Tasks named in the hello that are no longer this agent's: stop them, report nothing. */
    cancel: z.array(taskRef),
    /** Only when the agent enrolled with the join token: its own credential, sent this once. */
    credential: z.string().min(20).max(200).optional(),
  }),
  z.strictObject({
    type: z.literal('task.assign'), taskId, attempt, task: taskSpecSchema,
    /** A push credential for this task only (a GitHub App installation token for its one repository); never logged. */
    pushToken: z.string().min(8).max(255).regex(/^\S+$/).optional(),
  }),
  z.strictObject({ type: z.literal('task.cancel'), taskId, attempt, reason: z.string() }),
  /** The coordinator has recorded (or deliberately ignored) this task.result / task.released. */
  z.strictObject({ type: z.literal('task.ack'), taskId, attempt }),
  z.strictObject({ type: z.literal('error'), code: z.string(), message: z.string() }),
]);

export type TaskSpec = z.infer<typeof taskSpecSchema>;
export type FollowUp = z.infer<typeof followUpSchema>;
export type ContextComment = z.infer<typeof contextCommentSchema>;
export type PlanContext = z.infer<typeof planContextSchema>;
export type TaskRef = z.infer<typeof taskRef>;
export type Hello = z.infer<typeof helloSchema>;
export type AgentMessage = z.infer<typeof agentMessageSchema>;
export type CoordinatorMessage = z.infer<typeof coordinatorMessageSchema>;
export type TaskResultMessage = Extract<AgentMessage, { type: 'task.result' }>;

/**
 * The protocol version a hello claims, read before full validation, so a
 * newer agent whose hello has fields this version does not know is still
 * told "protocol_version" rather than "bad_message".
 */
export function helloProtocol(data: unknown): number | undefined {
  try {
    const json = JSON.parse(String(data)) as { type?: unknown; protocol?: unknown };
    return json.type === 'hello' && typeof json.protocol === 'number' ? json.protocol : undefined;
  } catch {
    return undefined;
  }
}

export type Decoded<T> = { ok: true; message: T } | { ok: false; error: string };

/** Parses and validates one frame; never throws. */
export function decode<T>(schema: z.ZodType<T>, data: unknown): Decoded<T> {
  let json: unknown;
  try {
    json = JSON.parse(String(data));
  } catch {
    return { ok: false, error: 'frame is not JSON' };
  }
  const r = schema.safeParse(json);
  if (r.success) return { ok: true, message: r.data };
  const issue = r.error.issues[0]!;
  return { ok: false, error: `${issue.path.join('.') || 'message'}: ${issue.message}` };
}
