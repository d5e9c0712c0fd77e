/**
 * The agent daemon's core: keeps one WebSocket to the coordinator (reconnecting
 * with capped, jittered backoff), runs assigned tasks through an executor,
 * streams progress, and holds each result until the coordinator acknowledges it.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { Logger } from '../shared/log.js';
import { tlsProblem, type TlsTrust } from '../shared/tls.js';
import type { AgentCredential } from './credential.js';
import {
  AGENT_PATH, MAX_FRAME_BYTES, MAX_PROGRESS_CHARS, PROTOCOL_VERSION, coordinatorMessageSchema, decode,
  type AgentMessage, type CoordinatorMessage, type TaskRef, type TaskSpec,
} from '../shared/protocol.js';
import { backoffDelay, type BackoffOptions } from './backoff.js';
import { DiskProbe } from './disk-probe.js';
import { SilenceClock } from './silence-clock.js';
import { makeDir } from './make-dir.js';
import { PendingReports, type Report } from './pending-reports.js';
import type { Executor } from './executor.js';

export interface AgentOptions {
  coordinatorUrl: string;
  /** Its own credential, or the join token to enroll with. */
  credential: AgentCredential;
  /** The CA the coordinator's certificate must chain to (CCC_TLS_CA), for https:// URLs. */
  trust?: TlsTrust | undefined;
  id: string;
  hostname: string;
  version: string;
  specialties: string[];
  capacity: number;
  executor: Executor;
  dataDir: string;
  drainTimeoutMs: number;
  sourceAddress?: string | undefined;
  backoff?: BackoffOptions;
  log: Logger;
  /** Why this agent takes no task (no model credential, no sandbox for a profile with Bash): it says so and reports itself draining. */
  refusal?: string | undefined;
  /** How runs are confined, for the status line (`sandbox: bubblewrap`). */
  sandboxNote?: string | undefined;
  /** How often the state directory is probed for writes (default 5 s); see disk-probe.ts. */
  diskProbeMs?: number;
  /** Called whenever the status line changes (systemd STATUS=). */
  onStatus?: (status: string) => void;
}

interface RunningTask {
  attempt: number;
  abort: AbortController;
  /** Set when the run is stopped because the agent drains: hand it back instead of reporting a result. */
  handBack?: string;
  done: Promise<void>;
}

export class Agent {
  private socket: WebSocket | undefined;
  private welcomed = false;
  private reconnects = 0;
  private readonly silence = new SilenceClock();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private draining = false;
  private readonly running = new Map<number, RunningTask>();
  /** Results and hand-backs not yet acknowledged, re-sent after every reconnect and kept across a restart. */
  private readonly unacked: PendingReports;
  private readonly backoff: BackoffOptions;
  private readonly disk: DiskProbe;
  badFrames = 0;

  constructor(private readonly opts: AgentOptions) {
    this.backoff = opts.backoff ?? { baseMs: 500, capMs: 30_000 };
    this.unacked = new PendingReports(opts.dataDir, opts.log);
    this.disk = new DiskProbe(opts.dataDir, opts.diskProbeMs ?? 5000, () => this.diskChanged(), opts.log);
  }

  start(): void {
    this.disk.start();
    this.connect();
  }

  /** Why this agent takes no task now: unfit from the start, or its disk cannot be written. */
  private get refusal(): string | undefined {
    return this.opts.refusal ?? this.disk.problem;
  }

  /** A disk problem drains the agent with its reason; the disk fixed, it takes work again (unless it drains anyway). */
  private diskChanged(): void {
    if (!this.draining && !this.opts.refusal) this.send(this.refusal ? { type: 'draining', reason: this.refusal } : { type: 'resumed' });
    this.updateStatus();
  }

  /** The one-line state systemd shows as STATUS=. */
  status(): string {
    const where = new URL(this.opts.coordinatorUrl).host;
    const link = this.welcomed ? `connected to ${where}` : `connecting to ${where}`;
    const fitness = this.refusal ? ` · takes no task: ${this.refusal}` : this.opts.sandboxNote ? ` · ${this.opts.sandboxNote}` : '';
    return `${link} · ${this.running.size}/${this.opts.capacity} running${this.draining ? ' · draining' : ''}${fitness}`;
  }

  get connected(): boolean {
    return this.welcomed;
  }

