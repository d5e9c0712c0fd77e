/**
 * Impostors against a running cluster: a process holding the join token says hello as backend
 * while backend runs two tasks; another presents frontend's stolen credential as backend; another
 * brings garbage. Each is refused, backend stays connected and its tasks finish once. Then the
 * operator revokes backend: its connection closes and its tasks are queued again within a second,
 * and after `allow-enroll` it enrolls again by itself and finishes it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { AGENT_PATH, PROTOCOL_VERSION } from '../../daemons/shared/protocol.js';
import { AGENTS, commandExecutor, drillCluster } from './config.js';
import { poll, runDrill, sleep, type Drill, type DrillOptions, type DrillReport, type TaskWithEvents } from './harness.js';

export function impostor(opts: DrillOptions): Promise<DrillReport> {
  return runDrill('impostor', opts, (drill) => run(drill));
}

/** Opens the agent WebSocket with `token`, says hello as `agentId`: the HTTP status, or the first frame's error code. */
function pretend(url: string, token: string, agentId: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + AGENT_PATH, { headers: { authorization: `Bearer ${token}` } });
    const done = (what: string) => { ws.terminate(); resolve(what); };
    ws.on('unexpected-response', (_req, res) => done(`HTTP ${res.statusCode}`));
    ws.on('error', (err) => done(`error ${err.message}`));
    ws.on('open', () => {
      const node = AGENTS.find((a) => a.name === agentId)!;
      ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, agentId, hostname: 'impostor', version: 'x', specialties: node.specialties, capacity: node.capacity, tasks: [] }));
    });
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { type: string; code?: string };
      done(msg.type === 'error' ? `refused: ${msg.code}` : `ADMITTED (${msg.type})`);
    });
  });
}

async function run(drill: Drill): Promise<TaskWithEvents[]> {
  const cluster = await drill.start(drillCluster({ leaseSeconds: 3, heartbeatSeconds: 0.3 }, commandExecutor()));
  const fileOf = (name: string) => join(cluster.nodes.find((n) => n.name === name)!.env.CCC_DATA_DIR!, 'agent-credential');
  const credentialOf = (name: string) => readFileSync(fileOf(name), 'utf8').trim();
  const joinToken = cluster.nodes[0]!.env.CCC_AGENT_TOKEN!;
  drill.check('every agent keeps its own credential', await poll(() => AGENTS.every((a) => existsSync(fileOf(a.name))), 5000));
  for (const a of AGENTS) drill.secrets.push(credentialOf(a.name));
  const held = [
    await drill.submit({ title: 'backend job 1', body: 'ccc-demo: sleep=4000', labels: ['ccc:backend'] }),
    await drill.submit({ title: 'backend job 2', body: 'ccc-demo: sleep=4000', labels: ['ccc:backend'] }),
  ];
  const running = async () => (await drill.tasks()).filter((t) => t.agentId === 'backend' && t.state === 'running').length;
  drill.check('backend runs two tasks', await poll(async () => (await running()) === 2, 15_000));

  const answers = {
    joinToken: await pretend(cluster.url, joinToken, 'backend'),
    stolen: await pretend(cluster.url, credentialOf('frontend'), 'backend'),
    garbage: await pretend(cluster.url, `ccca_${'x'.repeat(43)}`, 'backend'),
  };
  drill.fact(`impostors: join token as backend → ${answers.joinToken}; frontend's credential as backend → ${answers.stolen}; garbage → ${answers.garbage}`);
  drill.check('the join token cannot say hello as enrolled backend', answers.joinToken === 'refused: already_enrolled');
  drill.check("frontend's credential cannot say hello as backend", answers.stolen === 'refused: identity_mismatch');
  drill.check('a garbage credential gets 401 at the upgrade', answers.garbage === 'HTTP 401');
  const agents = (await drill.api<{ agents: Array<{ id: string; state: string }> }>('/agents')).body.agents;
  drill.check('backend stayed connected with its two tasks', agents.find((a) => a.id === 'backend')?.state === 'online' && (await running()) === 2);
  drill.check('its tasks finished once, on the first attempt', await drill.waitFinal(20_000, held)
    && (await Promise.all(held.map((id) => drill.task(id)))).every((t) => t.state === 'succeeded' && t.attempt === 1));

  const taken = await drill.submit({ title: 'backend job 3', body: 'ccc-demo: sleep=3000', labels: ['ccc:backend'] });
  await poll(async () => (await drill.task(taken)).state === 'running', 10_000);
  const revokedAt = Date.now();
  const revoke = await drill.api('/agents/backend/revoke', { method: 'POST', body: {} });
  const requeued = await poll(async () => (await drill.task(taken)).state === 'queued', 1000, 20);
  const offline = await poll(async () => (await drill.api<{ agents: Array<{ id: string; state: string }> }>('/agents')).body.agents.find((a) => a.id === 'backend')?.state === 'offline', 1000, 20);
  drill.check('revoke closes backend\'s connection and requeues its task within a second', revoke.status === 200 && requeued && offline, `${Date.now() - revokedAt} ms`);
  await sleep(1500);
  drill.check('backend cannot come back on its own (credential and join token refused)', (await drill.task(taken)).state === 'queued');
  await drill.api('/agents/backend/allow-enroll', { method: 'POST', body: {} });
  // The running agent retries (with backoff): its refused credential makes it try the join token, which now works.
  drill.check('after allow-enroll backend enrolls again by itself and finishes the task', await drill.waitFinal(90_000, [taken]) && (await drill.task(taken)).state === 'succeeded');
  drill.secrets.push(credentialOf('backend'));
  const tasks = await drill.audit([...held, taken]);
  await drill.scanSecrets(tasks);
  return tasks;
}
