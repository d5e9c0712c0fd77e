/**
 * POST /webhooks/github — the signature is the auth. Verifies
 * X-Hub-Signature-256 over the exact bytes received, dedupes on
 * X-GitHub-Delivery, and turns issue events and `/ccc` comments into tasks.
 * The delivery row and whatever it did commit in one transaction before the
 * 2xx is sent, so a replay (even after a restart) does nothing twice.
 * Deliveries arriving together share that commit (group commit: one fsync
 * for the batch, a savepoint for each delivery, see group-commit.ts).
 */
import { CccError } from '../shared/errors.js';
import { verify } from '@octokit/webhooks-methods';
import express, { type Request, type Router } from 'express';
import type { Settings } from '../shared/config.js';
import type { Logger } from '../shared/log.js';
import { MAX_BODY_BYTES } from './api.js';
import type { Db } from './db.js';
import { HttpError } from './http-error.js';
import { createWork, specialtyPolicy } from './new-task.js';
import type { Plans } from './plans/plans.js';
import type { Planner } from './plans/planner.js';
import type { Outbox, Scheduler } from './scheduler.js';
import type { Task, TaskState } from './task-model.js';
import type { Revoked, TaskStore } from './task-store.js';
import { WebhookDeliveries } from './webhook-deliveries.js';
import { GroupCommit } from './group-commit.js';
import type { ContextComment } from '../shared/protocol.js';
import { fetchContext } from './conversation/context.js';
import { cancelOpen, continuationOf, createFollowUp, retryLatest, type Continued } from './conversation/follow-ups.js';

type Continuation = Awaited<ReturnType<typeof continuationOf>>;
import type { Forge } from './forge.js';
import { actionOf, interpret, type WebhookIntent } from './webhook-events.js';

export interface WebhookDeps {
  settings: Settings;
  /** Where the comments given to tasks as context are read. */
  forge: Forge;
  db: Db;
  store: TaskStore;
  /** Makes a plan of an issue whose labels name several specialties. */
  plans: Plans;
  /** `/ccc plan` and `/ccc approve`. */
  planner: Planner;
  scheduler: Scheduler;
  log: Logger;
  /** Batches the deliveries' transactions (default: its own, over `store`). */
  commits?: GroupCommit;
}

/** While an issue has a task in one of these states, triggers answer with it instead of making another. */
const OPEN_STATES: readonly TaskState[] = ['queued', 'assigned', 'running'];
/** GitHub sends GUIDs; anything printable and short is accepted as a key. */
const DELIVERY_ID = /^[A-Za-z0-9._-]{1,100}$/;
const EVENT_NAME = /^[a-z_]{1,64}$/;

/** What one delivery did, and what the response says about it. */
interface Reply {
  status: number;
  body: Record<string, unknown>;
  outcome: string;
  task?: Task;
  created?: boolean;
  revoked?: Revoked;
  duplicate?: boolean;
  /** Assignments made in the delivery's transaction, sent once it has committed. */
  outbox?: Outbox;
}

/**
 * The router to mount at /webhooks/github.
 *
 * @example app.use('/webhooks/github', githubWebhooks({ settings, db, store, scheduler, log }))
 */
