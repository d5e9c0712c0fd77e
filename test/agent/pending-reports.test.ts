/**
 * A finished task's result survives a kill -9 of the agent before the coordinator acknowledged it:
 * real agent processes, a real coordinator (in this process) whose handling of the first result is
 * withheld, as if the frame were lost with the connection.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AgentMessage } from '../../daemons/shared/protocol.js';
import { CLI } from '../cli/run-cli.js';
import { AGENT_TOKEN, api, clusterConfig, eventually, onCleanup, startTestCoordinator, tempDir, testEnv, writeCluster } from '../helpers.js';

function startAgent(env: Record<string, string>): ChildProcess {
  const child = spawn(process.execPath, [CLI, 'agent'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.resume();
  child.stderr!.resume();
  onCleanup(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return child;
}

describe('unacknowledged results on disk', () => {
  it('an agent killed (SIGKILL) after finishing but before the ack re-sends attempt 1\'s result after restart; the task runs once', async () => {
    const dir = tempDir();
    const runs = join(dir, 'runs.log');
    // Each run appends its attempt to runs.log, so a second run would show.
    const config = clusterConfig({
      tasks: { leaseSeconds: 30, heartbeatSeconds: 0.3 },
      agent: { executor: { type: 'command', command: ['sh', '-c', `echo "$CCC_TASK_ATTEMPT" >> ${runs}; echo "done by attempt $CCC_TASK_ATTEMPT"`], timeoutSeconds: 30 } },
    });
    const env = testEnv(dir);
    writeCluster(dir, config); // after testEnv, which writes the default cluster.yml to the same file
    const c = await startTestCoordinator(env);
    const hub = c.hub as unknown as { onMessage(agentId: string, msg: AgentMessage): void };
    const handle = hub.onMessage.bind(hub);
    const withheld: AgentMessage[] = [];
    let withhold = true;
    hub.onMessage = (agentId, msg) => {
      if (msg.type === 'task.result' && withhold) withheld.push(msg);
      else handle(agentId, msg);
    };

    const agentDir = join(dir, 'agent-backend');
    const agentEnv = {
      PATH: process.env.PATH!, HOME: process.env.HOME ?? '/nonexistent',
      CCC_CONFIG: env.CCC_CONFIG!, CCC_AGENT_TOKEN: AGENT_TOKEN, CCC_AGENT_ID: 'backend', CCC_COORDINATOR_URL: c.url, CCC_DATA_DIR: agentDir,
    };
    const first = startAgent(agentEnv);
    await eventually(async () => (await api(c.url, '/agents')).body.agents.some((a: { id: string; state: string }) => a.id === 'backend' && a.state === 'online'), 20_000, 'agent online');
    const { body } = await api(c.url, '/tasks', { body: { title: 'Count my runs', labels: ['ccc:backend'] } });
    const id = body.task.id as number;

    await eventually(() => withheld.length > 0, 20_000, 'the result sent (and withheld)');
    const pending = join(agentDir, 'pending-reports', `${id}.json`);
    expect(existsSync(pending)).toBe(true);
    expect(JSON.parse(readFileSync(pending, 'utf8'))).toMatchObject({ type: 'task.result', taskId: id, attempt: 1, outcome: 'succeeded' });
    first.kill('SIGKILL');
    await new Promise((resolve) => first.once('exit', resolve));
    expect((await api(c.url, `/tasks/${id}`)).body.task).toMatchObject({ state: 'running', attempt: 1 });

    withhold = false;
    startAgent(agentEnv);
    const done = await eventually(async () => {
      const t = (await api(c.url, `/tasks/${id}`)).body.task;
      return t.state === 'succeeded' && t;
    }, 20_000, 'task succeeded');
    expect(done).toMatchObject({ attempt: 1, agentId: 'backend' });
    expect(done.result.summary).toContain('done by attempt 1');
    expect(readFileSync(runs, 'utf8')).toBe('1\n');
    expect(done.events.filter((e: { kind: string }) => e.kind === 'assigned')).toHaveLength(1);
    // Acknowledged now: the file is gone.
    await eventually(() => !existsSync(pending), 10_000, 'pending report removed after the ack');
  });
});
