/**
 * The whole cluster of cluster.yml as local processes: one coordinator and one
 * process per agent, each node on its own loopback address (127.0.0.<last octet
 * of its IP>) on Linux, or all on 127.0.0.1 elsewhere. Used by `ccc up` and the tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { createWriteStream, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { readCluster, type Env } from '../shared/config.js';
import { CccError } from '../shared/errors.js';
import { packageRoot } from '../shared/package-root.js';
import { createLogger } from '../shared/log.js';
import { startModelServer, type ModelServer } from '../rehearsal/model-server.js';
import { ensureDemoRepo } from './demo-repo.js';
import { loadOrCreateSecrets } from './secrets-file.js';

/** What the rehearsal model accepts as a key; never a real credential. */
export const REHEARSAL_API_KEY = 'rehearsal-key-not-a-secret';

export interface LocalClusterOptions {
  configFile: string;
  /** Root of all state: coordinator/, agent-<name>/, logs/, secrets.env. */
  dataDir: string;
  /** Coordinator port; 0 picks a free one. */
  port: number;
  /** Extra environment for every node (e.g. CCC_LOG_LEVEL). */
  env?: Env;
  /** Extra environment for the coordinator only (CCC_GITHUB_TOKEN, CCC_WEBHOOK_SECRET …). */
  coordinatorEnv?: Env;
  /** Extra environment for the agents only; wins over the rehearsal defaults (e.g. CCC_GIT_URL_TEMPLATE). */
  agentEnv?: Env;
  onProgress?: (line: string) => void;
  readyTimeoutMs?: number;
  /**
   * 'rehearsal' (default): agents' Claude Code CLI talks to the rehearsal model, started here;
   * 'anthropic': to the real API with the ANTHROPIC_API_KEY of `env`.
   */
  model?: 'rehearsal' | 'anthropic';
}

export interface Node {
  name: string;
  address: string;
  child: ChildProcess;
  logFile: string;
  args: string[];
  env: Env;
  /** Emits 'line' for each stdout line and 'stderr' for stderr text. */
  lines: EventEmitter;
}

export interface LocalCluster {
  url: string;
  /** The rehearsal model's URL, when it runs. */
  modelUrl: string | undefined;
  /** The rehearsal model itself, when it runs (tests and drills change its fault while it runs). */
  model: ModelServer | undefined;
  /** Directory of the local forge's bare repositories (demo/app.git …). */
  forgeRoot: string;
  adminToken: string;
  secretsFile: string;
  nodes: Node[];
  /** Starts a node again after it exited (drills, tests); the coordinator keeps its port. */
  restart(name: string): Promise<Node>;
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
  // Each node gets only the secrets its role needs: an agent the join token, never the admin token.
  const baseEnv: Env = { PATH: process.env.PATH, HOME: process.env.HOME, LANG: process.env.LANG, TZ: process.env.TZ, ...opts.env, CCC_CONFIG: opts.configFile };
  const nodes: Node[] = [];
  const forgeRoot = join(opts.dataDir, 'coordinator', 'forge');
  ensureDemoRepo(forgeRoot);
  let model: ModelServer | undefined;
  const stop = async () => {
    await stopNodes(nodes);
    await model?.close();
  };
  const timeoutMs = opts.readyTimeoutMs ?? 30_000;