export function githubWebhooks({ settings, forge, db, store, plans, planner, scheduler, log, commits = new GroupCommit((fn) => store.inTransaction(fn)) }: WebhookDeps): Router {
  const router = express.Router();
  const secret = settings.webhookSecret;
  if (!secret) {
    log.info('CCC_WEBHOOK_SECRET is not set: POST /webhooks/github answers 503 until it is');
    router.post('/', (req) => {
      log.warn({ delivery: req.get('x-github-delivery') }, 'webhook refused: CCC_WEBHOOK_SECRET is not set');
      throw new HttpError(503, 'webhooks_disabled', 'webhooks are off because CCC_WEBHOOK_SECRET is not set: set it (on a provisioned node: /etc/ccc/*.env) to the secret of the GitHub webhook and restart the coordinator');
    });
    return router;
  }
  const policy = { triggerLabel: settings.triggerLabel, allowedAssociations: settings.cluster.github.allowedAssociations };
  const routing = specialtyPolicy(settings);
  const deliveries = new WebhookDeliveries(db);

  const openTask = (repo: string, issueNumber: number): Task | undefined => {
    const task = store.forIssue(repo, issueNumber);
    return task && OPEN_STATES.includes(task.state) ? task : undefined;
  };

  /** Does what the intent asks; runs inside the delivery's transaction. */
  const act = (intent: Exclude<WebhookIntent, { kind: 'invalid' }>, context: ContextComment[], continued: Continuation): Reply => {
    switch (intent.kind) {
      case 'pong': {
        const missing = intent.missingEvents.length > 0 ? { missingEvents: intent.missingEvents } : {};
        return { status: 200, body: { pong: true, zen: intent.zen, ...missing }, outcome: 'pong' };
      }
      case 'ignore':
        return ignored(intent.reason);
      case 'run': {
        const { issue } = intent;
        const current = openTask(issue.repo, issue.issueNumber);
        if (current) return { status: 200, body: { outcome: 'task-exists', task: current }, outcome: 'task-exists', task: current };
        const task = createWork(store, plans, { ...issue, source: 'github', ...continued, context }, routing);
        return { status: 201, body: { outcome: 'task-created', task }, outcome: 'task-created', task, created: true };
      }
      case 'cancel': {
        const done = cancelOpen(store, intent);
        if ('reason' in done) return ignored(done.reason);
        return { status: 200, body: { outcome: 'task-cancelled', task: done.task }, outcome: 'task-cancelled', task: done.task, revoked: done.revoked };
      }
      case 'retry':
        return continuedReply(retryLatest(store, intent), 'task-retried');
      case 'follow-up':
        return continuedReply(createFollowUp(store, { ...intent, context }), 'task-created');
      case 'plan': {
        const current = openTask(intent.issue.repo, intent.issue.issueNumber);
        if (current) return { status: 200, body: { outcome: 'task-exists', task: current }, outcome: 'task-exists', task: current };
        const task = planner.propose({ ...intent.issue, source: 'github', context });
        return { status: 201, body: { outcome: 'planner-started', task }, outcome: 'planner-started', task, created: true };
      }
      case 'approve': {
        const proposed = planner.latestFor(intent.repo, intent.issueNumber);
        if (!proposed) return ignored(`no /ccc plan proposal on ${intent.repo}#${intent.issueNumber} to approve; comment /ccc plan first`);
        try {
          const plan = planner.approve(proposed.id, intent.by);
          return { status: 201, body: { outcome: 'plan-created', task: plan }, outcome: 'plan-created', task: plan, created: true };
        } catch (err) {
          if (err instanceof CccError) return ignored(err.message);
          throw err;
        }
      }
    }
  };

  router.post('/', express.raw({ type: () => true, limit: MAX_BODY_BYTES, inflate: false }), async (req, res) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    await checkSignature(req, raw, secret, log);
    const { event, delivery } = deliveryHeaders(req);
    const payload = parseJson(raw);
    const action = actionOf(payload);
    const intent = interpret(event, payload, policy);
    if (intent.kind === 'invalid') throw HttpError.fromZod(intent.error, intent.what);

    // Context is read before the transaction (it is I/O); a replayed delivery reads it again and uses nothing.
    const context = await contextFor(intent, forge, policy.allowedAssociations, log);
    const continued: Continuation = intent.kind === 'run' ? await continuationOf(store, forge, intent.issue.repo, intent.issue.issueNumber) : {};
    // Settles once the batch this delivery joined has committed; a delivery that throws is rolled back alone.
    const reply = await commits.run((): Reply => {
      const prior = deliveries.get(delivery);
      if (prior) {
        const task = prior.taskId === null ? undefined : store.get(prior.taskId);
        return { status: 200, body: { duplicate: true, outcome: prior.outcome, ...(task ? { task } : {}) }, outcome: prior.outcome, duplicate: true };
      }
      const done = act(intent, context, continued);
      const installation = installationOf(payload); // GitHub App deliveries say which installation sent them
      if (done.created && done.task && installation) store.setInstallation(done.task.id, installation);
      deliveries.record({ id: delivery, event, action, outcome: done.outcome, taskId: done.task?.id ?? null });
      // A free agent gets the new task in the same commit.
      return done.created ? { ...done, outbox: scheduler.assignIfFree() } : done;
    });

    // Committed: now tell the scheduler and the agents.
    if (reply.outbox?.length) scheduler.send(reply.outbox);
    else if (reply.created) scheduler.schedule();
    if (reply.revoked) scheduler.revoke(reply.revoked, intent.kind === 'cancel' ? `cancelled by ${intent.by}` : 'cancelled');
    const fields = { delivery, event, action, outcome: reply.outcome, taskId: reply.task?.id, ...(intent.kind === 'run' || intent.kind === 'follow-up' ? { why: intent.why } : {}) };
    const msg = reply.duplicate ? 'webhook delivery seen before; nothing done' : intent.kind === 'ignore' ? 'webhook ignored' : 'webhook handled';
    log.info(fields, msg);
    if (!reply.duplicate && intent.kind === 'pong' && intent.missingEvents.length > 0) {
      log.warn({ delivery, missingEvents: intent.missingEvents }, 'the GitHub webhook does not send every event the coordinator needs: tick "Issues", "Issue comments", "Pull request reviews" and "Pull request review comments" in its settings (docs/webhooks.md)');
    }
    // For the deliveries metric: what was done, without the free-text reason.
    res.locals.outcome = reply.duplicate ? 'duplicate' : reply.outcome.split(':')[0];
    res.status(reply.status).json(reply.body);
  });
  return router;
}

