/**
 * Picks the agent for a task: online, not draining, with free capacity and
 * the task's specialty (`general` fits any); least loaded (running/capacity) first, then the one
 * idle longest. After `fallbackAfterMs` of waiting, any eligible agent will do.
 * A task that continues earlier work prefers the agent that did it (it can
 * resume that Claude session), when that agent fits and is free.
 */
import { GENERAL } from './classifier.js';

export interface Candidate {
  id: string;
  specialties: readonly string[];
  capacity: number;
  running: number;
  /** ms since epoch when the agent last had nothing to do (or connected). */
  idleSince: number;
}

export interface RouteTask {
  specialty: string;
  /** ms since epoch when the task was queued. */
  queuedAt: number;
  /** The agent that ran the previous task on this branch, preferred when it fits. */
  preferAgent?: string | null;
}

export interface Route {
  agentId: string;
  reason: string;
}

export function pickAgent(task: RouteTask, candidates: readonly Candidate[], now: number, fallbackAfterMs: number): Route | undefined {
  const free = candidates.filter((c) => c.running < c.capacity);
  const fits = task.specialty === GENERAL ? free : free.filter((c) => c.specialties.includes(task.specialty));
  const preferred = task.preferAgent ? fits.find((c) => c.id === task.preferAgent) : undefined;
  if (preferred) {
    return { agentId: preferred.id, reason: `${preferred.id} ran the previous task on this branch and is free (${preferred.running}/${preferred.capacity} running)` };
  }
  if (fits.length > 0) {
    const best = leastLoaded(fits);
    const what = task.specialty === GENERAL ? 'any agent fits general' : `has ${task.specialty}`;
    return { agentId: best.id, reason: `${best.id} ${what}; least loaded of ${fits.length} eligible (${best.running}/${best.capacity} running)` };
  }
  const waited = now - task.queuedAt;
  if (fallbackAfterMs > 0 && waited >= fallbackAfterMs && free.length > 0) {
    const best = leastLoaded(free);
    return { agentId: best.id, reason: `no free agent has ${task.specialty} after ${Math.round(waited / 1000)} s; fallback to ${best.id}, least loaded of ${free.length} (${best.running}/${best.capacity} running)` };
  }
  return undefined;
}

/** Lowest share of capacity in use (running/capacity, compared exactly by cross-multiplying), then idle longest, then id. */
function leastLoaded(list: readonly Candidate[]): Candidate {
  const byLoad = (a: Candidate, b: Candidate) => a.running * b.capacity - b.running * a.capacity;
  return [...list].sort((a, b) => byLoad(a, b) || a.idleSince - b.idleSince || a.id.localeCompare(b.id))[0]!;
}
