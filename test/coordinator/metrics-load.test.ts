import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fillHistory } from '../../scripts/bench/history.js';
import { RawAgent, SPECIALTIES, api, clusterConfig, eventually, startTestCoordinator, tempDir, testEnv, writeCluster } from '../helpers.js';

function value(text: string, sample: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

describe('/metrics under history and load', () => {
  it('restores cost and counts from thousands of tasks, and many concurrent scrapes never let a short lease lapse', async () => {
    const dir = tempDir();
    const dataDir = join(dir, 'state');
    const { usd } = fillHistory(join(dataDir, 'coordinator.sqlite'), 5000);
    const env = { ...testEnv(dir), CCC_DATA_DIR: dataDir, CCC_CONFIG: writeCluster(dir, clusterConfig({ tasks: { leaseSeconds: 1, heartbeatSeconds: 0.2 } })) };
    const c = await startTestCoordinator(env);
    const first = await (await fetch(`${c.url}/metrics`)).text();
    expect(value(first, 'ccc_model_cost_usd')).toBeCloseTo(usd, 6);
    expect(value(first, 'ccc_model_costed_attempts')).toBe(5000);
    expect(value(first, 'ccc_tasks{state="succeeded"}')).toBe(3000);
    expect(value(first, 'ccc_tasks{state="failed"}')).toBe(1000);
    const byAgent = value(first, 'ccc_model_cost_by_agent_usd{agent="backend"}')! + value(first, 'ccc_model_cost_by_agent_usd{agent="frontend"}')!;
    expect(byAgent).toBeCloseTo(usd, 6);

    // A running task on an agent that beats every 200 ms against a 1 s lease.
    const agent = await RawAgent.connect(c.url);
    await agent.hello('backend', SPECIALTIES.backend!);
    const { body } = await api(c.url, '/tasks', { body: { title: 'long', labels: ['ccc:backend'] } });
    const assign = await agent.next('task.assign');
    agent.send({ type: 'task.started', taskId: assign.taskId, attempt: assign.attempt });
    const beats = setInterval(() => agent.send({ type: 'heartbeat' }), 200);
    try {
      await eventually(async () => (await api(c.url, `/tasks/${body.task.id}`)).body.task.state === 'running', 5000, 'the task running');
      await new Promise((r) => setTimeout(r, 300)); // past the shared rendering of the first scrape
      const until = Date.now() + 3000; // three leases
      let scrapes = 0;
      while (Date.now() < until || scrapes < 600) {
        const texts = await Promise.all(Array.from({ length: 200 }, () => fetch(`${c.url}/metrics`).then((r) => r.text())));
        scrapes += texts.length;
        expect(value(texts[0]!, 'ccc_tasks{state="running"}')).toBe(1);
      }
    } finally {
      clearInterval(beats);
    }
    const task = (await api(c.url, `/tasks/${body.task.id}`)).body.task;
    expect(task).toMatchObject({ state: 'running', attempt: 1 });
    expect(task.events.map((e: any) => e.kind)).not.toContain('requeued');
    expect(agent.received.filter((m) => m.type === 'task.cancel')).toEqual([]);

    // Finished now: counted at once, and the same after a restart.
    agent.send({ type: 'task.result', taskId: assign.taskId, attempt: assign.attempt, outcome: 'succeeded', retryable: false, summary: 'ok', exitCode: 0, durationMs: 10, costUsd: 0.5, turns: 1 });
    await agent.next('task.ack');
    await new Promise((r) => setTimeout(r, 300)); // past the shared rendering
    const counted = await (await fetch(`${c.url}/metrics`)).text();
    expect(value(counted, 'ccc_model_cost_usd')).toBeCloseTo(usd + 0.5, 6);
    await c.close();
    const again = await startTestCoordinator(env);
    const restored = await (await fetch(`${again.url}/metrics`)).text();
    const families = (t: string) => t.split('\n').filter((l) => /^ccc_(model_cost|tasks\{|daily_budget)/.test(l)).sort();
    expect(families(restored)).toEqual(families(counted));
  });
});
