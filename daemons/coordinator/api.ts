/** The JSON API under /api/v1 (admin bearer token): agents, tasks, drain/resume, cancel/retry. */
import express, { type Request, type RequestHandler, type Router } from 'express';
import { z } from 'zod';
import { bearerToken, tokenMatches } from '../shared/auth.js';
import type { Logger } from '../shared/log.js';
import type { AgentRegistry } from './agent-registry.js';
import { identityRoutes, type IdentityDeps } from './identity/routes.js';
import type { LiveStream } from './live-stream.js';
import type { LocalForge } from './local-forge.js';
import { createWork, type SpecialtyPolicy } from './new-task.js';
import type { Plans } from './plans/plans.js';
import type { Planner } from './plans/planner.js';
import { HttpError } from './http-error.js';
import type { IdempotencyKeys } from './idempotency.js';
import { repoSchema, specialtySchema } from '../shared/names.js';
import type { Scheduler } from './scheduler.js';
import { GroupCommit } from './group-commit.js';
import { TASK_STATES } from './task-model.js';
import { retryTask } from './conversation/follow-ups.js';
import { forgePullsRouter } from './conversation/forge-pulls-api.js';
import type { BudgetStatus } from './budget/daily-budget.js';
import type { TaskStore } from './task-store.js';

export const MAX_BODY_BYTES = 1024 * 1024;

const newTaskSchema = z.strictObject({
  title: z.string().trim().min(1, 'is required').max(500),
  body: z.string().max(65_536).default(''),
  labels: z.array(z.string().min(1).max(100)).max(50).default([]),
  repo: repoSchema.nullable().default(null),
  specialty: specialtySchema.optional(),
  /** A planner run proposes the steps of a plan (docs/plans.md); approve it with POST /tasks/:id/approve. */
  propose: z.boolean().default(false),
});
const listQuerySchema = z.object({
  state: z.enum(TASK_STATES).optional(),
  agent: z.string().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(5000).optional(),
});
const taskIdSchema = z.coerce.number().int().positive();

export interface ApiDeps {
  store: TaskStore;
  plans: Plans;
  planner: Planner;
  registry: AgentRegistry;
  scheduler: Scheduler;
  adminToken: string;
  specialties: SpecialtyPolicy;
  localForge: LocalForge;
  live: LiveStream;
  identity: IdentityDeps;
  log: Logger;
  /** Idempotency-Key of POST /tasks. */
  idempotency: IdempotencyKeys;
  /** The daily budget, shown by GET /summary (ccc status). */
  budget?: { status(): BudgetStatus };
  /** Batches the transactions of POST /tasks arriving together (default: its own, over `store`). */
  commits?: GroupCommit;
}

export function apiRouter(deps: ApiDeps): Router {
  const { store, registry, scheduler, log } = deps;
  const router = express.Router();
  router.use(requireToken(deps.adminToken));
  router.use(express.json({ limit: MAX_BODY_BYTES }));

  router.get('/summary', (_req, res) => {
    const agents = registry.list(store.activeCounts());
    const agentStates = { online: 0, draining: 0, offline: 0 };
    for (const a of agents) agentStates[a.state]++;
    res.json({ tasks: store.countsByState(), agents: agentStates, ...(deps.budget ? { budget: deps.budget.status() } : {}) });
  });

  router.get('/agents', (_req, res) => {
    const enrollments = deps.identity.credentials.all();
    res.json({ agents: registry.list(store.activeCounts()).map((a) => ({ ...a, enrollment: enrollments.get(a.id) ?? null })) });
  });

  for (const action of ['drain', 'resume'] as const) {
    router.post(`/agents/:id/${action}`, (req, res) => {
      const id = String(req.params.id);
      registry.setAdminDraining(id, action === 'drain');
      log.info({ agentId: id }, action === 'drain' ? 'agent drained by operator' : 'agent resumed by operator');
      if (action === 'resume') scheduler.schedule();
      res.json({ agent: registry.list(store.activeCounts()).find((a) => a.id === id) });
    });
  }

  router.use(identityRoutes(deps.identity));

  const commits = deps.commits ?? new GroupCommit((fn) => store.inTransaction(fn));
  router.post('/tasks', async (req, res) => {
    const parsed = newTaskSchema.safeParse(req.body ?? {});
    if (!parsed.success) throw HttpError.fromZod(parsed.error, 'task');
    const spec = parsed.data;
    const { propose, ...work } = spec;
    const create = () => (propose ? deps.planner.propose(work) : createWork(store, deps.plans, work, deps.specialties));
    const key = req.get('idempotency-key');
    // One commit accepts the task and, when an agent is free, assigns it (the assignment is sent once committed).
    const { task, created, outbox } = await commits.run(() => {
      const made = key === undefined ? { task: create(), created: true } : deps.idempotency.once(store, key, spec, create);
      return { ...made, outbox: made.created ? scheduler.assignIfFree() : [] };
    });
    if (!created) {
      res.json({ task });
      return;
    }
    scheduler.send(outbox);
    log.info({ taskId: task.id, specialty: task.specialty }, 'task accepted');
    if (outbox.length === 0) scheduler.schedule();
    res.status(201).json({ task });
  });

  router.get('/tasks', (req, res) => {
    const parsed = listQuerySchema.safeParse(req.query);
    if (!parsed.success) throw HttpError.fromZod(parsed.error, 'query');
    res.json({ tasks: store.list(parsed.data) });
  });

  router.get('/tasks/:id', (req, res) => {
    const id = taskId(req);
    const task = store.get(id);
    if (!task) throw new HttpError(404, 'not_found', `task ${id} does not exist`);
    res.json({ task: { ...task, events: store.events(id) } });
  });

  router.post('/tasks/:id/cancel', (req, res) => {
    const { task, revoked } = store.cancel(taskId(req), 'operator');
    if (revoked) deps.scheduler.revoke(revoked, 'cancelled by operator');
    res.json({ task });
  });

  router.post('/tasks/:id/retry', (req, res) => {
    const task = retryTask(store, taskId(req), 'operator');
    scheduler.schedule();
    res.json({ task });
  });

  router.post('/tasks/:id/approve', (req, res) => {
    const plan = deps.planner.approve(taskId(req), 'operator');
    scheduler.schedule();
    res.status(201).json({ task: plan });
  });

  router.get('/events', deps.live.handler());

  router.use('/forge/pulls', forgePullsRouter({ store, scheduler, localForge: deps.localForge, log }));

  router.use((req) => {
    throw new HttpError(404, 'not_found', `no API route ${req.method} ${req.originalUrl}`);
  });
  return router;
}

function taskId(req: Request): number {
  const parsed = taskIdSchema.safeParse(req.params.id);
  if (!parsed.success) throw new HttpError(400, 'invalid_request', `task id must be a positive whole number (got "${String(req.params.id)}")`, [{ path: 'id', message: 'expected a positive whole number' }]);
  return parsed.data;
}

function requireToken(expected: string): RequestHandler {
  return (req, _res, next) => {
    if (!tokenMatches(bearerToken(req.headers.authorization), expected)) {
      throw new HttpError(401, 'unauthorized', 'missing or wrong admin token: send "Authorization: Bearer <CCC_ADMIN_TOKEN>"');
    }
    next();
  };
}
