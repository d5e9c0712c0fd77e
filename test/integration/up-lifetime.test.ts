/**
 * No node outlives `ccc up`, and a node whose log reader is gone still stops: real processes, real
 * signals (SIGKILL of `ccc up`; SIGTERM of an agent whose stdout socket has no reader: EPIPE).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AGENT_TOKEN, eventually, onCleanup, startTestCoordinator, tempDir, testEnv, writeCluster } from '../helpers.js';
import { CLI } from '../cli/run-cli.js';

/** Running (not exited, not a zombie: PID 1 here may not reap orphans). */
function alive(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
}

function childrenOf(parent: number): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).map(Number).filter((pid) => {
    try { return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[1] === String(parent); } catch { return false; }
  });
}

function killOnCleanup(pids: () => number[]): void {
  onCleanup(() => { for (const pid of pids()) if (alive(pid)) process.kill(pid, 'SIGKILL'); });
}

function output(child: ChildProcess): () => string {
  let text = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (text += d));
  return () => text;
}

describe.skipIf(process.platform !== 'linux')('node lifetime (real processes)', () => {
  it('SIGKILL of `ccc up`: all five nodes are gone within a few seconds', async () => {
    const dir = tempDir('ccc-up-kill-');
    const up = spawn(process.execPath, [CLI, 'up', '--port', '0'], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, CCC_CONFIG: writeCluster(dir), CCC_DATA_DIR: join(dir, 'state') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let nodes: number[] = [];
    killOnCleanup(() => [up.pid!, ...nodes]);
    const stdout = output(up);
    await eventually(() => stdout().includes('ccc up: ready in'), 60_000, '`ccc up` ready');
    nodes = childrenOf(up.pid!);
    expect(nodes).toHaveLength(5); // the coordinator and four agents

    up.kill('SIGKILL');
    const t0 = Date.now();
    await eventually(() => nodes.every((pid) => !alive(pid)), 10_000, 'every node gone');
    expect(Date.now() - t0).toBeLessThan(5_000);
  }, 90_000);

  it('an agent whose stdout has no reader (EPIPE) still stops on SIGTERM', async () => {
    const dir = tempDir('ccc-epipe-');
    const coordinator = await startTestCoordinator(testEnv(dir));
    const agent = spawn(process.execPath, [CLI, 'agent'], {
      env: {
        PATH: process.env.PATH, HOME: process.env.HOME, CCC_CONFIG: join(dir, 'cluster.yml'), CCC_DATA_DIR: join(dir, 'agent'),
        CCC_AGENT_ID: 'backend', CCC_AGENT_TOKEN: AGENT_TOKEN, CCC_COORDINATOR_URL: coordinator.url, CCC_LOG_LEVEL: 'debug',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    killOnCleanup(() => [agent.pid!]);
    const stdout = output(agent);
    await eventually(() => stdout().includes('registered with the coordinator'), 30_000, 'agent registered');
    // Gone reader: every later write of the agent's logger meets EPIPE.
    agent.stdout!.destroy();
    agent.stderr!.destroy();
    const exited = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));
    agent.kill('SIGTERM');
    const t0 = Date.now();
    await eventually(() => !alive(agent.pid!), 10_000, 'agent gone');
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await exited).toBe(0);
  }, 60_000);
});
