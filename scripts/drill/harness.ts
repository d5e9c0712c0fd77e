/**
 * What every drill shares: a local cluster of its own (real processes on
 * 127.0.0.10–14), an API client with bounded requests, the closing audit
 * (every task in exactly one final state, none lost) and the secret scan.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startLocalCluster, type LocalCluster, type LocalClusterOptions, type Node } from '../../daemons/cli/local-cluster.js';
import type { Task, TaskEvent, TaskState } from '../../daemons/coordinator/task-model.js';
import { findSecrets } from './secret-scan.js';

export const FINAL_STATES: readonly TaskState[] = ['succeeded', 'failed', 'cancelled'];
export type TaskWithEvents = Task & { events: TaskEvent[] };

export interface DrillOptions {
  /** Tasks for the drills that take a count (the coordinator-kill run). */
  tasks: number;
  quick: boolean;
  /** Where this drill keeps its cluster's state. */
  dir: string;
  say(line: string): void;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DrillReport {
  drill: string;
  tasks: number;
  states: Partial<Record<TaskState, number>>;
  checks: Check[];
  /** Numbers worth printing (downtime, retries, requests …). */
  facts: string[];
  seconds: number;
}

/** One running drill: its cluster, its checks and its facts. */
export class Drill {
  readonly checks: Check[] = [];
  readonly facts: string[] = [];
  /** Values that must appear in no log, file or task output. */
  readonly secrets: string[] = [];
  cluster!: LocalCluster;
  private readonly cleanups: Array<{ fn: () => Promise<void> | void; afterStop: boolean }> = [];

  constructor(readonly name: string, readonly opts: DrillOptions) {}

  async start(config: Record<string, unknown>, extra: Partial<LocalClusterOptions> = {}): Promise<LocalCluster> {
    mkdirSync(this.opts.dir, { recursive: true });
    const configFile = join(this.opts.dir, 'cluster.yml');
    writeFileSync(configFile, stringify(config));
    this.cluster = await startLocalCluster({
      configFile, dataDir: join(this.opts.dir, 'state'), port: 0, env: { CCC_LOG_LEVEL: 'info' }, ...extra,
    });
    this.secrets.push(this.cluster.adminToken, ...agentTokenOf(this.cluster));
    return this.cluster;
  }

  /** Runs when the drill ends, however it ends (last registered first): before the cluster stops, or after. */
  onCleanup(fn: () => Promise<void> | void, when: { afterStop?: boolean } = {}): void {
    this.cleanups.push({ fn, afterStop: when.afterStop === true });
  }

  async cleanup(): Promise<void> {
    const run = async (afterStop: boolean) => {
      for (const c of this.cleanups.filter((x) => x.afterStop === afterStop).reverse()) {
        try {
          await c.fn();
        } catch (err) {
          this.check('cleanup', false, (err as Error).message);
        }
      }
    };
    await run(false);
    await this.cluster?.stop();
    await run(true);
  }

