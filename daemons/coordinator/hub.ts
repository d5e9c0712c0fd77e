/**
 * The WebSocket hub agents connect to: refuses a bad token at the HTTP
 * upgrade (401, before any WebSocket exists), validates every frame against
 * the protocol schema, and turns agent messages into task-store changes.
 * Messages arriving together are handled in one transaction (group commit,
 * a savepoint each); what the hub says back waits for that commit.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, WebSocket } from 'ws';
import { bearerToken } from '../shared/auth.js';
import type { Logger } from '../shared/log.js';
import {
  AGENT_PATH, MAX_FRAME_BYTES, PROTOCOL_VERSION, agentMessageSchema, decode, helloProtocol,
  type AgentMessage, type CoordinatorMessage, type Hello,
} from '../shared/protocol.js';
import type { AgentRegistry } from './agent-registry.js';
import type { Gatekeeper, Presented } from './identity/admission.js';
import type { Scheduler } from './scheduler.js';
import type { TaskStore } from './task-store.js';
import { GroupCommit } from './group-commit.js';

const HELLO_TIMEOUT_MS = 10_000;

export interface HubOptions {
  gatekeeper: Gatekeeper;
  heartbeatMs: number;
  leaseMs: number;
  log: Logger;
  /** Batches the messages' transactions (default: its own, over the store). */
  commits?: GroupCommit;
}

export interface HubCounters {
  connections: number;
  badFrames: number;
  staleMessages: number;
  /** Progress lines `egress denied: host:port` from agents' egress proxies. */
  egressDenied: number;
}

export class AgentHub {
  readonly counters: HubCounters = { connections: 0, badFrames: 0, staleMessages: 0, egressDenied: 0 };
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  /** What each upgrade's token proved, for its connection's hello. */
  private readonly presented = new WeakMap<IncomingMessage, Presented>();
  scheduler!: Scheduler;
  private readonly commits: GroupCommit;
  /** While a message is handled inside a batch: what to do (send, close) once the batch has committed. */
  private deferred: Array<() => void> | undefined;

  constructor(
    private readonly store: TaskStore,
    private readonly registry: AgentRegistry,
    private readonly opts: HubOptions,
  ) {
    this.commits = opts.commits ?? new GroupCommit((fn) => store.inTransaction(fn));
    this.wss.on('connection', (ws, req: IncomingMessage) => this.onConnection(ws, req, this.presented.get(req)!));
  }

  /** For the HTTP server's 'upgrade' event. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    if (path !== AGENT_PATH) return refuse(socket, 404, 'not_found', `no WebSocket endpoint at ${path}; agents connect to ${AGENT_PATH}`);
    const presented = this.opts.gatekeeper.authenticate(bearerToken(req.headers.authorization));
    if (!presented) {
      this.opts.log.warn({ remote: req.socket.remoteAddress }, 'agent connection refused: missing or unknown credential');
      return refuse(socket, 401, 'unauthorized', 'missing or unknown agent credential: an agent connects with its own credential, or with the join token (CCC_AGENT_TOKEN) to enroll');
    }
    this.presented.set(req, presented);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.wss.emit('connection', ws, req));
  }

  send(agentId: string, message: CoordinatorMessage): boolean {
    const conn = this.registry.connected.get(agentId);
    if (!conn) return false;
    if (!this.deferred) return sendTo(conn.socket, message);
    this.deferred.push(() => sendTo(conn.socket, message));
    return true;
  }

  /** Runs `fn` now, or once the batch being handled has committed. */
  private later(fn: () => void): void {
    if (this.deferred) this.deferred.push(fn);
    else fn();
  }

  /**
   * A reply that needs no database work, sent in its frame's place: after the replies of the frames
   * before it, which wait for their commit (a welcome never overtakes the error for a later frame).
   */
  private inOrder(reply: () => void): void {
    this.batched(() => this.later(reply), () => reply());
  }

  /** Handles one message in the next group commit; its replies go out after the commit. */
  private batched(work: () => void, onError: (err: unknown) => void): void {
    const replies: Array<() => void> = [];
    this.commits.run(() => {
      this.deferred = replies;
      try {
        work();
      } finally {
        this.deferred = undefined;
      }
    }).then(() => { for (const reply of replies) reply(); }, onError);
  }

