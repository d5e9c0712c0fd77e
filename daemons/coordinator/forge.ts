/** Where issues live and pull requests are opened: GitHub (Octokit) or the local forge of rehearsals. */
import type { PullRequestRef } from './task-model.js';

export const STATUS_LABELS = ['ccc:queued', 'ccc:running', 'ccc:done', 'ccc:failed'] as const;
export type StatusLabel = (typeof STATUS_LABELS)[number];

export interface NewPullRequest {
  repo: string;
  head: string;
  base: string;
  title: string;
  body: string;
  taskId: number;
  /** A draft pull request (work kept at a limit, marked incomplete). */
  draft?: boolean;
}

/** A comment on an issue or pull request, as context for a task. */
export interface ForgeComment {
  author: string;
  /** GitHub's author_association (the local forge's commenters hold the admin token: OWNER). */
  association: string;
  body: string;
  at: string;
}

export interface Forge {
  readonly name: string;
  /** Creates the tracking comment, or edits it when `commentId` is given; returns its id. `issue` may be a pull request's number. */
  upsertComment(repo: string, issue: number, body: string, commentId: number | null, onPullRequest?: boolean): Promise<number>;
  /** Puts `label` on the issue and takes the other ccc status labels off (null: only take them off). */
  setStatusLabel(repo: string, issue: number, label: StatusLabel | null, onPullRequest?: boolean): Promise<void>;
  openPullRequest(pr: NewPullRequest): Promise<PullRequestRef>;
  /** Replaces a pull request's description (a plan's, as its steps finish). */
  updatePullRequestBody(repo: string, number: number, body: string): Promise<void>;
  /** The open pull request whose head is `head` in `repo`, if there is one. */
  findOpenPullRequest(repo: string, head: string): Promise<PullRequestRef | undefined>;
  /** A draft whose work a follow-up completed is ready for review (the local forge; GitHub needs GraphQL for it, not done). */
  markReady?(repo: string, number: number): Promise<void>;
  /** The comments of an issue or pull request's conversation, oldest first. */
  comments(repo: string, issue: number): Promise<ForgeComment[]>;
}
