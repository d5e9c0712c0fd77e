/**
 * Moves work: assigns queued tasks to agents (coalesced, one transaction per
 * round, messages sent only after the commit), and sweeps expired leases and
 * silent agents on a timer.
 */
import type { Logger } from '../shared/log.js';
import type { CoordinatorMessage, PlanContext, TaskSpec } from '../shared/protocol.js';
import { toTask, type Task, type TaskRow } from './task-model.js';
import type { AgentRegistry } from './agent-registry.js';
import type { TaskStore } from './task-store.js';
import { pickAgent } from './router.js';
import { BUDGET_WAIT } from './budget/daily-budget.js';

export interface SchedulerOptions {
  leaseMs: number;
  fallbackAfterMs: number;
  log: Logger;
  /** Delivers a message to a connected agent; false if it is not connected. */
  send: (agentId: string, message: CoordinatorMessage) => boolean;
  now?: () => number;
  /** The daily budget: while it says why, queued tasks wait with that reason. */
  budget?: { blocked(): string | null };
  /** The specialties a planner run may propose, in routing.planOrder (docs/plans.md). */
  planSpecialties?: readonly string[];
  /** GitHub App: a push token for the attempt, sent with its assignment (undefined: none needed). */
  pushToken?: (row: TaskRow, attempt: number) => Promise<string | undefined>;
}

const DISPATCH_BATCH = 500;

/** Assignments written but not yet sent: sent only once their transaction has committed. */
export type Outbox = Array<{ agentId: string; message: Extract<CoordinatorMessage, { type: 'task.assign' }>; row: TaskRow }>;

/** What the agent is told: the task, and for continued work the branch, the request and the session to resume. */
function taskSpec(row: TaskRow, previous: Task | undefined, agentId: string, plan: Task | undefined, planSpecialties: readonly string[]): TaskSpec {
  const task = toTask(row);
  // Only the agent that ran the previous session holds its transcript.
  const resume = previous?.agentId === agentId ? previous.result?.sessionId : undefined;
  return {
    title: task.title, body: task.body, labels: task.labels, repo: task.repo, issueNumber: task.issueNumber, specialty: task.specialty,
    ...(task.branch ? { branch: task.branch } : {}),
    ...(resume ? { resumeSessionId: resume } : {}),
    ...(task.followUp ? { followUp: task.followUp } : {}),
    ...(task.context.length ? { context: task.context } : {}),
    ...(plan?.steps && task.stepIndex !== null ? { plan: planContext(plan, task.stepIndex) } : {}),
    ...(task.kind === 'planner' ? { planner: { specialties: [...planSpecialties] } } : {}),
  };
}

/** The plan as a step's prompt shows it: every step, with the earlier ones' agents, commits and summaries. */
function planContext(plan: Task, index: number): PlanContext {
  return {
    planId: plan.id, index,
    steps: plan.steps!.map((s) => ({
      specialty: s.specialty, goal: s.goal, state: s.state, agentId: s.agentId, commit: s.commit,
      summary: s.index < index ? (s.summary?.slice(0, 4000) ?? null) : null,
    })),
  };
}

