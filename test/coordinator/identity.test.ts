/**
 * Per-agent identity against a real coordinator over real sockets: enrollment, impostors with the
 * join token, stolen credentials, garbage at the upgrade, revocation and re-enrollment.
 */
import { statSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { Agent } from '../../daemons/agent/agent.js';
import { AgentCredential } from '../../daemons/agent/credential.js';
import { CommandExecutor } from '../../daemons/agent/command-executor.js';
import { AGENT_PATH } from '../../daemons/shared/protocol.js';
import { AGENT_TOKEN, RawAgent, SPECIALTIES, api, eventually, memoryLogger, onCleanup, startTestCoordinator, tempDir, testEnv } from '../helpers.js';

/** A real Agent with its data dir, running tasks that take `sleep` ms. */
function realAgent(url: string, dir: string, id = 'backend') {
  const { log, lines } = memoryLogger();
  const dataDir = join(dir, `agent-${id}`);
  const credential = new AgentCredential({ dataDir, joinToken: AGENT_TOKEN, log });
  const agent = new Agent({
    coordinatorUrl: url, credential, id, hostname: `${id}.test`, version: 'test', specialties: SPECIALTIES[id]!, capacity: 2,
    executor: new CommandExecutor({ command: ['node', '{packageRoot}/scripts/demo-task.mjs'], timeoutMs: 30_000, env: process.env }),
    dataDir, drainTimeoutMs: 1000, backoff: { baseMs: 50, capMs: 200 }, log,
  });
  agent.start();
  onCleanup(() => agent.stop());
  return { agent, credential, lines };
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

function upgradeStatus(url: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + AGENT_PATH, { headers: { authorization: `Bearer ${token}` } });
    ws.on('upgrade', (res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); ws.terminate(); });
    ws.on('error', () => undefined);
  });
}

async function submit(url: string, title: string, body = 'ccc-demo: sleep=4000') {
  return (await api(url, '/tasks', { body: { title, body, labels: ['ccc:backend'] } })).body.task.id as number;
}
const task = async (url: string, id: number) => (await api(url, `/tasks/${id}`)).body.task;

