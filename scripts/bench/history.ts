/** Fills a coordinator database with finished tasks, straight into SQLite (for the metrics bench and tests). */
import { openDb } from '../../daemons/coordinator/db.js';

export interface HistoryOptions {
  /** Spread the tasks' end times over this many UTC days before now. */
  days?: number;
  agents?: readonly string[];
  repos?: readonly string[];
  now?: number;
}

/** Inserts `n` finished tasks (succeeded, failed, cancelled; each with a cost) and returns the cost inserted. */
export function fillHistory(dbFile: string, n: number, opts: HistoryOptions = {}): { usd: number } {
  const { days = 30, agents = ['backend', 'frontend'], repos = ['acme/web', 'acme/api', 'acme/docs'], now = Date.now() } = opts;
  const db = openDb(dbFile);
  const insert = db.prepare(`INSERT INTO tasks (state, title, body, labels, repo, specialty, specialty_reason, route_reason, agent_id, attempt, max_attempts, result, created_at, updated_at)
    VALUES (@state, 'history', '', '[]', @repo, 'backend', 'bench', 'bench', @agent, 1, 3, @result, @at, @at)`);
  let usd = 0;
  const states = ['succeeded', 'succeeded', 'succeeded', 'failed', 'cancelled'] as const;
  const batch = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const state = states[i % states.length]!;
      const costUsd = Math.round(((i % 97) + 1) * 100) / 10_000; // 0.01 … 0.97
      usd += costUsd;
      const at = now - Math.floor((i / n) * days * 86_400_000);
      const result = JSON.stringify({ outcome: state, summary: 'done', retryable: false, exitCode: 0, durationMs: 1000, costUsd, turns: 3 });
      insert.run({ state, repo: repos[i % repos.length], agent: agents[i % agents.length], result, at });
    }
  });
  for (let i = 0; i < n; i += 10_000) batch(i, Math.min(n, i + 10_000));
  db.close();
  return { usd };
}