  /** Says goodbye (1001) to every agent, waits up to `graceMs` for them to go, then cuts the rest. */
  async close(graceMs = 1000): Promise<void> {
    const clients = [...this.wss.clients];
    const gone = clients.map((ws) => new Promise<void>((resolve) => ws.once('close', () => resolve())));
    for (const ws of clients) ws.close(1001, 'coordinator shutting down');
    const timer = setTimeout(() => clients.forEach((ws) => ws.terminate()), graceMs);
    await Promise.all(gone);
    clearTimeout(timer);
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }

  private onConnection(ws: WebSocket, req: IncomingMessage, presented: Presented): void {
    this.counters.connections++;
    const address = req.socket.remoteAddress ?? null;
    let agentId: string | undefined;
    const helloTimer = setTimeout(() => ws.close(4001, 'no hello received in time'), HELLO_TIMEOUT_MS);
    ws.on('message', (data, isBinary) => {
      const claimed = agentId || isBinary ? undefined : helloProtocol(data);
      if (claimed !== undefined && claimed !== PROTOCOL_VERSION) {
        this.inOrder(() => {
          sendTo(ws, { type: 'error', code: 'protocol_version', message: `coordinator speaks protocol ${PROTOCOL_VERSION}, agent ${claimed}: run the same ccc version on both` });
          ws.close(4002, 'protocol version mismatch');
        });
        return;
      }
      const decoded = isBinary ? { ok: false as const, error: 'binary frames are not part of the protocol' } : decode(agentMessageSchema, data);
      if (!decoded.ok) {
        this.counters.badFrames++;
        this.opts.log.warn({ agentId, remote: address, error: decoded.error }, 'bad frame from agent');
        this.inOrder(() => sendTo(ws, { type: 'error', code: 'bad_message', message: decoded.error }));
        return;
      }
      this.batched(() => {
        if (agentId) {
          // A connection revoked or replaced may still deliver a frame or two before it closes.
          if (this.registry.connected.get(agentId)?.socket === ws) this.onMessage(agentId, decoded.message);
        } else if (decoded.message.type === 'hello') {
          clearTimeout(helloTimer);
          agentId = this.onHello(ws, decoded.message, address, presented);
        } else {
          this.counters.badFrames++;
          this.later(() => sendTo(ws, { type: 'error', code: 'hello_required', message: 'send hello first' }));
        }
      }, (err) => {
        this.opts.log.error({ err, agentId, type: decoded.message.type }, 'failed to handle agent message');
        sendTo(ws, { type: 'error', code: 'internal', message: 'the coordinator could not handle that message; it is logged' });
      });
    });
    ws.on('error', (err) => this.opts.log.warn({ err: err.message, agentId }, 'agent connection error'));
    ws.on('close', (code) => {
      clearTimeout(helloTimer);
      // In the batch too: after a hello still queued, and sharing its commit with the others of a storm.
      this.batched(() => {
        if (agentId && this.registry.disconnect(agentId, ws)) {
          this.opts.log.info({ agentId, code }, 'agent disconnected');
          this.scheduler.schedule();
        }
      }, (err) => this.opts.log.error({ err, agentId }, 'failed to record a disconnect'));
    });
  }

