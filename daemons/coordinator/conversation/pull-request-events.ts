/**
 * What a pull request's conversation asks of the coordinator, from the payload
 * alone (no I/O): `/ccc` in a comment on a pull request (GitHub sends it as
 * issue_comment with `issue.pull_request`), in a submitted review, or in a
 * review comment on a line. `/ccc cancel` and `/ccc retry` act on the pull
 * request's task; anything else after `/ccc` is a follow-up request.
 */
import { z } from 'zod';
import { MAX_COMMENT_CHARS, type FollowUp } from '../../shared/protocol.js';
import { repoSchema } from '../../shared/names.js';

export type PullIntent =
  | { kind: 'ignore'; reason: string }
  | { kind: 'cancel'; repo: string; issueNumber: number; by: string }
  | { kind: 'retry'; repo: string; number: number; pull: true; by: string }
  | { kind: 'follow-up'; repo: string; pull: number; followUp: FollowUp; why: string }
  | { kind: 'invalid'; what: string; error: z.ZodError };

const user = z.object({ login: z.string() });
const repository = z.object({ full_name: repoSchema });
const pullRequest = z.object({ number: z.int().positive(), state: z.string().optional() });
const reviewPayload = z.object({
  review: z.object({ body: z.string().nullish(), author_association: z.string(), user }),
  pull_request: pullRequest,
  repository,
});
const reviewCommentPayload = z.object({
  comment: z.object({
    body: z.string().nullish(), author_association: z.string(), user,
    path: z.string().nullish(), line: z.int().nullish(), original_line: z.int().nullish(), position: z.int().nullish(), diff_hunk: z.string().nullish(),
  }),
  pull_request: pullRequest,
  repository,
});

/** Who may ask for work, and what to call the allowlist in a refusal. */
export interface Allowlist { allowedAssociations: readonly string[] }

/** The `/ccc` command word anywhere in a text (reviews put it after other words), '' for a bare `/ccc`, else undefined. */
export function findCommand(body: string): string | undefined {
  const m = /(?:^|\s)\/ccc(?:[ \t]+(\S+))?(?=\s|$)/.exec(body);
  return m ? (m[1] ?? '').toLowerCase() : undefined;
}

/** A `/ccc` comment on a pull request (the issue_comment payload's parts the caller has already checked). */
export function pullComment(repo: string, pull: number, author: string, body: string, command: string): PullIntent {
  const by = `@${author} on GitHub`;
  if (command === 'cancel') return { kind: 'cancel', repo, issueNumber: pull, by };
  if (command === 'retry') return { kind: 'retry', repo, number: pull, pull: true, by };
  return followUp(repo, pull, { kind: 'comment', author, body: clip(body), pullRequest: pull }, `/ccc comment by @${author} on pull request #${pull}`);
}

export function reviewEvent(action: string | null, payload: unknown, policy: Allowlist): PullIntent {
  if (action !== 'submitted') return ignore(`pull_request_review.${action ?? '(no action)'} is not acted on (only submitted)`);
  const parsed = reviewPayload.safeParse(payload);
  if (!parsed.success) return { kind: 'invalid', what: 'pull_request_review.submitted payload', error: parsed.error };
  const { review, pull_request: pr, repository: { full_name: repo } } = parsed.data;
  const body = review.body ?? '';
  const command = findCommand(body);
  if (command === undefined) return ignore('review does not contain /ccc');
  const refused = notAllowed(`reviewer @${review.user.login}`, review.author_association, policy);
  if (refused) return refused;
  if (command === 'cancel' || command === 'retry') return pullComment(repo, pr.number, review.user.login, body, command);
  return followUp(repo, pr.number, { kind: 'review', author: review.user.login, body: clip(body), pullRequest: pr.number }, `/ccc in a review by @${review.user.login} on pull request #${pr.number}`);
}

export function reviewCommentEvent(action: string | null, payload: unknown, policy: Allowlist): PullIntent {
  if (action !== 'created') return ignore(`pull_request_review_comment.${action ?? '(no action)'} is not acted on (only created)`);
  const parsed = reviewCommentPayload.safeParse(payload);
  if (!parsed.success) return { kind: 'invalid', what: 'pull_request_review_comment.created payload', error: parsed.error };
  const { comment, pull_request: pr, repository: { full_name: repo } } = parsed.data;
  const body = comment.body ?? '';
  const command = findCommand(body);
  if (command === undefined) return ignore('review comment does not contain /ccc');
  const refused = notAllowed(`reviewer @${comment.user.login}`, comment.author_association, policy);
  if (refused) return refused;
  if (command === 'cancel' || command === 'retry') return pullComment(repo, pr.number, comment.user.login, body, command);
  return followUp(repo, pr.number, {
    kind: 'review-comment', author: comment.user.login, body: clip(body), pullRequest: pr.number,
    path: comment.path ?? null, line: comment.line ?? comment.original_line ?? comment.position ?? null, diffHunk: comment.diff_hunk ? clip(comment.diff_hunk) : null,
  }, `/ccc review comment by @${comment.user.login} on ${comment.path ?? 'a file'} of pull request #${pr.number}`);
}

export function notAllowed(who: string, association: string, policy: Allowlist): PullIntent | undefined {
  if (policy.allowedAssociations.includes(association)) return undefined;
  return ignore(`${who} is ${association}, not one of ${policy.allowedAssociations.join(', ')} (github.allowedAssociations in cluster.yml)`);
}

function followUp(repo: string, pull: number, request: FollowUp, why: string): PullIntent {
  return { kind: 'follow-up', repo, pull, followUp: request, why };
}

function clip(text: string): string {
  return text.length > MAX_COMMENT_CHARS ? `${text.slice(0, MAX_COMMENT_CHARS - 20)}\n[… cut]` : text;
}

function ignore(reason: string): PullIntent {
  return { kind: 'ignore', reason };
}
