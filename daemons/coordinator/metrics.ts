/**
 * GET /metrics in Prometheus text format (prom-client, a registry of our own).
 * Gauges are read from SQLite and memory at scrape time; histograms and
 * counters are fed by the task store's change notifications and the webhook route.
 */
import type { RequestHandler } from 'express';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { AgentRegistry } from './agent-registry.js';
import type { Db } from './db.js';
import type { AgentHub } from './hub.js';
import { TASK_STATES } from './task-model.js';
import type { TaskStore } from './task-store.js';

export interface MetricsDeps {
  db: Db;
  store: TaskStore;
  registry: AgentRegistry;
  hub: AgentHub;
}

export class Metrics {
  readonly registry = new Registry();
  private readonly webhookDeliveries: Counter<'outcome'>;

  constructor({ db, store, registry, hub }: MetricsDeps) {
    const r = this.registry;
    collectDefaultMetrics({ register: r, prefix: 'ccc_coordinator_' });
    const byState = db.prepare<[], { state: string; n: number }>('SELECT state, count(*) AS n FROM tasks GROUP BY state');
    const cost = db.prepare<[], { usd: number | null }>("SELECT sum(json_extract(result, '$.costUsd')) AS usd FROM tasks WHERE result IS NOT NULL");

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
      collect() { this.set(cost.get()?.usd ?? 0); },
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
      res.set('content-type', this.registry.contentType).send(await this.registry.metrics());
    };
  }
}
