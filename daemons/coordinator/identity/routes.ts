/**
 * The operator's side of identity, under /api/v1 (admin token already checked):
 * revoke an agent (its connection closes, its tasks are queued again, its credential
 * stops working) and allow an id to enroll again.
 */
import express, { type Router } from 'express';
import type { Logger } from '../../shared/log.js';
import type { Cluster } from '../../shared/cluster-schema.js';
import type { AgentRegistry } from '../agent-registry.js';
import { HttpError } from '../http-error.js';
import type { Scheduler } from '../scheduler.js';
import type { TaskStore } from '../task-store.js';
import type { CredentialStore } from './credential-store.js';

/** How long a revoked connection gets to take its close frame before it is cut. */
const CLOSE_GRACE_MS = 200;

export interface IdentityDeps {
  credentials: CredentialStore;
  registry: AgentRegistry;
  store: TaskStore;
  scheduler: Scheduler;
  cluster: Cluster;
  log: Logger;
}

/** Revokes `agentId`'s credential, closes its connection and queues its tasks again. Returns how many. */
export function revokeAgent(deps: IdentityDeps, agentId: string, allowReenroll: boolean): number {
  deps.credentials.revoke(agentId, allowReenroll);
  const conn = deps.registry.connected.get(agentId);
  if (conn) {
    deps.registry.disconnect(agentId, conn.socket);
    conn.socket.close(4004, 'credential revoked');
    setTimeout(() => conn.socket.terminate(), CLOSE_GRACE_MS).unref();
  }
  const held = deps.store.activeOf(agentId);
  for (const row of held) deps.store.lost(row, `agent ${agentId} was revoked`);
  deps.log.warn({ agentId, requeued: held.length, allowReenroll, wasConnected: conn !== undefined }, 'agent revoked by operator');
  deps.scheduler.schedule();
  return held.length;
}

export function identityRoutes(deps: IdentityDeps): Router {
  const router = express.Router();
  const known = (id: string) => deps.cluster.agents.some((a) => a.name === id)
    || deps.credentials.enrollment(id) !== undefined
    || deps.registry.list(new Map()).some((a) => a.id === id);
  const agentParam = (raw: unknown): string => {
    const id = String(raw);
    if (!known(id)) throw new HttpError(404, 'not_found', `agent ${id} is neither in cluster.yml nor ever enrolled; \`ccc agents\` lists the known agents`);
    return id;
  };

  router.post('/agents/:id/revoke', (req, res) => {
    const id = agentParam(req.params.id);
    const allowReenroll = req.query.allowReenroll === 'true' || (req.body as { allowReenroll?: unknown } | undefined)?.allowReenroll === true;
    const requeued = revokeAgent(deps, id, allowReenroll);
    res.json({ agent: id, requeued, enrollment: deps.credentials.enrollment(id) });
  });

  router.post('/agents/:id/allow-enroll', (req, res) => {
    const id = agentParam(req.params.id);
    deps.credentials.allowEnroll(id);
    deps.log.info({ agentId: id }, 'operator allowed the agent to enroll again');
    res.json({ agent: id, enrollment: deps.credentials.enrollment(id) });
  });
  return router;
}
