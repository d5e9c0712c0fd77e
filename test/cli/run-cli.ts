/** Runs the built `ccc` as a child process (asynchronously: the coordinator under test lives in this process). */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { packageRoot } from '../../daemons/shared/package-root.js';
import { ADMIN_TOKEN, RawAgent, onCleanup, startTestCoordinator, tempDir, testEnv } from '../helpers.js';
import type { Env } from '../../daemons/shared/config.js';

export const CLI = join(packageRoot, 'dist', 'daemons', 'cli', 'main.js');
if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does it)`);

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  done: Promise<CliResult>;
}

/** Starts `ccc args…` with only the environment given (plus PATH and HOME): no CCC_* of the test runner leaks in. */
export function startCli(args: string[], env: Env, stdin?: string): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, TZ: 'UTC', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin!.end(stdin ?? '');
  const done = new Promise<CliResult>((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
  onCleanup(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

export function cli(args: string[], env: Env, stdin?: string): Promise<CliResult> {
  return startCli(args, env, stdin).done;
}

/**
 * A coordinator in this process, and the environment that points the CLI at it:
 * CCC_DATA_DIR is an empty temp dir, so nothing a real `ccc up` left is read.
 */
export async function cliSetup() {
  const dir = tempDir('ccc-cli-');
  const env = testEnv(dir);
  const coordinator = await startTestCoordinator(env);
  const cliEnv: Env = {
    CCC_CONFIG: env.CCC_CONFIG,
    CCC_DATA_DIR: join(dir, 'cli-state'),
    CCC_COORDINATOR_URL: coordinator.url,
    CCC_ADMIN_TOKEN: ADMIN_TOKEN,
  };
  return { dir, coordinator, url: coordinator.url, env: cliEnv };
}

/** A loopback port nothing listens on. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A registered RawAgent that keeps its lease with heartbeats (the test cluster's lease is 2 s) until the test ends. */
export async function liveAgent(url: string, id: string, specialties: string[], opts: Parameters<RawAgent['hello']>[2] = {}): Promise<RawAgent> {
  const agent = await RawAgent.connectAs(url, id);
  await agent.hello(id, specialties, opts);
  const timer = setInterval(() => { if (agent.ws.readyState === agent.ws.OPEN) agent.send({ type: 'heartbeat' }); }, 300);
  onCleanup(() => clearInterval(timer));
  return agent;
}