  /**
   * Takes no new work, lets running tasks finish within the drain timeout,
   * then stops the rest and hands them back; resolves when all is reported.
   */
  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    this.send({ type: 'draining' });
    this.updateStatus();
    this.opts.log.info({ running: this.running.size, timeoutMs: this.opts.drainTimeoutMs }, 'draining');
    const all = () => Promise.all([...this.running.values()].map((r) => r.done));
    const timedOut = await Promise.race([all().then(() => false), sleep(this.opts.drainTimeoutMs).then(() => true)]);
    if (timedOut) {
      for (const [taskId, run] of this.running) {
        run.handBack = `agent ${this.opts.id} is shutting down (drain timeout ${this.opts.drainTimeoutMs / 1000} s)`;
        this.opts.log.warn({ taskId, attempt: run.attempt }, 'drain timeout: stopping the task and handing it back');
        run.abort.abort();
      }
      await all();
    }
    // Give the coordinator a moment to acknowledge what was reported.
    for (let waited = 0; this.unacked.size > 0 && this.welcomed && waited < 5000; waited += 50) await sleep(50);
  }

  /** Closes the connection; running tasks are aborted (use drain() first for a clean stop). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.disk.stop();
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeatTimer);
    for (const run of this.running.values()) run.abort.abort();
    await Promise.all([...this.running.values()].map((r) => r.done));
    this.socket?.close(1000, 'agent stopping');
  }

  private connect(): void {
    const url = this.opts.coordinatorUrl.replace(/^http/, 'ws') + AGENT_PATH;
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${this.opts.credential.bearer()}` },
      maxPayload: MAX_FRAME_BYTES,
      ...(this.opts.trust ? { ca: this.opts.trust.ca } : {}),
      handshakeTimeout: 10_000,
      ...(this.opts.sourceAddress ? { localAddress: this.opts.sourceAddress } : {}),
    });
    this.socket = ws;
    ws.on('open', () => {
      this.send({
        type: 'hello', protocol: PROTOCOL_VERSION, agentId: this.opts.id, hostname: this.opts.hostname,
        version: this.opts.version, specialties: this.opts.specialties, capacity: this.opts.capacity,
        tasks: this.unacked.heldWith(this.running),
      });
    });
    ws.on('message', (data, isBinary) => {
      this.silence.heard();
      this.onFrame(data, isBinary);
    });
    ws.on('pong', () => this.silence.heard());
    ws.on('unexpected-response', (_req, res) => {
      const hint = res.statusCode === 401 ? this.opts.credential.refused() : `the coordinator answered HTTP ${res.statusCode}`;
      this.opts.log.error({ status: res.statusCode, url }, hint);
      ws.terminate();
    });
    ws.on('error', (err) => {
      const tls = tlsProblem(err, url, this.opts.trust);
      if (tls) this.opts.log.error({ err: err.message, url }, `refusing to connect: ${tls}`);
      else this.opts.log.warn({ err: err.message, url }, 'connection to the coordinator failed');
    });
    ws.on('close', () => this.onClose(ws));
  }

  private onClose(ws: WebSocket): void {
    if (this.socket !== ws) return;
    const wasWelcomed = this.welcomed;
    this.welcomed = false;
    clearInterval(this.heartbeatTimer);
    this.updateStatus();
    if (this.stopping) return;
    const delay = backoffDelay(this.reconnects++, this.backoff);
    this.opts.log[wasWelcomed ? 'warn' : 'info']({ delayMs: delay }, 'disconnected from the coordinator; reconnecting');
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private onFrame(data: WebSocket.RawData, isBinary: boolean): void {
    const decoded = isBinary ? { ok: false as const, error: 'binary frames are not part of the protocol' } : decode(coordinatorMessageSchema, data);
    if (!decoded.ok) {
      this.badFrames++;
      this.opts.log.warn({ error: decoded.error }, 'bad frame from the coordinator');
      this.send({ type: 'error', code: 'bad_message', message: decoded.error });
      return;
    }
    this.onMessage(decoded.message);
  }

  private onMessage(msg: CoordinatorMessage): void {
    switch (msg.type) {
      case 'welcome':
        this.opts.credential.received(msg.credential);
        this.welcomed = true;
        this.reconnects = 0;
        for (const ref of msg.cancel) this.forget(ref, 'the coordinator reassigned it while this agent was away');
        clearInterval(this.heartbeatTimer);
        this.silence.restart();
        this.heartbeatTimer = setInterval(() => this.beat(msg.leaseMs, msg.heartbeatMs), msg.heartbeatMs);
        if (this.draining || this.refusal) this.send({ type: 'draining', ...(this.refusal ? { reason: this.refusal } : {}) });
        for (const report of this.unacked.values()) this.send(report);
        this.opts.log.info({ url: this.socket?.url, heartbeatMs: msg.heartbeatMs, resent: this.unacked.size }, 'registered with the coordinator');
        this.updateStatus();
        return;
      case 'task.assign':
        this.accept(msg.taskId, msg.attempt, msg.task, msg.pushToken);
        return;
      case 'task.cancel':
        this.forget(msg, msg.reason);
        return;
      case 'task.ack': {
        const report = this.unacked.get(msg.taskId);
        if (report && report.attempt === msg.attempt) this.unacked.delete(msg.taskId);
        return;
      }
      case 'error':
        this.opts.log.warn({ code: msg.code, message: msg.message }, 'the coordinator reported an error');
        return;
    }
  }

  /** Sends a heartbeat and a ping; a coordinator silent for a whole lease (silence-clock.ts) is taken for gone. */
  private beat(leaseMs: number, heartbeatMs: number): void {
    const ws = this.socket;
    if (!ws) return;
    const silentMs = this.silence.tick(heartbeatMs);
    if (silentMs > leaseMs) {
      this.opts.log.warn({ silentMs }, 'the coordinator has been silent for a whole lease; reconnecting');
      ws.terminate();
      return;
    }
    this.send({ type: 'heartbeat' });
    if (ws.readyState === WebSocket.OPEN) ws.ping();
  }

  private accept(taskId: number, attempt: number, task: TaskSpec, pushToken?: string): void {
    const current = this.running.get(taskId);
    if (current?.attempt === attempt) return;
    if (this.draining || this.refusal || this.running.size >= this.opts.capacity) {
      const reason = this.refusal ? `agent ${this.opts.id} takes no task: ${this.refusal}` : this.draining ? 'agent is draining' : `agent is at capacity (${this.opts.capacity})`;
      this.report({ type: 'task.released', taskId, attempt, reason });
      return;
    }
    if (current) current.abort.abort();
    const abort = new AbortController();
    const run: RunningTask = { attempt, abort, done: Promise.resolve() };
    this.running.set(taskId, run);
    run.done = this.execute(taskId, attempt, task, run, pushToken);
    this.updateStatus();
  }

  private async execute(taskId: number, attempt: number, task: TaskSpec, run: RunningTask, pushToken?: string): Promise<void> {
    const workDir = join(this.opts.dataDir, 'work', `${taskId}-${attempt}`);
    const started = Date.now();
    this.opts.log.info({ taskId, attempt, specialty: task.specialty }, 'task started');
    this.send({ type: 'task.started', taskId, attempt });
    let result: Awaited<ReturnType<Executor['run']>>;
    try {
      makeDir(workDir);
      result = await this.opts.executor.run({ taskId, attempt, task, workDir, ...(pushToken ? { pushToken } : {}) }, {
        signal: run.abort.signal,
        progress: (text) => this.send({ type: 'task.progress', taskId, attempt, text }),
      });
    } catch (err) {
      result = { outcome: 'failed', retryable: true, exitCode: null, summary: `executor error: ${(err as Error).message}` };
    }
    if (this.running.get(taskId) === run) this.running.delete(taskId);
    if (result.outcome !== 'failed') rmSync(workDir, { recursive: true, force: true });
    const durationMs = Date.now() - started;
    this.opts.log.info({ taskId, attempt, outcome: run.handBack ? 'handed back' : result.outcome, durationMs }, 'task ended');
    if (run.handBack) this.report({ type: 'task.released', taskId, attempt, reason: run.handBack });
    else this.report({ type: 'task.result', taskId, attempt, ...result, summary: result.summary.slice(0, MAX_PROGRESS_CHARS), durationMs });
    this.updateStatus();
  }

  /** Stops a task this agent no longer holds and drops anything it still had to report about it. */
  private forget(ref: TaskRef, reason: string): void {
    const run = this.running.get(ref.taskId);
    if (run?.attempt === ref.attempt) {
      this.opts.log.info({ taskId: ref.taskId, attempt: ref.attempt, reason }, 'cancelling task');
      run.abort.abort();
    }
    if (this.unacked.get(ref.taskId)?.attempt === ref.attempt) this.unacked.delete(ref.taskId);
  }

  private report(message: Report): void {
    this.unacked.set(message.taskId, message);
    this.send(message);
  }

  private send(message: AgentMessage): void {
    const ws = this.socket;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (message.type !== 'hello' && !this.welcomed) return;
    ws.send(JSON.stringify(message));
  }

  private updateStatus(): void {
    this.opts.onStatus?.(this.status());
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
