/**
 * Fuzzing POST /webhooks/github on a real coordinator process with GitHub's
 * own example payloads (every event in @octokit/webhooks-examples), mutated
 * and correctly signed, mutated byte by byte, and forged. The coordinator
 * must never crash or answer 5xx, must keep its memory bounded, and nothing
 * that breaks the documented trigger rules may become a task.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { WebhookDefinition } from '@octokit/webhooks-examples';
import { api } from '../helpers.js';
import { SECRET, comment, example, openedWith, withLabels } from '../github-webhooks.js';
import { FUZZ_SEED, FUZZ_TIMEOUT_MS, fuzzRuns, startCoordinatorProcess, type CoordinatorProcess } from './coordinator-process.js';
import { hostileValue, mutated, mutatedBytes, NASTY_STRINGS, type Json } from './mutate.js';

const definitions = createRequire(import.meta.url)('@octokit/webhooks-examples') as WebhookDefinition[];
const ALL_EXAMPLES = definitions.flatMap((d) => d.examples.map((payload) => ({ event: d.name, payload: payload as unknown as Json })));
const ALLOWED = ['OWNER', 'MEMBER', 'COLLABORATOR'];
/** RSS the coordinator may grow by over one property's runs, after a warm-up. */
const RSS_BOUND = 96 * 1024 * 1024;

const hmac = (body: Buffer, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

async function post(url: string, body: Buffer, headers: Record<string, string | null>): Promise<{ status: number; json: any }> {
  const h: Record<string, string> = { 'content-type': 'application/json' };
  for (const [k, v] of Object.entries(headers)) if (v !== null) h[k] = v;
  const res = await fetch(`${url}/webhooks/github`, { method: 'POST', headers: h, body: new Uint8Array(body), signal: AbortSignal.timeout(10_000) });
  const text = await res.text();
  let json: unknown;
  try { json = JSON.parse(text); } catch { json = text; }
  return { status: res.status, json };
}

/** The seeds that do make tasks (before mutation): what GitHub sends when a trusted user asks for work. */
function triggers(): Array<{ event: string; payload: Json }> {
  const opened = openedWith(['ccc', 'ccc:backend']);
  opened.issue.author_association = 'OWNER';
  const labeled = withLabels(example('issues', 'labeled'), ['ccc']);
  labeled.label!.name = 'ccc';
  return [
    { event: 'issues', payload: opened as unknown as Json },
    { event: 'issues', payload: labeled as unknown as Json },
    { event: 'issue_comment', payload: comment('/ccc run') as unknown as Json },
  ];
}

const isObject = (v: unknown): v is Record<string, any> => v !== null && typeof v === 'object' && !Array.isArray(v);
const isRepo = (s: unknown) => typeof s === 'string' && /^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9_.][A-Za-z0-9_.-]{0,99}$/.test(s) && !['.', '..'].includes(s.split('/')[1]!);
const sameLabel = (name: unknown) => typeof name === 'string' && name.toLowerCase() === 'ccc';

/**
 * docs/webhooks.md, restated independently of daemons/coordinator/webhook-events.ts:
 * why `payload` of `event` may make a task, or undefined when it may not.
 */
function mayMakeTask(event: string, p: unknown): string | undefined {
  if (!isObject(p) || !isObject(p.issue) || !isObject(p.repository) || !isRepo(p.repository.full_name)) return undefined;
  const issue = p.issue;
  if (!Number.isInteger(issue.number) || issue.number <= 0 || typeof issue.title !== 'string') return undefined;
  const labels = issue.labels ?? [];
  if (!Array.isArray(labels) || !labels.every((l) => isObject(l) && typeof l.name === 'string')) return undefined;
  if (!isObject(issue.user) || typeof issue.user.login !== 'string' || typeof issue.author_association !== 'string') return undefined;
  if (event === 'issues' && p.action === 'opened') {
    return labels.some((l) => sameLabel(l.name)) && ALLOWED.includes(issue.author_association) ? 'opened with the label by a trusted author' : undefined;
  }
  if (event === 'issues' && p.action === 'labeled') {
    if (!isObject(p.sender) || typeof p.sender.login !== 'string' || !isObject(p.label) || !sameLabel(p.label.name) || issue.state === 'closed') return undefined;
    return p.sender.login !== issue.user.login || ALLOWED.includes(issue.author_association) ? 'labelled' : undefined;
  }
  if (event === 'issue_comment' && p.action === 'created') {
    const c = p.comment;
    if (!isObject(c) || typeof c.body !== 'string' || !/^\/ccc[ \t]+run(\s|$)/i.test(c.body.trimStart())) return undefined;
    return ALLOWED.includes(c.author_association) && issue.pull_request == null && issue.state !== 'closed' ? '/ccc run by a trusted commenter' : undefined;
  }
  return undefined;
}