  try {
    const host = loopbackFor(cluster.coordinator.ip);
    progress(`starting coordinator on ${host}:${opts.port || '(any free port)'}`);
    const coordinator = spawnNode('coordinator', host, ['coordinator'], {
      ...baseEnv, ...secrets, ...opts.coordinatorEnv, CCC_LISTEN: `${host}:${opts.port}`, CCC_DATA_DIR: join(opts.dataDir, 'coordinator'),
    }, logDir);
    nodes.push(coordinator);
    const url = await waitForLine(coordinator, (l) => (l.msg === 'coordinator listening' ? String(l.url) : undefined), timeoutMs);
    progress(`coordinator listening at ${url}`);

    const agentEnv: Env = { CCC_GIT_URL_TEMPLATE: `file://${forgeRoot}/{owner}/{repo}.git` };
    if ((opts.model ?? 'rehearsal') === 'rehearsal') {
      model = await startModelServer({ host, port: 0, log: createLogger({ level: 'warn', name: 'rehearsal-model', secrets: [] }) });
      Object.assign(agentEnv, { CCC_ANTHROPIC_BASE_URL: model.url, ANTHROPIC_API_KEY: REHEARSAL_API_KEY });
      progress(`rehearsal model (scripted Messages API) at ${model.url}`);
    }
    for (const agent of cluster.agents) {
      const address = loopbackFor(agent.ip);
      nodes.push(spawnNode(agent.name, address, ['agent'], {
        ...baseEnv,
        ...agentEnv,
        ...opts.agentEnv, // what the caller sets explicitly wins over the rehearsal defaults
        CCC_AGENT_TOKEN: secrets.CCC_AGENT_TOKEN,
        CCC_AGENT_ID: agent.name,
        CCC_COORDINATOR_URL: url,
        CCC_DATA_DIR: join(opts.dataDir, `agent-${agent.name}`),
        ...(address !== '127.0.0.1' ? { CCC_AGENT_SOURCE_ADDRESS: address } : {}),
      }, logDir));
      progress(`starting agent ${agent.name} from ${address} [${agent.specialties.join(', ')}]`);
    }
    await waitForAgents(url, secrets.CCC_ADMIN_TOKEN, cluster.agents.map((a) => a.name), timeoutMs, progress);
    const restart = async (name: string) => {
      const i = nodes.findIndex((n) => n.name === name);
      if (i < 0) throw new CccError(`no node named ${name}`, 'usage');
      const old = nodes[i]!;
      if (old.child.exitCode === null && old.child.signalCode === null) throw new CccError(`${name} is still running`, 'usage');
      const env = i === 0 ? { ...old.env, CCC_LISTEN: new URL(url).host } : old.env;
      const node = spawnNode(name, old.address, old.args, env, logDir);
      nodes[i] = node;
      if (i === 0) await waitForLine(node, (l) => (l.msg === 'coordinator listening' ? true : undefined), timeoutMs);
      return node;
    };
    return { url, modelUrl: model?.url, model, forgeRoot, adminToken: secrets.CCC_ADMIN_TOKEN, secretsFile, nodes, restart, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

function spawnNode(name: string, address: string, args: string[], env: Env, logDir: string): Node {
  const logFile = join(logDir, `${name}.log`);
  // detached: a Ctrl-C in the terminal reaches only `ccc up`, which stops the nodes in order.
  // ipc: the node watches this channel and stops when it closes, so no node outlives `ccc up` (even
  // one killed by SIGKILL); see onShutdown in daemons.ts.
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], detached: true });
  const out = createWriteStream(logFile, { flags: 'a' });
  const lines = new EventEmitter();
  // Read every line for as long as the node runs: a pipe nobody drains would stall the node.
  createInterface({ input: child.stdout! }).on('line', (line) => {
    out.write(`${line}\n`);
    lines.emit('line', line);
  });
  child.stderr!.on('data', (d: Buffer) => {
    out.write(d);
    lines.emit('stderr', d.toString());
  });
  child.once('close', () => out.end());
  return { name, address, child, logFile, args, env, lines };
}

/** Resolves with the first log line `pick` accepts; fails if the node exits first. */
function waitForLine<T>(node: Node, pick: (line: Record<string, unknown>) => T | undefined, timeoutMs: number): Promise<T> {
  return new Promise((resolve, reject) => {
    let lastError = '';
    const onStderr = (text: string) => { lastError = text.trim().split('\n').at(-1) ?? lastError; };
    const onLine = (line: string) => {
      let parsed: Record<string, unknown>;
      try { parsed = JSON.parse(line) as Record<string, unknown>; } catch { return; }
      const value = pick(parsed);
      if (value === undefined) return;
      done();
      resolve(value);
    };
    const onExit = (code: number | null) => {
      done();
      reject(new CccError(`${node.name} exited (code ${code}) while starting: ${lastError}; see ${node.logFile}`, 'start'));
    };
    const timer = setTimeout(() => {
      done();
      reject(new CccError(`${node.name} did not start within ${timeoutMs / 1000} s; see ${node.logFile}`, 'start'));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      node.lines.off('line', onLine);
      node.lines.off('stderr', onStderr);
      node.child.off('exit', onExit);
    };
    node.lines.on('line', onLine);
    node.lines.on('stderr', onStderr);
    node.child.once('exit', onExit);
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