describe('per-agent identity', () => {
  it('enrolls once with the join token and keeps its own credential in a 0600 file that the coordinator stores only hashed', async () => {
    const dir = tempDir();
    const env = testEnv(dir, { CCC_LISTEN: `127.0.0.1:${await freePort()}` });
    const c = await startTestCoordinator(env);
    const { agent, credential } = realAgent(c.url, dir);
    await eventually(() => agent.connected, 10_000, 'enrolled');
    const secret = readFileSync(credential.file, 'utf8').trim();
    expect(secret).toMatch(/^ccca_/);
    expect(statSync(credential.file).mode & 0o777).toBe(0o600);
    const db = readFileSync(join(dir, 'coordinator', 'coordinator.sqlite'));
    expect(db.includes(secret)).toBe(false);
    expect(c.lines.join('\n')).not.toContain(secret);
    const listed = (await api(c.url, '/agents')).body.agents[0];
    expect(listed.enrollment).toMatchObject({ enrolled: true, enrollAllowed: false });
    // From now on the join token cannot connect as backend…
    const impostor = await RawAgent.connect(c.url);
    impostor.send({ type: 'hello', protocol: 1, agentId: 'backend', hostname: 'evil', version: 'x', specialties: SPECIALTIES.backend!, capacity: 2, tasks: [] });
    expect((await impostor.next('error')).code).toBe('already_enrolled');
    // …and the agent reconnects with its credential after the coordinator restarts.
    await c.close();
    const again = await startTestCoordinator(env);
    await eventually(() => agent.connected, 10_000, 'reconnected');
    expect(readFileSync(credential.file, 'utf8').trim()).toBe(secret);
    expect(again.lines.some((l) => l.includes('agent enrolled'))).toBe(false);
  });

  it('refuses an impostor with the join token claiming an enrolled id; the real agent stays connected with its task', async () => {
    const dir = tempDir();
    const c = await startTestCoordinator(testEnv(dir));
    const { agent } = realAgent(c.url, dir);
    await eventually(() => agent.connected, 10_000, 'enrolled');
    const id = await submit(c.url, 'held by the real backend');
    await eventually(async () => (await task(c.url, id)).state === 'running', 10_000, 'running');
    const before = c.hub.counters.connections;
    for (let i = 0; i < 3; i++) {
      const impostor = await RawAgent.connect(c.url, AGENT_TOKEN);
      impostor.send({ type: 'hello', protocol: 1, agentId: 'backend', hostname: 'evil', version: 'x', specialties: SPECIALTIES.backend!, capacity: 2, tasks: [] });
      const refusal = await impostor.next('error');
      expect(refusal.code).toBe('already_enrolled');
      await eventually(() => impostor.ws.readyState === WebSocket.CLOSED, 5000, 'impostor closed');
    }
    expect(c.hub.counters.connections).toBe(before + 3);
    expect(agent.connected).toBe(true);
    const t = await task(c.url, id);
    expect(t).toMatchObject({ state: 'running', agentId: 'backend', attempt: 1 });
    expect(c.registry.connected.get('backend')).toBeDefined();
    expect(c.lines.some((l) => l.includes('agent refused') && l.includes('already_enrolled'))).toBe(true);
    expect((await eventually(async () => { const x = await task(c.url, id); return x.state === 'succeeded' ? x : undefined; }, 15_000, 'done')).attempt).toBe(1);
  });

  it('refuses a stolen credential presented with another id, and a hello claiming other specialties', async () => {
    const dir = tempDir();
    const c = await startTestCoordinator(testEnv(dir));
    const backend = await RawAgent.connect(c.url);
    const stolen = (await backend.hello('backend', SPECIALTIES.backend!)).credential!;
    const thief = await RawAgent.connect(c.url, stolen);
    thief.send({ type: 'hello', protocol: 1, agentId: 'frontend', hostname: 'evil', version: 'x', specialties: SPECIALTIES.frontend!, capacity: 2, tasks: [] });
    expect(await thief.next('error')).toMatchObject({ code: 'identity_mismatch' });
    const liar = await RawAgent.connect(c.url);
    liar.send({ type: 'hello', protocol: 1, agentId: 'frontend', hostname: 'h', version: 'x', specialties: ['frontend', 'backend'], capacity: 9, tasks: [] });
    expect(await liar.next('error')).toMatchObject({ code: 'config_mismatch' });
    const stranger = await RawAgent.connect(c.url);
    stranger.send({ type: 'hello', protocol: 1, agentId: 'mallory', hostname: 'h', version: 'x', specialties: ['backend'], capacity: 1, tasks: [] });
    expect(await stranger.next('error')).toMatchObject({ code: 'unknown_agent' });
    expect([...c.registry.connected.keys()]).toEqual(['backend']);
    // frontend itself may still enroll: nothing above enrolled it.
    expect((await (await RawAgent.connect(c.url)).hello('frontend', SPECIALTIES.frontend!)).credential).toMatch(/^ccca_/);
  });

  it('answers garbage credentials with 401 at the upgrade', async () => {
    const c = await startTestCoordinator(testEnv(tempDir()));
    const enrolled = (await (await RawAgent.connect(c.url)).hello('backend', SPECIALTIES.backend!)).credential!;
    for (const token of ['ccca_' + 'A'.repeat(43), `${enrolled}x`, enrolled.slice(0, -1), 'garbage', AGENT_TOKEN.slice(1)]) {
      expect(await upgradeStatus(c.url, token)).toBe(401);
    }
    expect(await upgradeStatus(c.url, enrolled)).toBe(101);
    expect(await upgradeStatus(c.url, AGENT_TOKEN)).toBe(101);
  });

  it('revoke closes the connection and requeues its tasks within a second; re-enrollment waits for the operator', async () => {
    const dir = tempDir();
    const c = await startTestCoordinator(testEnv(dir));
    const { agent, lines } = realAgent(c.url, dir);
    await eventually(() => agent.connected, 10_000, 'enrolled');
    const id = await submit(c.url, 'taken away', 'ccc-demo: sleep=20000');
    await eventually(async () => (await task(c.url, id)).state === 'running', 10_000, 'running');
    const started = Date.now();
    const revoked = await api(c.url, '/agents/backend/revoke', { body: {} });
    expect(revoked.status).toBe(200);
    expect(revoked.body).toMatchObject({ agent: 'backend', requeued: 1, enrollment: { enrolled: false, enrollAllowed: false } });
    await eventually(() => !agent.connected, 1000, 'connection closed within a second');
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await task(c.url, id)).toMatchObject({ state: 'queued', agentId: null });
    // Its credential is refused, and its enrollment with the join token too, until the operator allows it.
    await eventually(() => lines.some((l) => l.includes('refused this agent\'s credential')), 5000, 'credential refused');
    await eventually(() => c.lines.some((l) => l.includes('enroll_not_allowed')), 5000, 're-enrollment refused');
    expect(agent.connected).toBe(false);
    expect((await api(c.url, '/agents/backend/allow-enroll', { body: {} })).status).toBe(200);
    await eventually(() => agent.connected, 10_000, 're-enrolled');
    expect((await api(c.url, '/agents')).body.agents[0].enrollment).toMatchObject({ enrolled: true, enrollAllowed: false });
    expect((await api(c.url, '/agents/nobody/revoke', { body: {} })).status).toBe(404);
  });
});
