import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CostCounters } from '../../daemons/coordinator/budget/cost-counters.js';
import { BUDGET_WAIT, DailyBudget } from '../../daemons/coordinator/budget/daily-budget.js';
import { openDb } from '../../daemons/coordinator/db.js';
import { TaskStore } from '../../daemons/coordinator/task-store.js';
import { cli } from '../cli/run-cli.js';
import { ADMIN_TOKEN, RawAgent, SPECIALTIES, api, clusterConfig, eventually, startTestCoordinator, tempDir, testEnv, writeCluster } from '../helpers.js';

async function scrape(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('ccc_model_cost') && !line.startsWith('ccc_daily_budget') && !line.startsWith('ccc_tasks{')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

/** Runs one task on `agent` to the end, reporting `costUsd`. */
async function runOne(url: string, agent: RawAgent, costUsd: number, repo = 'acme/web'): Promise<number> {
  const { body } = await api(url, '/tasks', { body: { title: `costs ${costUsd}`, labels: ['ccc:backend'], repo } });
  const assign = await agent.next('task.assign');
  expect(assign.taskId).toBe(body.task.id);
  agent.send({ type: 'task.started', taskId: assign.taskId, attempt: assign.attempt });
  agent.send({ type: 'task.result', taskId: assign.taskId, attempt: assign.attempt, outcome: 'succeeded', retryable: false, summary: 'ok', exitCode: 0, durationMs: 10, costUsd, turns: 1 });
  await agent.next('task.ack');
  return body.task.id;
}

describe('daily budget', () => {
  it('makes new tasks wait with the reason once the day is spent, and starts them when the limit is raised (restart)', async () => {
    const dir = tempDir();
    const env = (budget: number) => ({ ...testEnv(dir), CCC_CONFIG: writeCluster(dir, clusterConfig({ tasks: { dailyBudgetUsd: budget } })), CCC_DATA_DIR: join(dir, 'state') });
    const c = await startTestCoordinator(env(0.01));
    const agent = await RawAgent.connect(c.url);
    await agent.hello('backend', SPECIALTIES.backend!);
    await runOne(c.url, agent, 0.05);

    const { body } = await api(c.url, '/tasks', { body: { title: 'over budget', labels: ['ccc:backend'], repo: 'acme/api' } });
    const waiting = await eventually(async () => {
      const t = (await api(c.url, `/tasks/${body.task.id}`)).body.task;
      return t.routeReason.startsWith(BUDGET_WAIT) ? t : undefined;
    }, 5000, 'the budget reason on the task');
    expect(waiting.state).toBe('queued');
    expect(waiting.routeReason).toContain('$0.05 of the $0.01');
    expect(waiting.events.some((e: any) => e.kind === 'waiting' && e.message.startsWith(BUDGET_WAIT))).toBe(true);
    const summary = (await api(c.url, '/summary')).body;
    expect(summary.budget).toMatchObject({ limitUsd: 0.01, spentTodayUsd: 0.05 });
    expect(summary.budget.waiting).toContain('tasks.dailyBudgetUsd');
    await new Promise((r) => setTimeout(r, 1500)); // several dispatch rounds: still not assigned
    expect(agent.received.filter((m) => m.type === 'task.assign')).toHaveLength(0);
    const status = await cli(['status'], { CCC_CONFIG: env(0.01).CCC_CONFIG, CCC_DATA_DIR: join(dir, 'cli'), CCC_COORDINATOR_URL: c.url, CCC_ADMIN_TOKEN: ADMIN_TOKEN });
    expect(status.stdout).toMatch(/^budget +\$0\.05 spent today \(\d{4}-\d\d-\d\d UTC\) of \$0\.01: NEW TASKS WAIT \(waiting for the daily budget: .*tasks\.dailyBudgetUsd.*\)$/m);
    const before = await scrape(c.url);
    expect(before.get('ccc_daily_budget_exhausted')).toBe(1);
    expect(before.get('ccc_model_cost_by_agent_usd{agent="backend"}')).toBe(0.05);
    expect(before.get('ccc_model_cost_by_repo_usd{repo="acme/web"}')).toBe(0.05);
    await c.close();

    // Raised in cluster.yml, the coordinator restarted: the waiting task starts.
    const again = await startTestCoordinator(env(1));
    expect(await scrape(again.url)).toEqual(new Map([...before, ['ccc_daily_budget_usd', 1], ['ccc_daily_budget_exhausted', 0]]));
    const agent2 = await RawAgent.connectAs(again.url, 'backend');
    await agent2.hello('backend', SPECIALTIES.backend!);
    const assign = await agent2.next('task.assign');
    expect(assign.taskId).toBe(body.task.id);
    const started = (await api(again.url, `/tasks/${body.task.id}`)).body.task;
    expect(started.routeReason).not.toContain(BUDGET_WAIT);
  });

  it('counts each attempt once, per agent, repository and UTC day, and opens again when the day rolls over', () => {
    const dir = tempDir();
    const db = openDb(join(dir, 'db.sqlite'));
    let now = Date.parse('2026-12-02T23:59:00Z');
    const store = new TaskStore(db, { maxAttempts: 3, retryBackoffMs: 0 }, () => now);
    const costs = new CostCounters(db);
    const budget = new DailyBudget(costs, 0.1, () => now);
    const run = (agentId: string, usd: number, outcome: 'succeeded' | 'failed', retryable = false) => {
      const task = store.create({ title: 't', body: '', labels: [], repo: 'acme/web', specialty: 'backend', specialtyReason: 'test' });
      const attempt = store.assign(task.id, agentId, 'test', 60_000);
      store.finish({ taskId: task.id, attempt }, agentId, { outcome, summary: 's', retryable, exitCode: 0, durationMs: 1, costUsd: usd });
      return task.id;
    };
    const retried = run('backend', 0.04, 'failed', true); // queued again: its cost still counts
    const attempt2 = store.assign(retried, 'frontend', 'test', 60_000);
    store.finish({ taskId: retried, attempt: attempt2 }, 'frontend', { outcome: 'succeeded', summary: 's', retryable: false, exitCode: 0, durationMs: 1, costUsd: 0.07 });
    expect(budget.blocked()).toMatch(/^waiting for the daily budget: \$0\.11 of the \$0\.10/);
    now = Date.parse('2026-12-03T00:00:01Z');
    expect(budget.blocked()).toBeNull();
    run('backend', 0.02, 'succeeded');
    const t = costs.totals();
    expect(t.attempts).toBe(3);
    expect(t.usd).toBeCloseTo(0.13);
    expect(Object.fromEntries(t.byAgent)).toEqual({ backend: 0.06, frontend: 0.07 });
    expect([...t.byDay.keys()]).toEqual(['2026-12-02', '2026-12-03']);
    // Restored from the ledger in one query: the same figures.
    const restored = new CostCounters(db).totals();
    expect(restored.usd).toBeCloseTo(t.usd);
    expect(restored.attempts).toBe(t.attempts);
    expect(Object.fromEntries(restored.byDay)).toEqual(Object.fromEntries(t.byDay));
    expect(store.countsByState()).toMatchObject({ succeeded: 2, queued: 0 });
    db.close();
  });
});