  /** Admits the agent (or refuses it, touching nothing), registers it and reconciles what it runs with what the store says it holds. */
  private onHello(ws: WebSocket, hello: Hello, address: string | null, presented: Presented): string | undefined {
    const admission = this.opts.gatekeeper.admit(presented, hello, address);
    if (!admission.ok) {
      this.later(() => {
        sendTo(ws, { type: 'error', code: admission.code, message: admission.message });
        ws.close(4003, admission.code);
      });
      return undefined;
    }
    const previous = this.registry.register({ ...hello, specialties: admission.specialties, capacity: admission.capacity }, address, ws);
    if (previous) previous.socket.terminate();
    const reported = new Map(hello.tasks.map((t) => [t.taskId, t.attempt]));
    const held = this.store.activeOf(hello.agentId);
    const cancel = hello.tasks.filter((t) => !held.some((row) => row.id === t.taskId && row.attempt === t.attempt));
    for (const row of held) {
      if (reported.get(row.id) !== row.attempt) this.store.lost(row, `${hello.agentId} reconnected without it`);
    }
    this.store.renewLeases(hello.agentId, this.opts.leaseMs);
    const credential = admission.credential ? { credential: admission.credential } : {};
    this.later(() => sendTo(ws, { type: 'welcome', protocol: PROTOCOL_VERSION, heartbeatMs: this.opts.heartbeatMs, leaseMs: this.opts.leaseMs, cancel, ...credential }));
    this.opts.log.info({ agentId: hello.agentId, address, hostname: hello.hostname, kept: hello.tasks.length - cancel.length, cancelled: cancel.length }, 'agent registered');
    this.scheduler.schedule();
    return hello.agentId;
  }

  private onMessage(agentId: string, msg: AgentMessage): void {
    this.registry.seen(agentId);
    switch (msg.type) {
      case 'heartbeat':
        this.store.renewLeases(agentId, this.opts.leaseMs);
        return;
      case 'draining':
        this.registry.markSelfDraining(agentId, msg.reason);
        this.opts.log.info({ agentId, reason: msg.reason }, 'agent is draining');
        return;
      case 'resumed':
        this.registry.markSelfDraining(agentId, false);
        this.opts.log.info({ agentId }, 'agent takes tasks again');
        this.scheduler.schedule();
        return;
      case 'task.started':
        if (!this.store.started(msg, agentId) && !this.store.fenced(msg, agentId)) {
          this.stale(agentId, msg);
          this.send(agentId, { type: 'task.cancel', taskId: msg.taskId, attempt: msg.attempt, reason: 'this attempt is no longer yours' });
        }
        return;
      case 'task.progress':
        if (!this.store.progress(msg, agentId, msg.text)) this.stale(agentId, msg);
        else if (msg.text.startsWith('egress denied: ')) this.counters.egressDenied++;
        return;
      case 'task.result': {
        const { type: _type, taskId: _id, attempt: _attempt, ...result } = msg;
        const task = this.store.finish(msg, agentId, result);
        if (task) this.opts.log.info({ taskId: task.id, agentId, attempt: msg.attempt, state: task.state }, 'task result');
        else this.stale(agentId, msg);
        this.afterRelease(agentId, msg.taskId, msg.attempt);
        return;
      }
      case 'task.released':
        if (!this.store.released(msg, agentId, msg.reason)) this.stale(agentId, msg);
        this.afterRelease(agentId, msg.taskId, msg.attempt);
        return;
      case 'error':
        this.opts.log.warn({ agentId, code: msg.code, message: msg.message }, 'agent reported an error');
        return;
      case 'hello':
        this.counters.badFrames++;
        this.send(agentId, { type: 'error', code: 'already_registered', message: 'hello was already received on this connection' });
        return;
    }
  }

  /** Acknowledges a result or hand-back, and lets the freed capacity take new work. */
  private afterRelease(agentId: string, taskId: number, attempt: number): void {
    this.send(agentId, { type: 'task.ack', taskId, attempt });
    const conn = this.registry.connected.get(agentId);
    if (conn && this.store.activeOf(agentId).length === 0) conn.idleSince = Date.now();
    this.scheduler.schedule();
  }

  private stale(agentId: string, msg: { type: string; taskId: number; attempt: number }): void {
    this.counters.staleMessages++;
    this.opts.log.info({ agentId, taskId: msg.taskId, attempt: msg.attempt, type: msg.type }, 'ignored a message about a stale attempt');
  }
}

function sendTo(ws: WebSocket, message: CoordinatorMessage): boolean {
  if (ws.readyState !== WebSocket.OPEN) return false;
  ws.send(JSON.stringify(message));
  return true;
}

function refuse(socket: Duplex, status: 401 | 404, code: string, message: string): void {
  const body = JSON.stringify({ error: { code, message } });
  const reason = status === 401 ? 'Unauthorized' : 'Not Found';
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}
