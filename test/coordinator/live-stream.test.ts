import { describe, expect, it } from 'vitest';
import { readSse, type SseMessage } from '../../daemons/shared/sse-client.js';
import { ADMIN_TOKEN, RawAgent, api, eventually, onCleanup, startTestCoordinator, tempDir, testEnv, SPECIALTIES } from '../helpers.js';

/** Opens the live stream and collects its messages in the background. */
async function listen(url: string, query = '') {
  const abort = new AbortController();
  const res = await fetch(`${url}/api/v1/events${query}`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` }, signal: abort.signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const messages: Array<SseMessage & { json: any }> = [];
  void (async () => {
    try {
      for await (const m of readSse(res.body!)) messages.push({ ...m, json: JSON.parse(m.data) });
    } catch { /* aborted */ }
  })();
  onCleanup(() => abort.abort());
  return messages;
}

describe('live event stream', () => {
  it('streams task changes, task history entries and agent changes as they happen', async () => {
    const c = await startTestCoordinator(testEnv(tempDir()));
    const all = await listen(c.url);
    const agent = await RawAgent.connect(c.url);
    await agent.hello('backend', SPECIALTIES.backend!);
    await eventually(() => all.some((m) => m.event === 'agents' && m.json.agents[0]?.state === 'online'), 5000, 'agents message');
    const { body } = await api(c.url, '/tasks', { body: { title: 'stream me', labels: ['ccc:backend'] } });
    const id = body.task.id;
    await agent.next('task.assign');
    agent.send({ type: 'task.started', taskId: id, attempt: 1 });
    agent.send({ type: 'task.progress', taskId: id, attempt: 1, text: 'half way' });
    agent.send({ type: 'task.result', taskId: id, attempt: 1, outcome: 'succeeded', retryable: false, summary: 'ok', exitCode: 0, durationMs: 1 });
    await eventually(() => all.some((m) => m.event === 'task' && m.json.state === 'succeeded'), 5000, 'succeeded');
    // A commit announces each task it changed once, in its newest state: the task is accepted and assigned by one
    // commit (an agent was free), and messages arriving together share one (group commit), so states may be skipped;
    // every history entry is streamed.
    const states = all.filter((m) => m.event === 'task').map((m) => m.json.state);
    expect(states).toEqual(['queued', 'assigned', 'running', 'succeeded'].filter((s) => states.includes(s)));
    expect(states).toContain('assigned');
    expect(states.at(-1)).toBe('succeeded');
    expect(all.filter((m) => m.event === 'task-event').map((m) => [m.json.taskId, m.json.kind])).toEqual(
      [[id, 'created'], [id, 'assigned'], [id, 'started'], [id, 'progress'], [id, 'succeeded']]);
    expect(all.find((m) => m.json.kind === 'progress')!.json.message).toBe('half way');
  });

  it('narrows to one task with ?task=N, refuses a bad filter and a missing token', async () => {
    const c = await startTestCoordinator(testEnv(tempDir()));
    const one = await listen(c.url, '?task=2');
    await api(c.url, '/tasks', { body: { title: 'one' } });
    await api(c.url, '/tasks', { body: { title: 'two' } });
    await eventually(() => one.length >= 2, 5000, 'two messages');
    expect(one.every((m) => (m.json.taskId ?? m.json.id) === 2)).toBe(true);
    expect((await api(c.url, '/events?task=x')).status).toBe(400);
    expect((await fetch(`${c.url}/api/v1/events`)).status).toBe(401);
  });
});
