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
}

export interface Forge {
  readonly name: string;
  /** Creates the tracking comment, or edits it when `commentId` is given; returns its id. */
  upsertComment(repo: string, issue: number, body: string, commentId: number | null): Promise<number>;
  /** Puts `label` on the issue and takes the other ccc status labels off (null: only take them off). */
  setStatusLabel(repo: string, issue: number, label: StatusLabel | null): Promise<void>;
  openPullRequest(pr: NewPullRequest): Promise<PullRequestRef>;
}