export class Scheduler {
  private pending = false;
  /** Queued tasks may carry a budget wait reason (true at start: they may from before a restart). */
  private budgetMarks = true;
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(
    private readonly store: TaskStore,
    private readonly registry: AgentRegistry,
    private readonly opts: SchedulerOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    const every = Math.min(1000, Math.max(50, this.opts.leaseMs / 4));
    this.timer = setInterval(() => this.tick(), every);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** Asks for a dispatch round soon; many calls in one turn of the event loop make one round. */
  schedule(): void {
    if (this.pending) return;
    this.pending = true;
    setImmediate(() => {
      this.pending = false;
      this.guard('dispatch', () => this.dispatch());
    });
  }

  /** One dispatch round; returns how many tasks were assigned. */
  dispatch(): number {
    // While no agent has room and no task carries a budget wait reason to update, a round changes nothing:
    // skip reading the queue (a backlog would otherwise be read on every turn that changes a task).
    if (!this.budgetMarks && !this.opts.budget?.blocked() && !this.hasFreeAgent()) return 0;
    const outbox = this.store.inTransaction(() => this.assignReady());
    this.send(outbox);
    return outbox.length;
  }

  /**
   * The assigning half of a dispatch round, for a caller that already holds a transaction (e.g. the one
   * that creates a task, so accepting it and assigning it take one commit). Writes the assignments and
   * returns them unsent: pass them to `send` once that transaction has committed.
   */
  assignReady(): Outbox {
    const ready = this.store.dispatchable(DISPATCH_BATCH);
    if (ready.length === 0) return [];
    const waiting = this.opts.budget?.blocked();
    if (waiting) {
      this.store.setWaitReason(ready, () => waiting);
      this.budgetMarks = true;
      return [];
    }
    const overBudget = ready.filter((row) => row.route_reason.startsWith(BUDGET_WAIT));
    if (overBudget.length) this.store.setWaitReason(overBudget, (row) => `${row.specialty_reason}; waiting for an agent`);
    if (ready.length < DISPATCH_BATCH) this.budgetMarks = false; // every queued task was seen: none is marked now
    const candidates = this.registry.candidates(this.store.activeCounts());
    if (!candidates.some((c) => c.running < c.capacity)) return [];
    const now = this.now();
    const outbox: Outbox = [];
    // The caller's transaction holds all of it: `dispatch` opens one, the creating commit is one.
    for (const row of ready) {
      const previous = row.previous_task_id ? this.store.get(row.previous_task_id) : undefined;
      const route = pickAgent({ specialty: row.specialty, queuedAt: Math.max(row.updated_at, row.not_before), preferAgent: previous?.agentId }, candidates, now, this.opts.fallbackAfterMs);
      if (!route) continue;
      const attempt = this.store.assign(row.id, route.agentId, `${row.specialty_reason}; ${route.reason}`, this.opts.leaseMs);
      candidates.find((c) => c.id === route.agentId)!.running++;
      outbox.push({
        agentId: route.agentId,
        message: {
          type: 'task.assign', taskId: row.id, attempt,
          task: taskSpec(row, previous, route.agentId, row.plan_id ? this.store.get(row.plan_id) : undefined, this.opts.planSpecialties ?? []),
        },
        row,
      });
    }
    return outbox;
  }

  /**
   * `assignReady` when an agent has room, else nothing: for each new task, so that a backlog waiting
   * for agents is not read again per task (the timer's round still sees it).
   */
  assignIfFree(): Outbox {
    return this.hasFreeAgent() ? this.assignReady() : [];
  }

  private hasFreeAgent(): boolean {
    if (this.registry.connected.size === 0) return false;
    return this.registry.candidates(this.store.activeCounts()).some((c) => c.running < c.capacity);
  }

  /** Sends committed assignments (what `assignReady` returned). */
  send(outbox: Outbox): void {
    for (const { agentId, message, row } of outbox) {
      if (this.opts.pushToken) void this.withPushToken(agentId, message, row, this.opts.pushToken);
      else this.deliver(agentId, message);
    }
  }

  private deliver(agentId: string, message: Extract<CoordinatorMessage, { type: 'task.assign' }>): void {
    this.opts.send(agentId, message);
    this.opts.log.info({ taskId: message.taskId, agentId }, 'task assigned');
  }

  /** Sends the assignment once its push token is minted; without one the attempt is lost (queued again while attempts remain). */
  private async withPushToken(agentId: string, message: Extract<CoordinatorMessage, { type: 'task.assign' }>, row: TaskRow, mint: NonNullable<SchedulerOptions['pushToken']>): Promise<void> {
    let pushToken: string | undefined;
    try {
      pushToken = await mint(row, message.attempt);
    } catch (err) {
      const why = `no push token for ${row.repo}: ${(err as Error).message}`;
      this.opts.log.error({ taskId: row.id, agentId, err: (err as Error).message }, 'could not mint a push token');
      this.guard('push token', () => this.store.lost({ ...row, attempt: message.attempt, agent_id: agentId }, why));
      return;
    }
    this.deliver(agentId, pushToken ? { ...message, pushToken } : message);
  }

  /** Tells the agent holding a task that its attempt is over, and frees its capacity. */
  revoke(revoked: { agentId: string; taskId: number; attempt: number }, reason: string): void {
    this.opts.send(revoked.agentId, { type: 'task.cancel', taskId: revoked.taskId, attempt: revoked.attempt, reason });
    this.schedule();
  }

  /** Requeues tasks whose lease ran out and closes agents silent past the lease. */
  sweep(): void {
    const now = this.now();
    // An agent whose lease ran out has been silent (its heartbeats renew every lease it holds):
    // it is closed with the silent ones below, so the requeued task cannot go straight back to it.
    const lapsed = new Set<string>();
    for (const row of this.store.expiredLeases()) {
      if (row.agent_id) lapsed.add(row.agent_id);
      const task = this.store.lost(row, `lease expired: ${row.agent_id} sent no heartbeat for ${this.opts.leaseMs / 1000} s`);
      this.opts.log.warn({ taskId: row.id, agentId: row.agent_id, attempt: row.attempt, state: task.state }, 'lease expired');
      if (row.agent_id) this.revoke({ agentId: row.agent_id, taskId: row.id, attempt: row.attempt }, 'lease expired');
    }
    for (const conn of [...this.registry.connected.values()]) {
      if (lapsed.has(conn.id) || now - conn.lastSeenAt > this.opts.leaseMs) {
        this.opts.log.warn({ agentId: conn.id, silentMs: now - conn.lastSeenAt }, 'agent silent past its lease; closing its connection');
        this.registry.disconnect(conn.id, conn.socket);
        conn.socket.terminate();
      }
    }
  }

  private tick(): void {
    this.guard('lease sweep', () => this.sweep());
    this.schedule();
  }

  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.opts.log.error({ err }, `${what} failed`);
    }
  }
}
