/**
 * GET /metrics in Prometheus text format (prom-client, a registry of our own).
 * Nothing at scrape time is proportional to history: task counts come from a
 * six-row table kept by triggers, cost from running totals (budget/cost-counters.ts);
 * histograms and counters are fed by the task store's notifications and the
 * webhook route. Scrapes arriving together share one rendering (RENDER_TTL_MS),
 * so many scrapers cost little more than one.
 */
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AgentRegistry } from './agent-registry.js';
import type { CostCounters } from './budget/cost-counters.js';
import type { DailyBudget } from './budget/daily-budget.js';
import type { Db } from './db.js';
import type { AgentHub } from './hub.js';
import { TASK_STATES } from './task-model.js';
import type { TaskStore } from './task-store.js';

export interface MetricsDeps {
  db: Db;
  store: TaskStore;
  registry: AgentRegistry;
  hub: AgentHub;
  costs: CostCounters;
  budget: DailyBudget;
}

/** A rendering is reused for this long: a burst of scrapes renders once. */
export const RENDER_TTL_MS = 250;

export class Metrics {
  readonly registry = new Registry();
  private readonly webhookDeliveries: Counter<'outcome'>;
  private rendered: { at: number; text: Promise<string> } | undefined;

  constructor({ db, store, registry, hub, costs, budget }: MetricsDeps) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'ccc_coordinator_' });
    const byState = db.prepare<[], { state: string; n: number }>('SELECT state, n FROM task_state_counts');

    new Gauge({
      name: 'ccc_tasks', help: 'Tasks by state.', labelNames: ['state'], registers: [r],
      collect() {
        const counts = new Map(byState.all().map((x) => [x.state, x.n]));
        for (const state of TASK_STATES) this.set({ state }, counts.get(state) ?? 0);
      },
    });
    new Gauge({
      name: 'ccc_agents', help: 'Known agents by state.', labelNames: ['state'], registers: [r],
      collect() {
        const agents = registry.list(store.activeCounts());
        for (const state of ['online', 'draining', 'offline']) this.set({ state }, agents.filter((a) => a.state === state).length);
      },
    });
    new Gauge({
      name: 'ccc_websocket_connections', help: 'Agent WebSocket connections registered now.', registers: [r],
      collect() { this.set(registry.connected.size); },
    });
    new Gauge({
      name: 'ccc_protocol_bad_frames', help: 'Frames from agents that failed validation, since start.', registers: [r],
      collect() { this.set(hub.counters.badFrames); },
    });
    new Gauge({
      name: 'ccc_egress_denied', help: 'Requests from task sandboxes that the agents\' egress proxies refused, since start.', registers: [r],
      collect() { this.set(hub.counters.egressDenied); },
    });
    new Gauge({
      name: 'ccc_model_cost_usd', help: 'Model cost reported by the Claude Code CLI, all tasks, in US dollars.', registers: [r],
      collect() { this.set(costs.totals().usd); },
    });
    new Gauge({
      name: 'ccc_model_costed_attempts', help: 'Attempts that reported a model cost (ccc_model_cost_usd / this = cost per attempt).', registers: [r],
      collect() { this.set(costs.totals().attempts); },
    });
    const perKey = (name: string, help: string, label: string, pick: (t: ReturnType<CostCounters['totals']>) => ReadonlyMap<string, number>) =>
      new Gauge({
        name, help, labelNames: [label], registers: [r],
        collect() {
          this.reset();
          for (const [key, usd] of pick(costs.totals())) this.set({ [label]: key }, usd);
        },
      });
    perKey('ccc_model_cost_by_agent_usd', 'Model cost by the agent that ran the attempt, in US dollars.', 'agent', (t) => t.byAgent);
    perKey('ccc_model_cost_by_repo_usd', 'Model cost by repository, in US dollars.', 'repo', (t) => t.byRepo);
    perKey('ccc_model_cost_by_day_usd', 'Model cost by UTC day (the last 31 days), in US dollars.', 'day', (t) => t.byDay);
    new Gauge({
      name: 'ccc_daily_budget_usd', help: 'tasks.dailyBudgetUsd (absent when there is none).', registers: [r],
      collect() { const s = budget.status(); if (s.limitUsd === null) this.reset(); else this.set(s.limitUsd); },
    });
    new Gauge({
      name: 'ccc_daily_budget_spent_usd', help: 'Model cost spent on the current UTC day.', registers: [r],
      collect() { this.set(budget.status().spentTodayUsd); },
    });
    new Gauge({
      name: 'ccc_daily_budget_exhausted', help: '1 while the daily budget is spent and new tasks wait.', registers: [r],
      collect() { this.set(budget.status().waiting ? 1 : 0); },
    });
    const dispatch = new Histogram({
      name: 'ccc_dispatch_latency_seconds', help: 'First attempts: task accepted → the agent received the assignment and started.',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60], registers: [r],
    });
    const duration = new Histogram({
      name: 'ccc_task_duration_seconds', help: 'How long an attempt ran on its agent, by outcome.', labelNames: ['outcome'],
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600], registers: [r],
    });
    this.webhookDeliveries = new Counter({ name: 'ccc_webhook_deliveries_total', help: 'GitHub webhook deliveries by outcome.', labelNames: ['outcome'], registers: [r] });

    store.onEvent((event) => {
      if (event.kind !== 'started' || event.attempt !== 1) return;
      const task = store.get(event.taskId);
      if (task) dispatch.observe((Date.parse(event.at) - Date.parse(task.createdAt)) / 1000);
    });
    store.onChange((task) => {
      costs.refresh();
      if (task.result && ['succeeded', 'failed', 'cancelled'].includes(task.state)) duration.observe({ outcome: task.result.outcome }, task.result.durationMs / 1000);
    });
  }

  /** Counts each webhook delivery by what was done (or the status it was refused with). */
  countWebhooks(): RequestHandler {
    return (_req, res, next) => {
      res.on('finish', () => this.webhookDeliveries.inc({ outcome: (res.locals.outcome as string | undefined) ?? `refused-${res.statusCode}` }));
      next();
    };
  }

  handler(): RequestHandler {
    return async (_req, res) => {
      const now = Date.now();
      if (!this.rendered || now - this.rendered.at > RENDER_TTL_MS) this.rendered = { at: now, text: this.registry.metrics() };
      res.set('content-type', this.registry.contentType).send(await this.rendered.text);
    };
  }
}