function continuedReply(done: Continued, created: string): Reply {
  if (done.outcome === 'ignored') return ignored(done.reason);
  if (done.outcome === 'task-exists') return { status: 200, body: { outcome: 'task-exists', task: done.task }, outcome: 'task-exists', task: done.task };
  return { status: 201, body: { outcome: created, task: done.task }, outcome: created, task: done.task, created: true };
}

/** The comments a new task carries: the issue's for a run, the pull request's for a follow-up. */
async function contextFor(intent: WebhookIntent, forge: Forge, allowedAssociations: readonly string[], log: Logger): Promise<ContextComment[]> {
  if (intent.kind === 'run' || intent.kind === 'plan') return fetchContext(forge, { repo: intent.issue.repo, number: intent.issue.issueNumber, allowedAssociations }, log);
  if (intent.kind === 'follow-up') return fetchContext(forge, { repo: intent.repo, number: intent.pull, allowedAssociations, exclude: intent.followUp.body }, log);
  return [];
}

/** The GitHub App installation a delivery came from (`installation.id`), if any. */
export function installationOf(payload: unknown): number | undefined {
  const id = (payload as { installation?: { id?: unknown } } | null)?.installation?.id;
  return typeof id === 'number' && Number.isSafeInteger(id) && id > 0 ? id : undefined;
}

function ignored(reason: string): Reply {
  return { status: 202, body: { ignored: reason }, outcome: `ignored: ${reason}` };
}

/** 401 unless the body carries GitHub's HMAC-SHA256 made with our secret. Never echoes the secret or the signature. */
async function checkSignature(req: Request, raw: Buffer, secret: string, log: Logger): Promise<void> {
  const signature = req.get('x-hub-signature-256');
  const delivery = req.get('x-github-delivery');
  if (!signature) {
    log.warn({ delivery, ip: req.ip }, 'webhook refused: no X-Hub-Signature-256');
    throw new HttpError(401, 'unauthorized', 'missing X-Hub-Signature-256: give the GitHub webhook a secret equal to CCC_WEBHOOK_SECRET, so GitHub signs each delivery');
  }
  if (raw.length === 0) throw new HttpError(400, 'invalid_request', 'the body is empty: GitHub sends each event as a JSON body');
  // verify() signs the UTF-8 encoding of the string. Decoding valid UTF-8 and encoding it again gives back
  // exactly the bytes received (Buffer keeps a BOM); an invalid byte changes them, so the check fails closed.
  // It compares in constant time.
  if (!(await verify(secret, raw.toString('utf8'), signature))) {
    log.warn({ delivery, ip: req.ip }, 'webhook refused: X-Hub-Signature-256 does not match the body');
    throw new HttpError(401, 'unauthorized', 'X-Hub-Signature-256 does not match the body: the secret of the GitHub webhook must equal CCC_WEBHOOK_SECRET, and the body must arrive unchanged');
  }
}

function deliveryHeaders(req: Request): { event: string; delivery: string } {
  const event = req.get('x-github-event');
  const delivery = req.get('x-github-delivery');
  if (!event || !EVENT_NAME.test(event)) {
    throw new HttpError(400, 'invalid_request', 'missing or malformed X-GitHub-Event header: send the event name GitHub gives, such as "issues"');
  }
  if (!delivery || !DELIVERY_ID.test(delivery)) {
    throw new HttpError(400, 'invalid_request', 'missing or malformed X-GitHub-Delivery header: send the delivery GUID GitHub gives (at most 100 letters, digits, ".", "_" or "-")');
  }
  return { event, delivery };
}

function parseJson(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8')) as unknown;
  } catch {
    throw new HttpError(400, 'invalid_json', 'the body is not valid JSON: set the content type of the GitHub webhook to application/json');
  }
}
