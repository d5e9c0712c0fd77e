/**
 * The five nodes of cluster.yml as real processes on 127.0.0.10–14: a real
 * coordinator (SQLite on disk) and four real agents speaking over WebSockets.
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startLocalCluster, type LocalCluster } from '../../daemons/cli/local-cluster.js';
import { api, clusterConfig, eventually, onCleanup, tempDir, writeCluster } from '../helpers.js';

const SPECIALIST: Record<string, string> = {};
for (const a of clusterConfig().agents as Array<{ name: string; specialties: string[] }>) for (const s of a.specialties) SPECIALIST[s] = a.name;

async function cluster(config = clusterConfig()): Promise<LocalCluster & { dir: string }> {
  const dir = tempDir('ccc-cluster-');
  const c = await startLocalCluster({ configFile: writeCluster(dir, config), dataDir: join(dir, 'state'), port: 0, env: { CCC_LOG_LEVEL: 'debug' } });
  onCleanup(() => c.stop());
  return Object.assign(c, { dir });
}

const call = <T = any>(c: LocalCluster, path: string, init: Parameters<typeof api>[2] = {}) => api<T>(c.url, path, { token: c.adminToken, ...init });

async function allFinal(c: LocalCluster, ids: number[], timeoutMs = 60_000) {
  return eventually(async () => {
    const { body } = await call(c, '/tasks?limit=5000');
    const byId = new Map<number, any>(body.tasks.map((t: any) => [t.id, t]));
    const tasks = ids.map((id) => byId.get(id));
    return tasks.every((t) => t && ['succeeded', 'failed', 'cancelled'].includes(t.state)) ? tasks : undefined;
  }, timeoutMs, `${ids.length} tasks final`);
}

describe('local cluster (real processes)', () => {
  it('binds the five nodes to 127.0.0.10–14 and finishes 20 mixed tasks each on an agent of the right specialty', async () => {
    const c = await cluster();
    expect(new URL(c.url).hostname).toBe('127.0.0.10');
    const { body } = await call(c, '/agents');
    expect(body.agents.map((a: any) => [a.id, a.address, a.state]).sort()).toEqual([
      ['backend', '127.0.0.11', 'online'], ['devops', '127.0.0.14', 'online'],
      ['frontend', '127.0.0.12', 'online'], ['testing', '127.0.0.13', 'online'],
    ]);

    const submissions = [
      ...['backend', 'api', 'database', 'python', 'react', 'ui', 'typescript', 'qa', 'jest', 'e2e', 'docker', 'kubernetes', 'ci', 'infrastructure']
        .map((s) => ({ title: `Work on ${s}`, labels: [`ccc:${s}`] })),
      { title: 'Add a REST endpoint for invoices', body: 'Store them in the database.', labels: [] },
      { title: 'The login button layout breaks on mobile', body: 'CSS fix needed', labels: [] },
      { title: 'Tests are flaky in CI', body: 'pytest shows a regression', labels: ['bug'] },
      { title: 'Write a Dockerfile and deploy with helm', body: '', labels: [] },
      { title: 'Tidy the README', body: 'Nothing technical.', labels: [] },
      { title: 'Rename a variable', body: 'ccc-demo: sleep=100', labels: ['ccc:general'] },
    ];
    expect(submissions).toHaveLength(20);
    const ids: number[] = [];
    for (const s of submissions) ids.push((await call(c, '/tasks', { body: s })).body.task.id);

    const tasks = await allFinal(c, ids);
    const specialtiesOf = new Map<string, string[]>(body.agents.map((a: any) => [a.id, a.specialties]));
    for (const t of tasks) {
      expect(t.state, `task ${t.id} ${t.title}`).toBe('succeeded');
      if (t.specialty === 'general') continue;
      expect(specialtiesOf.get(t.agentId), `task ${t.id} (${t.specialty}) ran on ${t.agentId}`).toContain(t.specialty);
      expect(t.agentId).toBe(SPECIALIST[t.specialty]);
      expect(t.routeReason).toContain(`has ${t.specialty}`);
    }
    expect(tasks.slice(14, 18).map((t) => t.agentId)).toEqual(['backend', 'frontend', 'testing', 'devops']);
    expect(new Set(tasks.map((t) => t.agentId)).size).toBe(4);

    // No token in any log line, and none on any node's command line.
    const secrets = readFileSync(c.secretsFile, 'utf8').match(/=(.+)/g)!.map((m) => m.slice(1));
    expect(secrets).toHaveLength(2);
    for (const node of c.nodes) {
      const log = readFileSync(node.logFile, 'utf8');
      expect(log.length).toBeGreaterThan(0);
      for (const secret of secrets) expect(log.includes(secret), `${node.name} log holds a token`).toBe(false);
      const cmdline = readFileSync(`/proc/${node.child.pid}/cmdline`, 'utf8');
      for (const secret of secrets) expect(cmdline.includes(secret)).toBe(false);
      // An agent's environment holds the join token, never the admin token; its own credential is in its file.
      if (node.name === 'coordinator') continue;
      const environ = readFileSync(`/proc/${node.child.pid}/environ`, 'utf8');
      const [adminToken, joinToken] = [/CCC_ADMIN_TOKEN=(.+)/, /CCC_AGENT_TOKEN=(.+)/].map((re) => re.exec(readFileSync(c.secretsFile, 'utf8'))![1]!);
      expect(environ.includes(adminToken!), `${node.name} environment holds the admin token`).toBe(false);
      expect(environ).toContain(`CCC_AGENT_TOKEN=${joinToken}`);
      expect(statSync(join(node.env.CCC_DATA_DIR!, 'agent-credential')).mode & 0o777).toBe(0o600);
    }
  });

  it('loses no accepted task when the coordinator is killed with SIGKILL during a burst, and completes each once', async () => {
    const c = await cluster();
    const accepted: number[] = [];
    let refused = 0;
    const burst = (async () => {
      for (let i = 0; i < 300; i++) {
        try {
          const r = await call(c, '/tasks', { body: { title: `burst ${i}`, body: 'ccc-demo: sleep=30', labels: [['ccc:backend', 'ccc:ui', 'ccc:qa', 'ccc:ci'][i % 4]!] } });
          if (r.status === 201) accepted.push(r.body.task.id);
        } catch {
          refused++; // the coordinator is down: nothing was acknowledged
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    })();
    await eventually(() => accepted.length >= 40, 30_000, '40 accepted');
    const coordinator = c.nodes[0]!;
    coordinator.child.kill('SIGKILL');
    await new Promise((r) => coordinator.child.once('exit', r));
    await new Promise((r) => setTimeout(r, 300));
    await c.restart('coordinator');
    await burst;
    expect(refused).toBeGreaterThan(0);
    const tasks = await allFinal(c, accepted, 120_000);
    expect(tasks.every((t) => t.state === 'succeeded')).toBe(true);
    const { body } = await call(c, '/tasks?limit=5000');
    // Nothing was acknowledged twice, and nothing acknowledged is missing.
    expect(new Set(accepted).size).toBe(accepted.length);
    expect(body.tasks.map((t: any) => t.id)).toEqual(expect.arrayContaining(accepted));
    for (const id of accepted.slice(0, 60)) {
      const t = (await call(c, `/tasks/${id}`)).body.task;
      expect(t.events.filter((e: any) => e.kind === 'succeeded'), `task ${id}`).toHaveLength(1);
    }
  });

  it('an agent stopped with SIGTERM hands its running task back, and the task completes after it returns', async () => {
    const c = await cluster();
    const { body } = await call(c, '/tasks', { body: { title: 'long backend job', body: 'ccc-demo: sleep=4000', labels: ['ccc:backend'] } });
    const id = body.task.id;
    await eventually(async () => (await call(c, `/tasks/${id}`)).body.task.state === 'running');
    const backend = c.nodes.find((n) => n.name === 'backend')!;
    backend.child.kill('SIGTERM');
    const code = await new Promise((r) => backend.child.once('exit', (code) => r(code)));
    expect(code).toBe(0);
    const handedBack = (await call(c, `/tasks/${id}`)).body.task;
    expect(handedBack).toMatchObject({ state: 'queued', attempt: 1, maxAttempts: 4 });
    expect(handedBack.events.map((e: any) => e.kind)).toContain('released');

    await c.restart('backend');
    const [done] = await allFinal(c, [id]);
    expect(done).toMatchObject({ state: 'succeeded', agentId: 'backend', attempt: 2 });
  });
});
