/**
 * Which agents exist (SQLite: identity, admin drain flag) and which are
 * connected right now (memory: socket, self-drain, last heartbeat).
 */
import type { WebSocket } from 'ws';
import type { Db } from './db.js';
import type { Hello } from '../shared/protocol.js';
import type { Candidate } from './router.js';
import { CccError } from '../shared/errors.js';
import type { Enrollment } from './identity/credential-store.js';

/** An agent id not in cluster.yml is forgotten (GET /agents) after this long offline. */
export const FORGET_UNLISTED_AFTER_MS = 7 * 24 * 60 * 60 * 1000;
/** A hello prunes at most this often: the scan reads every agent row, and a reconnect storm brings hundreds of hellos. */
export const PRUNE_EVERY_MS = 60 * 60 * 1000;

export type AgentState = 'online' | 'draining' | 'offline';

export interface AgentView {
  id: string;
  hostname: string;
  address: string | null;
  specialties: string[];
  capacity: number;
  running: number;
  state: AgentState;
  lastSeenAt: string;
  version: string;
  /** Why the agent drains itself (e.g. `disk: cannot write …`), when it said; absent otherwise. */
  drainReason?: string;
  /** GET /agents only: when it enrolled and last used its credential (null: never enrolled). */
  enrollment?: Enrollment | null;
}

export interface Connection {
  id: string;
  socket: WebSocket;
  capacity: number;
  specialties: string[];
  selfDraining: boolean;
  /** Why it drains itself, when it said (e.g. its disk is full). */
  drainReason?: string | undefined;
  lastSeenAt: number;
  idleSince: number;
}

interface AgentRow {
  id: string; hostname: string; address: string | null; version: string; specialties: string;
  capacity: number; admin_draining: number; last_seen_at: number;
}

export class AgentRegistry {
  readonly connected = new Map<string, Connection>();
  private readonly adminDraining = new Set<string>();
  private readonly listeners: Array<() => void> = [];
  private prunedAt = -Infinity;

  /** Calls `listener` whenever an agent connects, disconnects or starts or stops draining. */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  /** The agent said it is draining (SIGTERM, or a `reason` such as a full disk), or (false) that it takes work again. */
  markSelfDraining(id: string, reason?: string | false): void {
    const conn = this.connected.get(id);
    if (!conn) return;
    conn.selfDraining = reason !== false;
    conn.drainReason = reason || undefined;
    this.changed();
  }

  constructor(
    private readonly db: Db,
    private readonly now: () => number = Date.now,
    /** The agent ids of cluster.yml: rows of other ids are pruned once offline for FORGET_UNLISTED_AFTER_MS. */
    private readonly listed?: ReadonlySet<string>,
  ) {
    for (const r of db.prepare<[], { id: string }>('SELECT id FROM agents WHERE admin_draining = 1').all()) this.adminDraining.add(r.id);
    this.pruneUnlisted();
  }

  /**
   * Deletes the rows of agents not in cluster.yml that are offline and were last seen more than
   * FORGET_UNLISTED_AFTER_MS ago (drained ones stay: the operator's flag is kept). Runs at start and on
   * a hello at most every PRUNE_EVERY_MS.
   */
  pruneUnlisted(): number {
    if (!this.listed) return 0;
    this.prunedAt = this.now();
    const cutoff = this.now() - FORGET_UNLISTED_AFTER_MS;
    const old = this.db.prepare<[number], { id: string }>('SELECT id FROM agents WHERE last_seen_at < ? AND admin_draining = 0').all(cutoff);
    const gone = old.map((r) => r.id).filter((id) => !this.listed!.has(id) && !this.connected.has(id));
    const del = this.db.prepare('DELETE FROM agents WHERE id = ?');
    this.db.transaction(() => { for (const id of gone) del.run(id); })();
    return gone.length;
  }

  /** Records a hello and makes `socket` the agent's connection. Returns the connection it replaced, if any. */
  register(hello: Hello, address: string | null, socket: WebSocket): Connection | undefined {
    const now = this.now();
    if (now - this.prunedAt >= PRUNE_EVERY_MS) this.pruneUnlisted();
    this.db.prepare(`INSERT INTO agents (id, hostname, address, version, specialties, capacity, first_seen_at, last_seen_at)
                     VALUES (@id, @hostname, @address, @version, @specialties, @capacity, @now, @now)
                     ON CONFLICT (id) DO UPDATE SET hostname = @hostname, address = @address, version = @version,
                       specialties = @specialties, capacity = @capacity, last_seen_at = @now`)
      .run({ id: hello.agentId, hostname: hello.hostname, address, version: hello.version, specialties: JSON.stringify(hello.specialties), capacity: hello.capacity, now });
    const previous = this.connected.get(hello.agentId);
    this.connected.set(hello.agentId, {
      id: hello.agentId, socket, capacity: hello.capacity, specialties: hello.specialties,
      selfDraining: false, lastSeenAt: now, idleSince: now,
    });
    this.changed();
    return previous;
  }

  /** Forgets the connection if `socket` is still the agent's current one. */
  disconnect(id: string, socket: WebSocket): boolean {
    const conn = this.connected.get(id);
    if (!conn || conn.socket !== socket) return false;
    this.connected.delete(id);
    this.db.prepare('UPDATE agents SET last_seen_at = ? WHERE id = ?').run(conn.lastSeenAt, id);
    this.changed();
    return true;
  }

  seen(id: string): void {
    const conn = this.connected.get(id);
    if (conn) conn.lastSeenAt = this.now();
  }

  setAdminDraining(id: string, draining: boolean): void {
    const { changes } = this.db.prepare('UPDATE agents SET admin_draining = ? WHERE id = ?').run(draining ? 1 : 0, id);
    if (changes === 0) throw new CccError(`agent ${id} has never registered; \`ccc agents\` lists the known agents`, 'not_found');
    if (draining) this.adminDraining.add(id);
    else this.adminDraining.delete(id);
    this.changed();
  }

  isDraining(id: string): boolean {
    return this.adminDraining.has(id) || this.connected.get(id)?.selfDraining === true;
  }

  /** Agents that may take new work now. */
  candidates(active: Map<string, number>): Candidate[] {
    return [...this.connected.values()]
      .filter((c) => !this.isDraining(c.id))
      .map((c) => ({ id: c.id, specialties: c.specialties, capacity: c.capacity, running: active.get(c.id) ?? 0, idleSince: c.idleSince }));
  }

  list(active: Map<string, number>): AgentView[] {
    const rows = this.db.prepare<[], AgentRow>('SELECT * FROM agents ORDER BY id').all();
    return rows.map((r) => {
      const conn = this.connected.get(r.id);
      return {
        id: r.id,
        hostname: r.hostname,
        address: r.address,
        specialties: JSON.parse(r.specialties) as string[],
        capacity: r.capacity,
        running: active.get(r.id) ?? 0,
        state: !conn ? 'offline' : this.isDraining(r.id) ? 'draining' : 'online',
        lastSeenAt: new Date(conn?.lastSeenAt ?? r.last_seen_at).toISOString(),
        version: r.version,
        ...(conn?.drainReason ? { drainReason: conn.drainReason } : {}),
      };
    });
  }
}