/** How far the coordinator's RSS grew while `runs` ran. */
async function measured(c: CoordinatorProcess, runs: () => Promise<void>): Promise<number> {
  const before = c.rss();
  await runs();
  return c.rss() - before;
}

describe('fuzzing POST /webhooks/github (real coordinator process)', () => {
  it('signed, mutated GitHub payloads: no crash, no 5xx, and a task only where the rules allow one', async () => {
    const c = await startCoordinatorProcess();
    const seeds = fc.oneof(
      { arbitrary: fc.constantFrom(...triggers()), weight: 3 },
      { arbitrary: fc.constantFrom(...ALL_EXAMPLES), weight: 1 },
    );
    const input = fc.record({
      seed: seeds,
      issueNumber: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      mutate: fc.boolean(),
      event: fc.oneof({ arbitrary: fc.constant(undefined), weight: 8 }, { arbitrary: fc.constantFrom('issues', 'issue_comment', 'ping', 'push', 'x'), weight: 2 }),
    }).chain(({ seed, issueNumber, mutate, event }) => {
      const base = structuredClone(seed.payload) as Record<string, any>;
      if (isObject(base.issue)) base.issue.number = issueNumber; // a fresh issue per run, so "task exists" is rare
      return (mutate ? mutated(base) : fc.constant<Json>(base)).map((payload) => ({ event: event ?? seed.event, payload }));
    });
    let created = 0;
    const statuses = new Map<number, number>();
    await post(c.url, Buffer.from('{}'), { 'x-github-event': 'ping', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': hmac(Buffer.from('{}')) });
    const grew = await measured(c, () => fc.assert(fc.asyncProperty(input, async ({ event, payload }) => {
      const body = Buffer.from(JSON.stringify(payload));
      const r = await post(c.url, body, { 'x-github-event': event, 'x-github-delivery': randomUUID(), 'x-hub-signature-256': hmac(body) });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      expect([200, 201, 202, 400, 413]).toContain(r.status);
      if (r.status === 201) {
        created++;
        expect(mayMakeTask(event, payload), `a task from ${event} ${JSON.stringify(payload).slice(0, 300)}`).toBeDefined();
        const p = payload as Record<string, any>;
        expect(r.json.task).toMatchObject({ repo: p.repository.full_name, issueNumber: p.issue.number, title: p.issue.title, body: p.issue.body ?? '', source: 'github' });
      }
    }), { seed: FUZZ_SEED, numRuns: fuzzRuns(300) }));
    expect(c.alive()).toBe(true);
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
    // Ids count up from 1 and nothing is deleted: the newest id is how many tasks there are.
    const newest = (await api(c.url, '/tasks?limit=1')).body.tasks[0]?.id ?? 0;
    expect(newest).toBe(created);
    expect(created).toBeGreaterThan(0); // the fuzzer did reach the path that makes tasks
    expect(grew, `RSS grew by ${(grew / 1e6).toFixed(1)} MB`).toBeLessThan(RSS_BOUND);
    // The payloads carried the tokens and the secret in every field: none of them may reach the log.
    await new Promise((r) => setTimeout(r, 200));
    for (const secret of c.secrets) expect(c.log().includes(secret)).toBe(false);
    console.log(`webhook fuzz: ${[...statuses].map(([s, n]) => `${n}× ${s}`).join(', ')}; ${created} tasks; RSS ${(grew / 1e6).toFixed(1)} MB growth, ${(c.rss() / 1e6).toFixed(0)} MB now`);
  }, FUZZ_TIMEOUT_MS);

  it('bodies mutated byte by byte and signed: 401 exactly when the bytes are not UTF-8, never 5xx', async () => {
    const c = await startCoordinatorProcess();
    const text = JSON.stringify(openedWith(['ccc']));
    await fc.assert(fc.asyncProperty(mutatedBytes(text), async (body) => {
      const r = await post(c.url, body, { 'x-github-event': 'issues', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': hmac(body) });
      const utf8 = Buffer.from(body.toString('utf8')).equals(body);
      if (body.length === 0) expect(r.status).toBe(400);
      else if (!utf8) expect(r.status).toBe(401); // verify() signs the decoded text: invalid bytes fail closed
      else expect([200, 201, 202, 400]).toContain(r.status);
    }), { seed: FUZZ_SEED, numRuns: fuzzRuns(150) });
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
  }, FUZZ_TIMEOUT_MS);

  it('forged, unsigned and wrongly signed deliveries: all 401, no task, the signature never logged', async () => {
    const c = await startCoordinatorProcess();
    const body = Buffer.from(JSON.stringify(openedWith(['ccc'])));
    const signature = fc.oneof(
      fc.constant(null),
      fc.string({ maxLength: 80 }).filter((s) => /^[\x21-\x7e]*$/.test(s)),
      fc.constantFrom(...NASTY_STRINGS.filter((s) => /^[\x20-\x7e]{1,200}$/.test(s))),
      fc.stringMatching(/^sha256=[0-9a-f]{64}$/),
      fc.stringMatching(/^sha1=[0-9a-f]{40}$/),
      fc.constant(hmac(body, 'not-the-secret')),
      fc.constant(hmac(Buffer.from(`${body} `))),
      fc.constant(hmac(body).slice(0, -1)),
    );
    const sent: string[] = [];
    await fc.assert(fc.asyncProperty(signature, async (sig) => {
      if (sig && sig.length >= 16) sent.push(sig);
      const r = await post(c.url, body, { 'x-github-event': 'issues', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': sig });
      expect(r.status).toBe(401);
      expect(JSON.stringify(r.json)).not.toContain(SECRET);
      if (sig && sig.length >= 16) expect(JSON.stringify(r.json)).not.toContain(sig);
    }), { seed: FUZZ_SEED, numRuns: fuzzRuns(150) });
    expect((await api(c.url, '/tasks')).body.tasks).toEqual([]);
    await new Promise((r) => setTimeout(r, 200)); // let the log reach its file
    const log = c.log();
    for (const s of [...sent, ...c.secrets]) expect(log.includes(s), `log holds ${s.slice(0, 20)}…`).toBe(false);
  }, FUZZ_TIMEOUT_MS);

  it('hostile X-GitHub-Event and X-GitHub-Delivery headers: 400 or handled (431 past 16 KiB of headers), never 5xx', async () => {
    const c = await startCoordinatorProcess();
    const header = fc.oneof(fc.string({ maxLength: 120 }), fc.constantFrom(...NASTY_STRINGS), hostileValue.map((v) => JSON.stringify(v)))
      .filter((s) => /^[\x20-\x7e]*$/.test(s)); // what an HTTP client can put in a header at all
    const body = Buffer.from(JSON.stringify(example('ping')));
    await fc.assert(fc.asyncProperty(header, header, async (event, delivery) => {
      const r = await post(c.url, body, { 'x-github-event': event, 'x-github-delivery': delivery, 'x-hub-signature-256': hmac(body) });
      if (event.length + delivery.length > 16 * 1024) return void expect(r.status).toBe(431); // node:http's header limit
      expect([200, 202, 400]).toContain(r.status);
      if (!/^[a-z_]{1,64}$/.test(event.trim()) || !/^[A-Za-z0-9._-]{1,100}$/.test(delivery.trim())) expect(r.status).toBe(400);
    }), { seed: FUZZ_SEED, numRuns: fuzzRuns(150) });
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
  }, FUZZ_TIMEOUT_MS);

  it('answers 413 past 1 MiB (and not at exactly 1 MiB), 415 for a compressed body, and stays up', async () => {
    const c = await startCoordinatorProcess();
    const base = Buffer.from(JSON.stringify(openedWith(['bug'])));
    const padTo = (size: number) => {
      const payload = openedWith(['bug']);
      payload.issue.body = 'x'.repeat(size - base.length + (payload.issue.body ?? '').length);
      const b = Buffer.from(JSON.stringify(payload));
      expect(b.length).toBe(size);
      return b;
    };
    const send = (b: Buffer, extra: Record<string, string> = {}) => post(c.url, b, { 'x-github-event': 'issues', 'x-github-delivery': randomUUID(), 'x-hub-signature-256': hmac(b), ...extra });
    expect((await send(padTo(1024 * 1024))).status).toBe(202); // not labelled: ignored, but read and verified
    expect((await send(padTo(1024 * 1024 + 1))).status).toBe(413);
    expect((await send(Buffer.alloc(8 * 1024 * 1024, 0x20))).status).toBe(413);
    expect((await send(base, { 'content-encoding': 'gzip' })).status).toBe(415);
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
  }, FUZZ_TIMEOUT_MS);
});
