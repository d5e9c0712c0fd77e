/**
 * What a GitHub webhook delivery asks of the coordinator, decided from the
 * event name and payload alone (no I/O): the trigger label, the `/ccc`
 * commands and the author_association allowlist all live here.
 * docs/webhooks.md describes the same rules for users.
 */
import { z } from 'zod';
import { repoSchema } from '../shared/names.js';
import { pullComment, reviewCommentEvent, reviewEvent, type PullIntent } from './conversation/pull-request-events.js';

export interface WebhookPolicy {
  triggerLabel: string;
  /** GitHub author_association values that may trigger work. */
  allowedAssociations: readonly string[];
}

/** The issue a task is made from. */
export interface IssueWork {
  repo: string;
  issueNumber: number;
  title: string;
  body: string;
  labels: string[];
}

export type WebhookIntent =
  | { kind: 'pong'; zen: string | null; missingEvents: string[] }
  | { kind: 'ignore'; reason: string }
  | { kind: 'run'; issue: IssueWork; why: string }
  | { kind: 'plan'; issue: IssueWork; why: string }
  | { kind: 'approve'; repo: string; issueNumber: number; by: string }
  | { kind: 'cancel'; repo: string; issueNumber: number; by: string }
  | { kind: 'retry'; repo: string; number: number; pull: boolean; by: string }
  | Extract<PullIntent, { kind: 'follow-up' }>
  | { kind: 'invalid'; what: string; error: z.ZodError };

/** The events the webhook must send (GitHub: "Issues", "Issue comments", "Pull request reviews", "Pull request review comments"). */
export const NEEDED_EVENTS: readonly string[] = ['issues', 'issue_comment', 'pull_request_review', 'pull_request_review_comment'];
export const COMMANDS = ['run', 'cancel', 'retry', 'plan', 'approve'] as const;

const label = z.object({ name: z.string() });
const user = z.object({ login: z.string() });
const issue = z.object({
  number: z.int().positive(),
  title: z.string(),
  body: z.string().nullish(),
  state: z.string().optional(),
  labels: z.array(label).default([]),
  author_association: z.string(),
  user,
  /** Present when the "issue" is a pull request (issue_comment fires for both). */
  pull_request: z.unknown().optional(),
});
const repository = z.object({ full_name: repoSchema });
const issuesPayload = z.object({ action: z.string(), issue, label: label.optional(), repository, sender: user });
const commentPayload = z.object({
  action: z.string(),
  issue,
  comment: z.object({ body: z.string().nullish(), author_association: z.string(), user }),
  repository,
  sender: user,
});
const pingPayload = z.object({
  zen: z.string().optional(),
  hook: z.object({ events: z.array(z.string()).optional() }).nullish(),
});
const actionOnly = z.object({ action: z.string().optional() });

type Issue = z.infer<typeof issue>;

/** The payload's `action`, if it has one (for the delivery record and the log). */
export function actionOf(payload: unknown): string | null {
  const parsed = actionOnly.safeParse(payload);
  return (parsed.success && parsed.data.action) || null;
}

export function interpret(event: string, payload: unknown, policy: WebhookPolicy): WebhookIntent {
  switch (event) {
    case 'ping': return ping(payload);
    case 'issues': return issuesEvent(payload, policy);
    case 'issue_comment': return commentEvent(payload, policy);
    case 'pull_request_review': return reviewEvent(actionOf(payload), payload, policy);
    case 'pull_request_review_comment': return reviewCommentEvent(actionOf(payload), payload, policy);
    default: return ignore(`event ${event} is not acted on (only ping, issues, issue_comment, pull_request_review and pull_request_review_comment)`);
  }
}

function ping(payload: unknown): WebhookIntent {
  const parsed = pingPayload.safeParse(payload);
  const data = parsed.success ? parsed.data : {};
  const events = data.hook?.events;
  const missingEvents = !events || events.includes('*') ? [] : NEEDED_EVENTS.filter((e) => !events.includes(e));
  return { kind: 'pong', zen: data.zen ?? null, missingEvents };
}

