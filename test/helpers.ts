/** Shared test fixtures: temp dirs, a cluster.yml with short timings, an in-process coordinator, a raw protocol client. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { WebSocket } from 'ws';
import { stringify } from 'yaml';
import { afterEach } from 'vitest';
import { loadSettings, type Env } from '../daemons/shared/config.js';
import { createLogger, type Logger } from '../daemons/shared/log.js';
import { AGENT_PATH, PROTOCOL_VERSION, type AgentMessage, type CoordinatorMessage } from '../daemons/shared/protocol.js';
import { startCoordinator, type RunningCoordinator } from '../daemons/coordinator/server.js';

export const ADMIN_TOKEN = 'admin-token-for-tests-0123456789';
export const AGENT_TOKEN = 'agent-token-for-tests-0123456789';

const cleanups: Array<() => Promise<void> | void> = [];
/** Runs after the current test, last registered first. */
export function onCleanup(fn: () => Promise<void> | void): void {
  cleanups.push(fn);
}
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

export function tempDir(prefix = 'ccc-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The five nodes of the shipped cluster.yml, with timings short enough for tests. */
export function clusterConfig(overrides: { tasks?: object; routing?: object; agent?: object; agents?: object[] } = {}): Record<string, unknown> {
  return {
    version: 1,
    coordinator: { name: 'coordinator', ip: '192.168.56.10', port: 8080 },
    agents: overrides.agents ?? [
      { name: 'backend', ip: '192.168.56.11', specialties: ['backend', 'api', 'database', 'python'], capacity: 2 },
      { name: 'frontend', ip: '192.168.56.12', specialties: ['frontend', 'react', 'typescript', 'ui'], capacity: 2 },
      { name: 'testing', ip: '192.168.56.13', specialties: ['testing', 'qa', 'pytest', 'jest', 'e2e'], capacity: 2 },
      { name: 'devops', ip: '192.168.56.14', specialties: ['devops', 'docker', 'kubernetes', 'ci', 'infrastructure'], capacity: 2 },
    ],
    tasks: { maxAttempts: 3, retryBackoffSeconds: 0.1, leaseSeconds: 2, heartbeatSeconds: 0.3, ...overrides.tasks },
    routing: { fallbackAfterSeconds: 0, ...overrides.routing },
    agent: {
      drainTimeoutSeconds: 2,
      executor: { type: 'command', command: ['node', '{packageRoot}/scripts/demo-task.mjs'], timeoutSeconds: 60 },
      ...overrides.agent,
    },
  };
}

export function writeCluster(dir: string, config: Record<string, unknown> = clusterConfig()): string {
  const file = join(dir, 'cluster.yml');
  writeFileSync(file, stringify(config));
  return file;
}

/** A logger that keeps its lines in memory, for asserting on logs (and on the absence of secrets). */
export function memoryLogger(secrets: string[] = [ADMIN_TOKEN, AGENT_TOKEN]): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', name: 'test', secrets, destination }), lines };
}

export function testEnv(dir: string, extra: Env = {}): Env {
  return {
    CCC_CONFIG: writeCluster(dir),
    CCC_DATA_DIR: join(dir, 'coordinator'),
    CCC_LISTEN: '127.0.0.1:0',
    CCC_ADMIN_TOKEN: ADMIN_TOKEN,
    CCC_AGENT_TOKEN: AGENT_TOKEN,
    ...extra,
  };
}

/** A coordinator in this process on 127.0.0.1 with a real SQLite file; closed after the test. */
export async function startTestCoordinator(env: Env): Promise<RunningCoordinator & { lines: string[] }> {
  const { log, lines } = memoryLogger();
  const coordinator = await startCoordinator(loadSettings(env, 'coordinator'), log);
  const closeOnce = coordinator.close.bind(coordinator);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await closeOnce();
  };
  onCleanup(close);
  return Object.assign(coordinator, { close, lines });
}

export async function api<T = any>(url: string, path: string, init: { method?: string; body?: unknown; token?: string | null; rawBody?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = { ...init.headers };
  const token = init.token === undefined ? ADMIN_TOKEN : init.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let body: string | undefined = init.rawBody;
  if (init.body !== undefined) body = JSON.stringify(init.body);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${url}/api/v1${path}`, { method: init.method ?? (body !== undefined ? 'POST' : 'GET'), headers, body });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Each agent's specialties in the default test cluster.yml (the coordinator refuses a hello claiming others). */
export const SPECIALTIES: Record<string, string[]> = Object.fromEntries(
  (clusterConfig().agents as Array<{ name: string; specialties: string[] }>).map((a) => [a.name, a.specialties]),
);

/** The credential last issued to each agent id in this test file, for RawAgent.reconnect. */
const issued = new Map<string, string>();

/** A hand-driven agent connection that speaks the protocol frame by frame. */
export class RawAgent {
  readonly received: CoordinatorMessage[] = [];
  private waiters: Array<() => void> = [];

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      this.received.push(JSON.parse(String(data)) as CoordinatorMessage);
      for (const w of this.waiters.splice(0)) w();
    });
    onCleanup(() => { ws.terminate(); });
  }

  static async connect(url: string, token = AGENT_TOKEN): Promise<RawAgent> {
    const ws = new WebSocket(url.replace(/^http/, 'ws') + AGENT_PATH, { headers: { authorization: `Bearer ${token}` } });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new RawAgent(ws);
  }

  /**
   * Connects to `url` to say hello as `agentId`, as a real agent does: with the credential it was
   * issued last, or (none, or refused) with the join token to enroll.
   */
  static async connectAs(url: string, agentId: string): Promise<RawAgent> {
    const credential = issued.get(agentId);
    if (credential) {
      const agent = await RawAgent.connect(url, credential).catch(() => undefined);
      if (agent) return agent;
    }
    return RawAgent.connect(url);
  }

  send(message: AgentMessage | Record<string, unknown>): void {
    this.ws.send(JSON.stringify(message));
  }

  sendRaw(data: string | Buffer): void {
    this.ws.send(data);
  }

  async hello(agentId: string, specialties: string[], opts: { capacity?: number; tasks?: Array<{ taskId: number; attempt: number }> } = {}): Promise<Extract<CoordinatorMessage, { type: 'welcome' }>> {
    this.send({ type: 'hello', protocol: PROTOCOL_VERSION, agentId, hostname: `${agentId}.test`, version: 'test', specialties, capacity: opts.capacity ?? 2, tasks: opts.tasks ?? [] });
    const welcome = await this.next('welcome');
    if (welcome.credential) issued.set(agentId, welcome.credential);
    return welcome;
  }

  /** The next message of `type` not yet taken (waits for it). */
  async next<K extends CoordinatorMessage['type']>(type: K, timeoutMs = 10_000): Promise<Extract<CoordinatorMessage, { type: K }>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.received.findIndex((m) => m.type === type);
      if (i >= 0) return this.received.splice(i, 1)[0] as Extract<CoordinatorMessage, { type: K }>;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${type} message within ${timeoutMs} ms; got ${JSON.stringify(this.received)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }
}

/** Polls `check` until it returns a value other than undefined/false. */
export async function eventually<T>(check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
