/**
 * The whole cluster of cluster.yml as local processes: one coordinator and one
 * process per agent, each node on its own loopback address (127.0.0.<last octet
 * of its IP>) on Linux, or all on 127.0.0.1 elsewhere. Used by `ccc up` and the tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { readCluster, type Env } from '../shared/config.js';
import { CccError } from '../shared/errors.js';
import { packageRoot } from '../shared/package-root.js';
import { loadOrCreateSecrets } from './secrets-file.js';

export interface LocalClusterOptions {
  configFile: string;
  /** Root of all state: coordinator/, agent-<name>/, logs/, secrets.env. */
  dataDir: string;
  /** Coordinator port; 0 picks a free one. */
  port: number;
  /** Extra environment for every node (e.g. CCC_LOG_LEVEL). */
  env?: Env;
  onProgress?: (line: string) => void;
  readyTimeoutMs?: number;
}

export interface Node {
  name: string;
  address: string;
  child: ChildProcess;
  logFile: string;
}

export interface LocalCluster {
  url: string;
  adminToken: string;
  secretsFile: string;
  nodes: Node[];
  stop(): Promise<void>;
}

const CLI = join(packageRoot, 'dist', 'daemons', 'cli', 'main.js');

/** 192.168.56.11 → 127.0.0.11 on Linux, where all of 127/8 is loopback. */
export function loopbackFor(ip: string): string {
  return process.platform === 'linux' ? `127.0.0.${ip.split('.')[3]}` : '127.0.0.1';
}

export async function startLocalCluster(opts: LocalClusterOptions): Promise<LocalCluster> {
  const cluster = readCluster(opts.configFile);
  const progress = opts.onProgress ?? (() => {});
  const secretsFile = join(opts.dataDir, 'secrets.env');
  const secrets = loadOrCreateSecrets(secretsFile);
  const logDir = join(opts.dataDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const baseEnv: Env = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG, ...opts.env, ...secrets, CCC_CONFIG: opts.configFile };
  const nodes: Node[] = [];
  const stop = () => stopNodes(nodes);
  const timeoutMs = opts.readyTimeoutMs ?? 30_000;

  try {
    const host = loopbackFor(cluster.coordinator.ip);
    progress(`starting coordinator on ${host}:${opts.port || '(any free port)'}`);
    const coordinator = spawnNode('coordinator', host, ['coordinator'], {
      ...baseEnv, CCC_LISTEN: `${host}:${opts.port}`, CCC_DATA_DIR: join(opts.dataDir, 'coordinator'),
    }, logDir);
    nodes.push(coordinator);
    const url = await waitForLine(coordinator, (l) => (l.msg === 'coordinator listening' ? String(l.url) : undefined), timeoutMs);
    progress(`coordinator listening at ${url}`);

    for (const agent of cluster.agents) {
      const address = loopbackFor(agent.ip);
      nodes.push(spawnNode(agent.name, address, ['agent'], {
        ...baseEnv,
        CCC_AGENT_ID: agent.name,
        CCC_COORDINATOR_URL: url,
        CCC_DATA_DIR: join(opts.dataDir, `agent-${agent.name}`),
        ...(address !== '127.0.0.1' ? { CCC_AGENT_SOURCE_ADDRESS: address } : {}),
      }, logDir));
      progress(`starting agent ${agent.name} from ${address} [${agent.specialties.join(', ')}]`);
    }
    await waitForAgents(url, secrets.CCC_ADMIN_TOKEN, cluster.agents.map((a) => a.name), timeoutMs, progress);
    return { url, adminToken: secrets.CCC_ADMIN_TOKEN, secretsFile, nodes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function spawnNode(name: string, address: string, args: string[], env: Env, logDir: string): Node {
  const logFile = join(logDir, `${name}.log`);
  // detached: a Ctrl-C in the terminal reaches only `ccc up`, which stops the nodes in order.
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const out = createWriteStream(logFile, { flags: 'a' });
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  return { name, address, child, logFile };
}

/** Resolves with the first log line `pick` accepts; fails if the node exits first. */
function waitForLine<T>(node: Node, pick: (line: Record<string, unknown>) => T | undefined, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: node.child.stdout! });
    const stderr: string[] = [];
    node.child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
    const timer = setTimeout(() => reject(new CccError(`${node.name} did not start within ${timeoutMs / 1000} s; see ${node.logFile}`, 'start')), timeoutMs);
    const onExit = (code: number | null) => {
      clearTimeout(timer);
      reject(new CccError(`${node.name} exited (code ${code}) while starting: ${stderr.join('').trim().split('\n').at(-1) ?? ''}; see ${node.logFile}`, 'start'));
    };
    node.child.once('exit', onExit);
    lines.on('line', (line) => {
      let parsed: Record<string, unknown>;
      try { parsed = JSON.parse(line) as Record<string, unknown>; } catch { return; }
      const value = pick(parsed);
      if (value === undefined) return;
      clearTimeout(timer);
      node.child.off('exit', onExit);
      lines.close();
      resolve(value);
    });
  });
}

async function waitForAgents(url: string, token: string, names: string[], timeoutMs: number, progress: (l: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const seen = new Set<string>();
  while (Date.now() < deadline) {
    const res = await fetch(`${url}/api/v1/agents`, { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined);
    if (res?.ok) {
      const { agents } = (await res.json()) as { agents: Array<{ id: string; state: string; address: string | null }> };
      for (const a of agents) {
        if (a.state === 'online' && names.includes(a.id) && !seen.has(a.id)) {
          seen.add(a.id);
          progress(`agent ${a.id} registered from ${a.address ?? '?'} (${seen.size}/${names.length})`);
        }
      }
      if (seen.size === names.length) return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const missing = names.filter((n) => !seen.has(n));
  throw new CccError(`agents not registered within ${timeoutMs / 1000} s: ${missing.join(', ')}; see their logs`, 'start');
}

/** SIGTERM to the agents (they drain), then to the coordinator (nodes[0]); SIGKILL whatever is left after 90 s. */
async function stopNodes(nodes: Node[]): Promise<void> {
  const exited = (n: Node) => (n.child.exitCode !== null || n.child.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => n.child.once('exit', () => r())));
  const term = async (list: Node[]) => {
    for (const n of list) n.child.kill('SIGTERM');
    const killer = setTimeout(() => list.forEach((n) => n.child.kill('SIGKILL')), 90_000);
    await Promise.all(list.map(exited));
    clearTimeout(killer);
  };
  const [coordinator, ...agents] = nodes;
  await term(agents);
  if (coordinator) await term([coordinator]);
}
