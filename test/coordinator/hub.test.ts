import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { AGENT_PATH } from '../../daemons/shared/protocol.js';
import { AGENT_TOKEN, RawAgent, api, clusterConfig, eventually, startTestCoordinator, tempDir, testEnv, writeCluster } from '../helpers.js';

const BACKEND = ['backend', 'api'];

/** One agent, backend, with BACKEND and `capacity` as cluster.yml says; other ids may enroll too. */
function hubEnv(dir: string, capacity = 2): ReturnType<typeof testEnv> {
  const config = clusterConfig({ agents: [{ name: 'backend', ip: '192.168.56.11', specialties: BACKEND, capacity }] });
  (config.coordinator as Record<string, unknown>).allowUnlistedAgents = true;
  const env = testEnv(dir);
  writeCluster(dir, config); // over the default one testEnv wrote
  return env;
}

/** Status code of a refused upgrade, or 101 if a WebSocket was opened. */
function upgradeStatus(url: string, headers: Record<string, string>, path = AGENT_PATH): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + path, { headers });
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.on('open', () => { resolve(101); ws.terminate(); });
    ws.on('error', (err) => { if (!String(err.message).includes('Unexpected server response')) reject(err); });
  });
}

async function submit(url: string, title: string, labels: string[] = ['ccc:backend']): Promise<number> {
  const r = await api(url, '/tasks', { body: { title, labels } });
  expect(r.status).toBe(201);
  return r.body.task.id as number;
}

async function task(url: string, id: number) {
  return (await api(url, `/tasks/${id}`)).body.task;
}

const ok = { outcome: 'succeeded', retryable: false, summary: 'done', exitCode: 0, durationMs: 5 } as const;

