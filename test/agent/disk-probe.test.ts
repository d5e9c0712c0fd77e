/**
 * An agent whose state directory cannot be written drains itself and says why (status line,
 * GET /agents, `ccc agents`), and takes work again once a probe write succeeds. The fault here is
 * a directory where the probe file goes (EISDIR, which binds root too); the `disk` drill
 * (scripts/drill/disk.ts) does it with a real full and read-only tmpfs.
 */
import { mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Agent } from '../../daemons/agent/agent.js';
import { CommandExecutor } from '../../daemons/agent/command-executor.js';
import { AgentCredential } from '../../daemons/agent/credential.js';
import { cli } from '../cli/run-cli.js';
import { ADMIN_TOKEN, AGENT_TOKEN, api, eventually, memoryLogger, onCleanup, startTestCoordinator, tempDir, testEnv } from '../helpers.js';

type View = { id: string; state: string; drainReason?: string };

describe('agent disk probe', () => {
  it('drains with the reason while its disk cannot be written, and resumes when it can', async () => {
    const dir = tempDir();
    const env = testEnv(dir);
    const c = await startTestCoordinator(env);
    const { log, lines } = memoryLogger();
    const dataDir = join(dir, 'agent');
    const statuses: string[] = [];
    const agent = new Agent({
      coordinatorUrl: c.url,
      credential: new AgentCredential({ dataDir, joinToken: AGENT_TOKEN, log }),
      id: 'backend', hostname: 'backend.test', version: 'test', specialties: ['backend', 'api', 'database', 'python'], capacity: 2,
      executor: new CommandExecutor({ command: ['node', '{packageRoot}/scripts/demo-task.mjs'], timeoutMs: 30_000, env: process.env }),
      dataDir, drainTimeoutMs: 2000, backoff: { baseMs: 50, capMs: 200 }, diskProbeMs: 100, log,
      onStatus: (s) => statuses.push(s),
    });
    agent.start();
    onCleanup(() => agent.stop());
    const backend = async () => ((await api(c.url, '/agents')).body.agents as View[]).find((a) => a.id === 'backend');
    await eventually(async () => (await backend())?.state === 'online', 10_000, 'online');

    mkdirSync(join(dataDir, '.disk-probe'));
    const drained = await eventually(async () => { const a = await backend(); return a?.state === 'draining' && a; }, 10_000, 'draining');
    expect(drained.drainReason).toBe(`disk: cannot write to ${dataDir} (EISDIR: the probe file is a directory)`);
    expect(agent.status()).toContain('takes no task: disk: cannot write to');
    expect(statuses.at(-1)).toContain('EISDIR');
    expect(lines.some((l) => l.includes('draining until a probe write succeeds'))).toBe(true);
    const shown = await cli(['agents'], { CCC_COORDINATOR_URL: c.url, CCC_ADMIN_TOKEN: ADMIN_TOKEN, CCC_CONFIG: env.CCC_CONFIG!, CCC_DATA_DIR: join(dir, 'cli') });
    expect(shown.stdout).toContain(`backend drains itself: disk: cannot write to ${dataDir} (EISDIR`);

    // No work while draining: the task waits instead of failing on the broken disk.
    const id = (await api(c.url, '/tasks', { body: { title: 'wait for a good disk', labels: ['ccc:backend'] } })).body.task.id as number;
    await new Promise((r) => setTimeout(r, 500));
    expect((await api(c.url, `/tasks/${id}`)).body.task).toMatchObject({ state: 'queued', attempt: 0 });

    rmdirSync(join(dataDir, '.disk-probe'));
    await eventually(async () => { const a = await backend(); return a?.state === 'online' && a.drainReason === undefined; }, 10_000, 'online again');
    await eventually(async () => (await api(c.url, `/tasks/${id}`)).body.task.state === 'succeeded', 20_000, 'task succeeded');
    expect(agent.status()).not.toContain('takes no task');
  });
});
