import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { Agent } from '../../daemons/agent/agent.js';
import { CommandExecutor } from '../../daemons/agent/command-executor.js';
import { AgentCredential } from '../../daemons/agent/credential.js';
import { AGENT_TOKEN, api, eventually, memoryLogger, onCleanup, startTestCoordinator, tempDir, testEnv } from '../helpers.js';

const DEMO = ['node', '{packageRoot}/scripts/demo-task.mjs'];

function startAgent(url: string, dir: string, opts: { token?: string; drainTimeoutMs?: number; capacity?: number; command?: string[]; refusal?: string } = {}) {
  const { log, lines } = memoryLogger();
  const dataDir = join(dir, 'agent');
  const agent = new Agent({
    coordinatorUrl: url,
    credential: new AgentCredential({ dataDir, joinToken: opts.token ?? AGENT_TOKEN, log }),
    id: 'backend',
    hostname: 'backend.test',
    version: 'test',
    specialties: ['backend', 'api', 'database', 'python'],
    capacity: opts.capacity ?? 2,
    executor: new CommandExecutor({ command: opts.command ?? DEMO, timeoutMs: 30_000, env: process.env }),
    dataDir,
    drainTimeoutMs: opts.drainTimeoutMs ?? 5000,
    backoff: { baseMs: 50, capMs: 200 },
    refusal: opts.refusal,
    log,
  });
  agent.start();
  onCleanup(() => agent.stop());
  return { agent, lines };
}

async function submit(url: string, title: string, body = '') {
  const r = await api(url, '/tasks', { body: { title, body, labels: ['ccc:backend'] } });
  return r.body.task.id as number;
}

const taskOf = async (url: string, id: number) => (await api(url, `/tasks/${id}`)).body.task;
const finalState = (url: string, id: number, state: string) =>
  eventually(async () => { const t = await taskOf(url, id); return t.state === state ? t : undefined; }, 20_000, `task ${id} ${state}`);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** A bare WebSocket server standing in for the coordinator, to send what a real one never would. */
async function fakeCoordinator(): Promise<WebSocketServer> {
  const wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise((r) => wss.once('listening', r));
  onCleanup(() => new Promise<void>((r) => { for (const ws of wss.clients) ws.terminate(); wss.close(() => r()); }));
  return wss;
}
const urlOf = (wss: WebSocketServer) => `http://127.0.0.1:${(wss.address() as { port: number }).port}`;

