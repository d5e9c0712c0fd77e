import { describe, expect, it } from 'vitest';
import { SECRET, deliver, openedWith } from '../github-webhooks.js';
import { RawAgent, api, eventually, startTestCoordinator, tempDir, testEnv, SPECIALTIES } from '../helpers.js';

async function scrape(url: string): Promise<string> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('text/plain');
  return res.text();
}

/** The value of one sample line, e.g. value(text, 'ccc_tasks{state="queued"}'). */
function value(text: string, sample: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

describe('GET /metrics', () => {
  it('reports tasks, agents, connections, dispatch latency, durations, cost and webhook outcomes', async () => {
    const c = await startTestCoordinator(testEnv(tempDir(), { CCC_WEBHOOK_SECRET: SECRET }));
    const agent = await RawAgent.connect(c.url);
    await agent.hello('backend', SPECIALTIES.backend!);
    const { body } = await api(c.url, '/tasks', { body: { title: 'measured', labels: ['ccc:backend'] } });
    await api(c.url, '/tasks', { body: { title: 'waits', labels: ['ccc:cobol'] } });
    await agent.next('task.assign');
    agent.send({ type: 'task.started', taskId: body.task.id, attempt: 1 });
    agent.send({ type: 'task.result', taskId: body.task.id, attempt: 1, outcome: 'succeeded', retryable: false, summary: 'ok', exitCode: 0, durationMs: 2500, costUsd: 0.05, turns: 3 });
    await agent.next('task.ack');
    expect((await deliver(c.url, openedWith(['ccc']))).status).toBe(201);
    expect((await deliver(c.url, openedWith(['ccc']), { signature: 'sha256=00' })).status).toBe(401);

    const text = await eventually(async () => { const t = await scrape(c.url); return value(t, 'ccc_tasks{state="succeeded"}') === 1 ? t : undefined; });
    expect(value(text, 'ccc_tasks{state="queued"}')! + value(text, 'ccc_tasks{state="assigned"}')!).toBe(2); // the cobol task and the webhook's
    expect(value(text, 'ccc_agents{state="online"}')).toBe(1);
    expect(value(text, 'ccc_websocket_connections')).toBe(1);
    expect(value(text, 'ccc_dispatch_latency_seconds_count')).toBe(1);
    expect(value(text, 'ccc_task_duration_seconds_count{outcome="succeeded"}')).toBe(1);
    expect(value(text, 'ccc_task_duration_seconds_sum{outcome="succeeded"}')).toBe(2.5);
    expect(value(text, 'ccc_model_cost_usd')).toBe(0.05);
    expect(value(text, 'ccc_webhook_deliveries_total{outcome="task-created"}')).toBe(1);
    expect(value(text, 'ccc_webhook_deliveries_total{outcome="refused-401"}')).toBe(1);
    expect(text).toContain('ccc_coordinator_process_resident_memory_bytes');
  });
});