function issuesEvent(payload: unknown, policy: WebhookPolicy): WebhookIntent {
  const action = actionOf(payload);
  if (action !== 'opened' && action !== 'labeled') return ignore(`issues.${action ?? '(no action)'} is not acted on (only opened and labeled)`);
  const parsed = issuesPayload.safeParse(payload);
  if (!parsed.success) return { kind: 'invalid', what: `issues.${action} payload`, error: parsed.error };
  const { issue, repository, sender } = parsed.data;
  const trigger = policy.triggerLabel;
  const ref = `${repository.full_name}#${issue.number}`;

  if (action === 'opened') {
    if (!issue.labels.some((l) => sameLabel(l.name, trigger))) return ignore(`issue ${ref} was opened without the "${trigger}" label`);
    // Issue templates apply labels for anyone, so the label proves nothing here: the author must be trusted.
    const refused = notAllowed(`issue author @${issue.user.login}`, issue.author_association, policy);
    if (refused) return refused;
    return run(repository.full_name, issue, `issue opened with the "${trigger}" label by @${issue.user.login} (${issue.author_association})`);
  }

  const name = parsed.data.label?.name;
  if (name === undefined || !sameLabel(name, trigger)) return ignore(`label "${name ?? ''}" on ${ref} is not the trigger label "${trigger}"`);
  if (issue.state === 'closed') return ignore(`issue ${ref} is closed`);
  // Only triage or write access can label someone else's issue. An author labelling their own issue may be
  // an issue template doing it on their behalf, so then the author's association must pass.
  if (sender.login === issue.user.login) {
    const refused = notAllowed(`@${sender.login} (labelling their own issue)`, issue.author_association, policy);
    if (refused) return refused;
  }
  return run(repository.full_name, issue, `"${trigger}" label added by @${sender.login}`);
}

function commentEvent(payload: unknown, policy: WebhookPolicy): WebhookIntent {
  const action = actionOf(payload);
  if (action !== 'created') return ignore(`issue_comment.${action ?? '(no action)'} is not acted on (only created)`);
  const parsed = commentPayload.safeParse(payload);
  if (!parsed.success) return { kind: 'invalid', what: 'issue_comment.created payload', error: parsed.error };
  const { issue, comment, repository } = parsed.data;
  const command = parseCommand(comment.body ?? '');
  if (command === undefined) return ignore('comment is not a /ccc command');
  const ref = `${repository.full_name}#${issue.number}`;
  const onPull = issue.pull_request != null;
  if (!onPull && !(COMMANDS as readonly string[]).includes(command)) {
    return ignore(`unknown command "/ccc ${command}" on ${ref} (known: ${COMMANDS.map((c) => `/ccc ${c}`).join(', ')}; on a pull request, /ccc followed by what to change)`);
  }
  const refused = notAllowed(`commenter @${comment.user.login}`, comment.author_association, policy);
  if (refused) return refused;
  // On a pull request: cancel, retry, or a follow-up request on its branch.
  if (onPull) return pullComment(repository.full_name, issue.number, comment.user.login, comment.body ?? '', command) as WebhookIntent;
  if (command === 'cancel') return { kind: 'cancel', repo: repository.full_name, issueNumber: issue.number, by: `@${comment.user.login} on GitHub` };
  if (command === 'retry') return { kind: 'retry', repo: repository.full_name, number: issue.number, pull: false, by: `@${comment.user.login} on GitHub` };
  if (command === 'approve') return { kind: 'approve', repo: repository.full_name, issueNumber: issue.number, by: `@${comment.user.login} on GitHub` };
  if (issue.state === 'closed') return ignore(`issue ${ref} is closed`);
  const why = `/ccc ${command} by @${comment.user.login} (${comment.author_association})`;
  return run(repository.full_name, issue, why, command === 'plan' ? 'plan' : 'run');
}

/**
 * The command word of a comment that starts with `/ccc`, '' for a bare `/ccc`,
 * undefined for any other comment.
 *
 * @example parseCommand('/ccc run\nplease') === 'run'
 */
export function parseCommand(body: string): string | undefined {
  const m = /^\/ccc(?:[ \t]+(\S+))?(?:\s|$)/.exec(body.trimStart());
  return m ? (m[1] ?? '').toLowerCase() : undefined;
}

/** `run`: work on the issue; `plan`: a planner run that proposes the steps first. */
function run(repo: string, issue: Issue, why: string, kind: 'run' | 'plan' = 'run'): WebhookIntent {
  return {
    kind,
    issue: { repo, issueNumber: issue.number, title: issue.title, body: issue.body ?? '', labels: issue.labels.map((l) => l.name) },
    why,
  };
}

function notAllowed(who: string, association: string, policy: WebhookPolicy): WebhookIntent | undefined {
  if (policy.allowedAssociations.includes(association)) return undefined;
  return ignore(`${who} is ${association}, not one of ${policy.allowedAssociations.join(', ')} (github.allowedAssociations in cluster.yml)`);
}

/** GitHub label names are unique regardless of case. */
function sameLabel(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}

function ignore(reason: string): WebhookIntent {
  return { kind: 'ignore', reason };
}