describe('agent', () => {
  it('runs a task through the command executor and streams its progress', async () => {
    const dir = tempDir();
    const c = await startTestCoordinator(testEnv(dir));
    const { agent } = startAgent(c.url, dir);
    await eventually(() => agent.connected);
    expect(agent.status()).toMatch(/^connected to 127\.0\.0\.1:\d+ · 0\/2 running$/);
    const id = await submit(c.url, 'Add a /users endpoint');
    const t = await finalState(c.url, id, 'succeeded');
    expect(t.result).toMatchObject({ outcome: 'succeeded', exitCode: 0, summary: 'done: Add a /users endpoint' });
    const progress = t.events.filter((e: { kind: string }) => e.kind === 'progress').map((e: { message: string }) => e.message);
    expect(progress).toContain('step: planning as a backend specialist');
  });

  it('an agent that cannot run tasks safely says why, shows as draining and takes none', async () => {
    const dir = tempDir();
    const c = await startTestCoordinator(testEnv(dir));
    const { agent } = startAgent(c.url, dir, { refusal: 'no model credential: set ANTHROPIC_API_KEY' });
    await eventually(() => agent.connected);
    expect(agent.status()).toMatch(/· takes no task: no model credential: set ANTHROPIC_API_KEY$/);
    await eventually(async () => (await api(c.url, '/agents')).body.agents[0]?.state === 'draining', 5000, 'the agent shown as draining');
    // The coordinator (and so `ccc agents` and the dashboard) knows why.
    expect((await api(c.url, '/agents')).body.agents[0].drainReason).toBe('no model credential: set ANTHROPIC_API_KEY');
    const id = await submit(c.url, 'Add a /users endpoint');
    await new Promise((r) => setTimeout(r, 500));
    expect((await taskOf(c.url, id)).state).toBe('queued');
  });

  it('retries a failing task with backoff until its attempts run out', async () => {
    const dir = tempDir();
    const c = await startTestCoordinator(testEnv(dir));
    startAgent(c.url, dir);
    const id = await submit(c.url, 'always fails', 'ccc-demo: sleep=30 exit=3');
    const t = await finalState(c.url, id, 'failed');
    expect(t.attempt).toBe(3);
    expect(t.result.summary).toContain('exit code 3');
    expect(t.events.filter((e: { kind: string }) => e.kind === 'retry-scheduled')).toHaveLength(2);
  });

  it('a command that cannot start fails without retry, with the fix in the message', async () => {
    const dir = tempDir();
    const c = await startTestCoordinator(testEnv(dir));
    startAgent(c.url, dir, { command: ['/nonexistent/tool'] });
    const t = await finalState(c.url, await submit(c.url, 'x'), 'failed');
    expect(t.attempt).toBe(1);
    expect(t.result.summary).toMatch(/cannot run \/nonexistent\/tool: ENOENT; check agent.executor.command/);
  });

  it('drains: a task that outlives the drain timeout is stopped and handed back without using an attempt', async () => {
    const dir = tempDir();
    const c = await startTestCoordinator(testEnv(dir));
    const { agent } = startAgent(c.url, dir, { drainTimeoutMs: 300 });
    const id = await submit(c.url, 'long', 'ccc-demo: sleep=20000');
    await eventually(async () => (await taskOf(c.url, id)).state === 'running');
    await agent.drain();
    const t = await taskOf(c.url, id);
    expect(t).toMatchObject({ state: 'queued', agentId: null, attempt: 1, maxAttempts: 4 });
    expect(t.events.map((e: { kind: string }) => e.kind)).toContain('released');
    expect((await api(c.url, '/agents')).body.agents[0].state).toBe('draining');
    // A draining agent takes no new work.
    await new Promise((r) => setTimeout(r, 300));
    expect((await taskOf(c.url, id)).state).toBe('queued');
  });

  it('drains: a task that finishes within the drain timeout reports its result', async () => {
    const dir = tempDir();
    const c = await startTestCoordinator(testEnv(dir));
    const { agent } = startAgent(c.url, dir, { drainTimeoutMs: 10_000 });
    const id = await submit(c.url, 'short', 'ccc-demo: sleep=600');
    await eventually(async () => (await taskOf(c.url, id)).state === 'running');
    await agent.drain();
    expect((await taskOf(c.url, id)).state).toBe('succeeded');
  });

  it('stops the whole process group when the operator cancels a running task', async () => {
    const dir = tempDir();
    const c = await startTestCoordinator(testEnv(dir));
    const pidFile = join(dir, 'grandchild.pid');
    // The command starts a grandchild that would outlive a plain kill of the shell.
    startAgent(c.url, dir, { command: ['sh', '-c', `sleep 60 & echo $! > ${pidFile}; echo started; wait`] });
    const id = await submit(c.url, 'cancel me');
    await eventually(async () => (await taskOf(c.url, id)).events.some((e: { message: string }) => e.message === 'started'));
    const { readFileSync } = await import('node:fs');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).not.toThrow();
    await api(c.url, `/tasks/${id}/cancel`, { method: 'POST' });
    await eventually(() => { try { process.kill(pid, 0); return false; } catch { return true; } }, 10_000, 'grandchild gone');
    expect((await taskOf(c.url, id)).state).toBe('cancelled');
  });

  it('reconnects after a coordinator restart and delivers a result finished while it was away', async () => {
    const dir = tempDir();
    const port = await freePort();
    const env = testEnv(dir, { CCC_LISTEN: `127.0.0.1:${port}` });
    const first = await startTestCoordinator(env);
    const { agent } = startAgent(first.url, dir);
    const id = await submit(first.url, 'outlive the coordinator', 'ccc-demo: sleep=1500');
    await eventually(async () => (await taskOf(first.url, id)).state === 'running');
    await first.close();
    await eventually(() => !agent.connected);
    await new Promise((r) => setTimeout(r, 1800)); // the task finishes while the coordinator is down
    const second = await startTestCoordinator(env);
    await eventually(() => agent.connected, 10_000, 'agent reconnected');
    const t = await finalState(second.url, id, 'succeeded');
    expect(t.attempt).toBe(1);
    expect(t.events.filter((e: { kind: string }) => e.kind === 'succeeded')).toHaveLength(1);
  });

  it('keeps retrying with a clear log line when its token is refused', async () => {
    const dir = tempDir();
    const c = await startTestCoordinator(testEnv(dir));
    const { agent, lines } = startAgent(c.url, dir, { token: 'wrong-token-wrong-token' });
    await eventually(() => lines.filter((l) => l.includes('refused the join token')).length >= 2, 10_000, 'two refusals');
    expect(agent.connected).toBe(false);
    expect(lines.join('\n')).toContain('set CCC_AGENT_TOKEN');
  });

  it('reconnects when the coordinator goes silent without closing the connection', async () => {
    const dir = tempDir();
    const wss = await fakeCoordinator();
    let connections = 0;
    wss.on('connection', (ws, req) => {
      connections++;
      ws.once('message', () => {
        ws.send(JSON.stringify({ type: 'welcome', protocol: 1, heartbeatMs: 100, leaseMs: 500, cancel: [] }));
        // Like a host that vanished: stop reading, so no pong ever comes back.
        setTimeout(() => req.socket.pause(), 50);
      });
    });
    const { lines } = startAgent(urlOf(wss), dir);
    await eventually(() => connections >= 2, 10_000, 'a second connection');
    expect(lines.join('\n')).toContain('silent for a whole lease');
  });

  it('after its own pause, reads what the coordinator sent before judging it silent (the assignment is not thrown away)', async () => {
    const dir = tempDir();
    const wss = await fakeCoordinator();
    let connections = 0;
    const received: Array<{ type: string; taskId?: number }> = [];
    wss.on('connection', (ws) => {
      connections++;
      let heartbeats = 0;
      ws.on('message', (d) => {
        const msg = JSON.parse(String(d)) as { type: string; taskId?: number };
        received.push(msg);
        if (msg.type === 'hello') ws.send(JSON.stringify({ type: 'welcome', protocol: 1, heartbeatMs: 100, leaseMs: 300, cancel: [] }));
        if (msg.type !== 'heartbeat' || ++heartbeats !== 3) return;
        ws.send(JSON.stringify({ type: 'task.assign', taskId: 1, attempt: 1, task: { title: 'after a pause', body: 'ccc-demo: sleep=30', labels: [], repo: null, issueNumber: null, specialty: 'backend' } }));
        // The whole process stops for longer than the lease (as under SIGSTOP), with the assignment in the agent's socket.
        const until = Date.now() + 700;
        while (Date.now() < until) { /* paused */ }
      });
    });
    const { lines } = startAgent(urlOf(wss), dir);
    await eventually(() => received.some((m) => m.type === 'task.result' && m.taskId === 1), 10_000, 'the assigned task to run');
    expect(received.some((m) => m.type === 'task.started' && m.taskId === 1)).toBe(true);
    expect(connections).toBe(1);
    expect(lines.join('\n')).not.toContain('silent for a whole lease');
  });

  it('answers garbage from the coordinator with an error frame and does not crash', async () => {
    const dir = tempDir();
    const wss = await fakeCoordinator();
    const replies: string[] = [];
    wss.on('connection', (ws) => {
      ws.on('message', (d) => replies.push(String(d)));
      ws.once('message', () => {
        ws.send('{{{ not json');
        ws.send(JSON.stringify({ type: 'task.assign', taskId: 'x' }));
        ws.send(JSON.stringify({ type: 'welcome', protocol: 1, heartbeatMs: 100, leaseMs: 1000, cancel: [] }));
        ws.send(JSON.stringify({ type: 'mystery' }));
      });
    });
    const { agent } = startAgent(urlOf(wss), dir);
    await eventually(() => agent.badFrames === 3, 5000, 'three bad frames');
    await eventually(() => replies.filter((r) => r.includes('"type":"heartbeat"')).length > 0, 5000, 'heartbeat after welcome');
    expect(replies.filter((r) => r.includes('"bad_message"'))).toHaveLength(1); // only after welcome can it reply
  });
});