  node(name: string): Node {
    const node = this.cluster.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name}`);
    return node;
  }

  check(name: string, ok: boolean, detail = ''): boolean {
    detail = detail.replace(/\s+/g, ' ').trim();
    this.checks.push({ name, ok, detail });
    this.opts.say(`  ${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? `: ${detail}` : ''}`);
    return ok;
  }

  fact(line: string): void {
    this.facts.push(line);
    this.opts.say(`  · ${line}`);
  }

  /** One API call with the admin token; a dead coordinator is a rejected promise, never a hang. */
  async api<T = any>(path: string, init: { method?: string; body?: unknown; timeoutMs?: number } = {}): Promise<{ status: number; body: T }> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.cluster.adminToken}` };
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${this.cluster.url}/api/v1${path}`, {
      method: init.method ?? (init.body !== undefined ? 'POST' : 'GET'),
      headers,
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: AbortSignal.timeout(init.timeoutMs ?? 10_000),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  async submit(spec: { title: string; body?: string; labels?: string[]; repo?: string | null }): Promise<number> {
    const r = await this.api<{ task: Task }>('/tasks', { body: spec });
    if (r.status !== 201) throw new Error(`POST /tasks answered ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body.task.id;
  }

  async tasks(): Promise<Task[]> {
    return (await this.api<{ tasks: Task[] }>('/tasks?limit=5000')).body.tasks;
  }

  async task(id: number): Promise<TaskWithEvents> {
    return (await this.api<{ task: TaskWithEvents }>(`/tasks/${id}`)).body.task;
  }

  /** Polls until every task (or those of `ids`) is final; false when `timeoutMs` ran out first. */
  async waitFinal(timeoutMs: number, ids?: number[]): Promise<boolean> {
    return poll(async () => {
      const tasks = await this.tasks().catch(() => undefined);
      if (!tasks) return false;
      const watched = ids ? tasks.filter((t) => ids.includes(t.id)) : tasks;
      return (!ids || watched.length === ids.length) && watched.every((t) => FINAL_STATES.includes(t.state));
    }, timeoutMs, 200);
  }

  /**
   * The drill's closing check: every task ever stored is final, its history
   * holds exactly one final event (since its last operator retry) and that
   * event is its state; every task acknowledged with a 201 is there.
   */
  async audit(acknowledged: number[] = []): Promise<TaskWithEvents[]> {
    const list = await this.tasks();
    const all: TaskWithEvents[] = [];
    for (const t of list) all.push(await this.task(t.id));
    const ids = new Set(all.map((t) => t.id));
    const lost = acknowledged.filter((id) => !ids.has(id));
    this.check('no acknowledged task lost', lost.length === 0, lost.length ? `missing ${lost.join(', ')}` : `${acknowledged.length} acknowledged, all stored`);
    const notFinal = all.filter((t) => !FINAL_STATES.includes(t.state));
    const wrong = all.filter((t) => {
      const since = t.events.slice(t.events.map((e) => e.kind).lastIndexOf('retried') + 1);
      const final = since.filter((e) => (FINAL_STATES as readonly string[]).includes(e.kind));
      return final.length !== 1 || final[0]!.kind !== t.state;
    });
    this.check('every task final, with exactly one final event', notFinal.length === 0 && wrong.length === 0,
      notFinal.length || wrong.length
        ? `not final: ${notFinal.map((t) => `${t.id}:${t.state}`).join(' ') || '-'}; final events ≠ 1: ${wrong.map((t) => t.id).join(' ') || '-'}`
        : `${all.length} tasks`);
    return all;
  }

  /** Scans every file of the drill's state (except the secrets file and the agents' credential files) and every task's output. */
  async scanSecrets(tasks: TaskWithEvents[]): Promise<void> {
    const outputs = JSON.stringify(tasks);
    const credentialFiles = this.cluster.nodes.map((n) => join(n.env.CCC_DATA_DIR ?? '', 'agent-credential'));
    const found = findSecrets(join(this.opts.dir, 'state'), this.secrets, [this.cluster.secretsFile, ...credentialFiles], outputs);
    this.check('no secret in any log, file or task output', found.hits.length === 0,
      found.hits.length ? found.hits.join('; ') : `${this.secrets.length} secrets, ${found.files} files (${(found.bytes / 1e6).toFixed(1)} MB) and ${tasks.length} task histories scanned`);
  }

  report(tasks: TaskWithEvents[], started: number): DrillReport {
    const states: Partial<Record<TaskState, number>> = {};
    for (const t of tasks) states[t.state] = (states[t.state] ?? 0) + 1;
    return { drill: this.name, tasks: tasks.length, states, checks: this.checks, facts: this.facts, seconds: (Date.now() - started) / 1000 };
  }
}

/**
 * Runs one drill: `body` drives the cluster and returns the audited tasks.
 * An exception is a failed check; the cluster and whatever the drill
 * registered with onCleanup are stopped in every case.
 */
export async function runDrill(name: string, opts: DrillOptions, body: (drill: Drill) => Promise<TaskWithEvents[]>): Promise<DrillReport> {
  const started = Date.now();
  const drill = new Drill(name, opts);
  let tasks: TaskWithEvents[] = [];
  try {
    tasks = await body(drill);
  } catch (err) {
    drill.check('ran to the end', false, (err as Error).stack ?? String(err));
  } finally {
    await drill.cleanup();
  }
  return drill.report(tasks, started);
}

function agentTokenOf(cluster: LocalCluster): string[] {
  const env = cluster.nodes[0]?.env ?? {};
  return [env.CCC_AGENT_TOKEN].filter((v): v is string => typeof v === 'string');
}

/** Calls `check` every `everyMs` until it says true; false once `timeoutMs` has passed. */
export async function poll(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Kills a node with SIGKILL and waits until it is gone. */
export async function killNode(node: Node, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  const gone = new Promise<void>((resolve) => {
    if (node.child.exitCode !== null || node.child.signalCode !== null) resolve();
    else node.child.once('exit', () => resolve());
  });
  node.child.kill(signal);
  await gone;
}
