/** GitHub's own example webhook payloads (@octokit/webhooks-examples), adjusted per test and signed as GitHub signs them. */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { sign } from '@octokit/webhooks-methods';
import type { WebhookDefinition } from '@octokit/webhooks-examples';

export const SECRET = 'webhook-secret-for-tests-0123456789';
// The package's main is a JSON file (every event's examples), which only require() loads as-is.
const definitions = createRequire(import.meta.url)('@octokit/webhooks-examples') as WebhookDefinition[];

/** The fields of GitHub's payloads these tests adjust; everything else stays as GitHub's example has it. */
interface Label { name: string }
interface User { login: string }
export interface IssuePayload {
  action: string;
  issue: { number: number; title: string; body: string | null; labels: Label[]; author_association: string; user: User; state?: string };
  label?: Label;
  comment?: { body: string; author_association: string; user: User };
  repository: { full_name: string };
  sender: User;
}

/** A deep copy of GitHub's first example of `event` (with `action`), from @octokit/webhooks-examples. */
export function example<T = IssuePayload>(event: string, action?: string): T {
  const definition = definitions.find((d) => d.name === event);
  const found = definition?.examples.find((e) => action === undefined || ('action' in e && e.action === action));
  if (!found) throw new Error(`@octokit/webhooks-examples has no ${event}${action ? `.${action}` : ''} example`);
  return structuredClone(found) as unknown as T;
}

/** The example's own label object, renamed, so the label keeps GitHub's shape. */
export function withLabels(payload: IssuePayload, names: string[]): IssuePayload {
  const template = payload.issue.labels[0] ?? payload.label!;
  payload.issue.labels = names.map((name) => ({ ...template, name }));
  return payload;
}

export function openedWith(labels: string[]): IssuePayload {
  return withLabels(example('issues', 'opened'), labels);
}

export function comment(body: string, association = 'OWNER'): IssuePayload {
  const p = example('issue_comment', 'created');
  p.comment!.body = body;
  p.comment!.author_association = association;
  return p;
}

export interface Delivery {
  event?: string | null;
  delivery?: string | null;
  /** Override the signature: null leaves the header out. */
  signature?: string | null;
  secret?: string;
  rawBody?: string;
}

export async function deliver(url: string, payload: unknown, opts: Delivery = {}): Promise<{ status: number; body: any; delivery: string }> {
  const body = opts.rawBody ?? JSON.stringify(payload);
  const delivery = opts.delivery === undefined ? randomUUID() : opts.delivery;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'GitHub-Hookshot/test' };
  const event = opts.event === undefined ? 'issues' : opts.event;
  if (event !== null) headers['x-github-event'] = event;
  if (delivery !== null) headers['x-github-delivery'] = delivery;
  const signature = opts.signature === undefined ? await sign(opts.secret ?? SECRET, body) : opts.signature;
  if (signature !== null) headers['x-hub-signature-256'] = signature;
  const res = await fetch(`${url}/webhooks/github`, { method: 'POST', headers, body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, delivery: delivery ?? '' };
}