describe('agent WebSocket hub', () => {
  it('refuses a missing or wrong agent token at the upgrade with 401, and unknown paths with 404', async () => {
    const c = await startTestCoordinator(hubEnv(tempDir()));
    expect(await upgradeStatus(c.url, {})).toBe(401);
    expect(await upgradeStatus(c.url, { authorization: 'Bearer not-the-agent-token' })).toBe(401);
    expect(await upgradeStatus(c.url, { authorization: 'Bearer admin-token-for-tests-0123456789' })).toBe(401);
    expect(await upgradeStatus(c.url, { authorization: `Bearer ${AGENT_TOKEN}` }, '/elsewhere')).toBe(404);
    expect(await upgradeStatus(c.url, { authorization: `Bearer ${AGENT_TOKEN}` })).toBe(101);
    expect(c.lines.join('\n')).toContain('agent connection refused');
  });

  it('answers garbage frames with error frames, counts them, and keeps serving', async () => {
    const c = await startTestCoordinator(hubEnv(tempDir()));
    const agent = await RawAgent.connect(c.url);
    agent.sendRaw('this is not json');
    agent.sendRaw(Buffer.from([0, 1, 2, 3]));
    agent.send({ type: 'no-such-message' });
    agent.send({ type: 'heartbeat' }); // before hello
    agent.send({ type: 'hello', protocol: 1, agentId: 'backend' }); // fields missing
    agent.sendRaw(JSON.stringify({ type: 'task.result', taskId: -1, attempt: 'x' }));
    const codes: string[] = [];
    for (let i = 0; i < 6; i++) codes.push((await agent.next('error')).code);
    expect(codes.sort()).toEqual(['bad_message', 'bad_message', 'bad_message', 'bad_message', 'bad_message', 'hello_required']);
    expect(c.hub.counters.badFrames).toBe(6);
    // The same connection can still register, and the coordinator still answers.
    await agent.hello('backend', BACKEND);
    agent.send({ type: 'hello', protocol: 1, agentId: 'backend', hostname: 'h', version: 'v', specialties: ['x'], capacity: 1, tasks: [] });
    expect((await agent.next('error')).code).toBe('already_registered');
    expect((await fetch(`${c.url}/healthz`)).status).toBe(200);
  });

  it('closes a connection with a different protocol version', async () => {
    const c = await startTestCoordinator(hubEnv(tempDir()));
    const agent = await RawAgent.connect(c.url);
    const closed = new Promise<number>((r) => agent.ws.once('close', (code) => r(code)));
    agent.send({ type: 'hello', protocol: 99, agentId: 'backend', hostname: 'h', version: 'v', specialties: ['backend'], capacity: 1, tasks: [] });
    expect((await agent.next('error')).code).toBe('protocol_version');
    expect(await closed).toBe(4002);
  });

  it('tells a newer agent whose hello has unknown fields that the protocol differs (not just "bad message")', async () => {
    const c = await startTestCoordinator(hubEnv(tempDir()));
    const agent = await RawAgent.connect(c.url);
    const closed = new Promise<number>((r) => agent.ws.once('close', (code) => r(code)));
    agent.send({ type: 'hello', protocol: 2, agentId: 'backend', hostname: 'h', version: 'v', specialties: ['backend'], capacity: 1, tasks: [], gpus: 4 });
    const error = await agent.next('error');
    expect(error.code).toBe('protocol_version');
    expect(error.message).toContain('run the same ccc version on both');
    expect(await closed).toBe(4002);
  });

  it('assigns within capacity and runs the lifecycle assigned → running → succeeded', async () => {
    const c = await startTestCoordinator(hubEnv(tempDir(), 1));
    const agent = await RawAgent.connect(c.url);
    await agent.hello('backend', BACKEND, { capacity: 1 });
    const first = await submit(c.url, 'one');
    const second = await submit(c.url, 'two');
    const a1 = await agent.next('task.assign');
    expect(a1).toMatchObject({ taskId: first, attempt: 1 });
    expect((await task(c.url, second)).state).toBe('queued');
    agent.send({ type: 'task.started', taskId: first, attempt: 1 });
    agent.send({ type: 'task.progress', taskId: first, attempt: 1, text: 'working' });
    await eventually(async () => (await task(c.url, first)).state === 'running');
    agent.send({ type: 'task.result', taskId: first, attempt: 1, ...ok });
    expect(await agent.next('task.ack')).toEqual({ type: 'task.ack', taskId: first, attempt: 1 });
    const t = await task(c.url, first);
    expect(t.state).toBe('succeeded');
    expect(t.result).toMatchObject({ outcome: 'succeeded', summary: 'done' });
    expect(t.events.map((e: { kind: string }) => e.kind)).toEqual(['created', 'assigned', 'started', 'progress', 'succeeded']);
    // Capacity freed: the second task follows.
    expect(await agent.next('task.assign')).toMatchObject({ taskId: second, attempt: 1 });
  });

  it('requeues the tasks of an agent silent past its lease, and ignores its stale result', async () => {
    const c = await startTestCoordinator(hubEnv(tempDir()));
    const silent = await RawAgent.connect(c.url);
    await silent.hello('backend', BACKEND);
    const id = await submit(c.url, 'lease me');
    await silent.next('task.assign');
    silent.send({ type: 'task.started', taskId: id, attempt: 1 });
    // No heartbeats: after the 2 s lease the task goes back to the queue and the connection is closed.
    const other = await RawAgent.connect(c.url);
    const keepAlive = setInterval(() => other.send({ type: 'heartbeat' }), 200);
    try {
      await other.hello('backend-2', BACKEND);
      const reassigned = await other.next('task.assign', 15_000);
      expect(reassigned).toMatchObject({ taskId: id, attempt: 2 });
      const t = await task(c.url, id);
      expect(t).toMatchObject({ state: 'assigned', agentId: 'backend-2', attempt: 2 });
      expect(t.events.map((e: { kind: string }) => e.kind)).toContain('requeued');
      await eventually(() => silent.ws.readyState === WebSocket.CLOSED, 5000, 'silent agent closed');

      // The old holder comes back and reports its stale attempt: ignored, but acknowledged.
      const back = await RawAgent.connectAs(c.url, 'backend');
      const welcome = await back.hello('backend', BACKEND, { tasks: [{ taskId: id, attempt: 1 }] });
      expect(welcome.cancel).toEqual([{ taskId: id, attempt: 1 }]);
      back.send({ type: 'task.result', taskId: id, attempt: 1, ...ok, summary: 'stale' });
      expect(await back.next('task.ack')).toMatchObject({ taskId: id, attempt: 1 });
      expect((await task(c.url, id)).state).toBe('assigned');

      other.send({ type: 'task.result', taskId: id, attempt: 2, ...ok, summary: 'fresh' });
      await other.next('task.ack');
      const done = await task(c.url, id);
      expect(done).toMatchObject({ state: 'succeeded', attempt: 2, agentId: 'backend-2', result: { summary: 'fresh' } });
      expect(done.events.filter((e: { kind: string }) => e.kind === 'succeeded')).toHaveLength(1);
      expect(done.events.map((e: { kind: string }) => e.kind)).toContain('stale-ignored');
      expect(c.hub.counters.staleMessages).toBeGreaterThan(0);
    } finally {
      clearInterval(keepAlive);
    }
  });

  it('reconciles a reconnecting agent: keeps its current attempts, requeues what it forgot', async () => {
    const c = await startTestCoordinator(hubEnv(tempDir()));
    const agent = await RawAgent.connect(c.url);
    await agent.hello('backend', BACKEND);
    const kept = await submit(c.url, 'kept');
    const forgotten = await submit(c.url, 'forgotten');
    await agent.next('task.assign');
    await agent.next('task.assign');
    agent.ws.terminate();

    const again = await RawAgent.connectAs(c.url, 'backend');
    const welcome = await again.hello('backend', BACKEND, { tasks: [{ taskId: kept, attempt: 1 }, { taskId: 999, attempt: 1 }] });
    expect(welcome.cancel).toEqual([{ taskId: 999, attempt: 1 }]);
    expect(await task(c.url, kept)).toMatchObject({ state: 'assigned', attempt: 1 });
    // The forgotten task was requeued and, with capacity free, assigned again as attempt 2.
    expect(await again.next('task.assign')).toMatchObject({ taskId: forgotten, attempt: 2 });
    again.send({ type: 'task.result', taskId: kept, attempt: 1, ...ok });
    await again.next('task.ack');
    expect((await task(c.url, kept)).state).toBe('succeeded');
  });

  it('survives a coordinator restart mid-task: the agent reconnects and its result counts once', async () => {
    const dir = tempDir();
    const env = hubEnv(dir);
    const first = await startTestCoordinator(env);
    const agent = await RawAgent.connect(first.url);
    await agent.hello('backend', BACKEND);
    const id = await submit(first.url, 'survive a restart');
    await agent.next('task.assign');
    agent.send({ type: 'task.started', taskId: id, attempt: 1 });
    await eventually(async () => (await task(first.url, id)).state === 'running');
    await first.close();

    const second = await startTestCoordinator(env);
    expect(await task(second.url, id)).toMatchObject({ state: 'running', attempt: 1, agentId: 'backend' });
    const back = await RawAgent.connectAs(second.url, 'backend');
    const welcome = await back.hello('backend', BACKEND, { tasks: [{ taskId: id, attempt: 1 }] });
    expect(welcome.cancel).toEqual([]);
    back.send({ type: 'task.result', taskId: id, attempt: 1, ...ok });
    back.send({ type: 'task.result', taskId: id, attempt: 1, ...ok }); // a duplicate after a lost ack
    await back.next('task.ack');
    await back.next('task.ack');
    const done = await task(second.url, id);
    expect(done.state).toBe('succeeded');
    expect(done.events.filter((e: { kind: string }) => e.kind === 'succeeded')).toHaveLength(1);
  });

  it('tells an agent to cancel a task the operator cancelled', async () => {
    const c = await startTestCoordinator(hubEnv(tempDir()));
    const agent = await RawAgent.connect(c.url);
    await agent.hello('backend', BACKEND);
    const id = await submit(c.url, 'cancel me');
    await agent.next('task.assign');
    await api(c.url, `/tasks/${id}/cancel`, { method: 'POST' });
    expect(await agent.next('task.cancel')).toMatchObject({ taskId: id, attempt: 1 });
    agent.send({ type: 'task.result', taskId: id, attempt: 1, ...ok });
    await agent.next('task.ack');
    expect((await task(c.url, id)).state).toBe('cancelled');
  });
});
