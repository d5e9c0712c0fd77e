/**
 * Model cost kept as running totals in memory: all time, per agent, per repository and per UTC day.
 * Restored at start with one query over the cost ledger (task_costs, filled by a trigger whenever a
 * result with a cost is stored), then advanced by reading only the ledger rows added since, so
 * neither a /metrics scrape nor a dispatch round costs anything proportional to history.
 */
import type { Db } from '../db.js';

/** Per-day totals kept in memory (older days stay in the ledger). */
export const DAYS_KEPT = 31;

interface LedgerRow { id: number; at: number; agent_id: string | null; repo: string | null; usd: number }

export interface CostTotals {
  usd: number;
  /** Attempts that reported a cost. */
  attempts: number;
  byAgent: ReadonlyMap<string, number>;
  byRepo: ReadonlyMap<string, number>;
  /** UTC day (YYYY-MM-DD) → spent that day, the last DAYS_KEPT days. */
  byDay: ReadonlyMap<string, number>;
}

/** The UTC day of a time, as YYYY-MM-DD. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export class CostCounters {
  private usd = 0;
  private attempts = 0;
  private lastId = 0;
  private readonly byAgent = new Map<string, number>();
  private readonly byRepo = new Map<string, number>();
  private readonly byDay = new Map<string, number>();
  private readonly since;

  constructor(db: Db) {
    const restored = db.prepare<[], { agent_id: string | null; repo: string | null; day: string; usd: number; n: number; last: number }>(
      `SELECT agent_id, repo, strftime('%Y-%m-%d', at / 1000, 'unixepoch') AS day, sum(usd) AS usd, count(*) AS n, max(id) AS last
       FROM task_costs GROUP BY agent_id, repo, day`).all();
    for (const r of restored) {
      this.add(r.agent_id, r.repo, r.day, r.usd, r.n);
      this.lastId = Math.max(this.lastId, r.last);
    }
    this.prune();
    this.since = db.prepare<[number], LedgerRow>('SELECT id, at, agent_id, repo, usd FROM task_costs WHERE id > ? ORDER BY id');
  }

  /** Takes in the ledger rows written since the last look (an index range on the primary key: usually none). */
  refresh(): void {
    const rows = this.since.all(this.lastId);
    for (const r of rows) {
      this.add(r.agent_id, r.repo, utcDay(r.at), r.usd, 1);
      this.lastId = r.id;
    }
    if (rows.length) this.prune();
  }

  /** Spent on the UTC day of `now`. */
  spentOn(now: number): number {
    this.refresh();
    return this.byDay.get(utcDay(now)) ?? 0;
  }

  totals(): CostTotals {
    this.refresh();
    return { usd: this.usd, attempts: this.attempts, byAgent: this.byAgent, byRepo: this.byRepo, byDay: this.byDay };
  }

  private add(agent: string | null, repo: string | null, day: string, usd: number, n: number): void {
    this.usd += usd;
    this.attempts += n;
    bump(this.byAgent, agent ?? '(none)', usd);
    bump(this.byRepo, repo ?? '(none)', usd);
    bump(this.byDay, day, usd);
  }

  private prune(): void {
    const days = [...this.byDay.keys()].sort();
    for (const day of days.slice(0, Math.max(0, days.length - DAYS_KEPT))) this.byDay.delete(day);
  }
}

function bump(map: Map<string, number>, key: string, by: number): void {
  map.set(key, (map.get(key) ?? 0) + by);
}
