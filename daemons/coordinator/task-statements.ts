/** The task store's prepared SQL, in one place (a plan's row, kind 'plan', is never dispatched, leased or expired). */
import type { Db } from './db.js';
import type { TaskRow } from './task-model.js';

export type TaskStatements = ReturnType<typeof taskStatements>;

export function taskStatements(db: Db) {
  return {
    insert: db.prepare(`INSERT INTO tasks (state, title, body, labels, repo, source, issue_number, specialty, specialty_reason, route_reason, max_attempts, created_at, updated_at,
                                           branch, pull_request, pr_number, previous_task_id, follow_up, context, kind, plan_id, step_index, plan_steps)
                        VALUES ('queued', @title, @body, @labels, @repo, @source, @issueNumber, @specialty, @specialtyReason, @routeReason, @maxAttempts, @now, @now,
                                @branch, @pullRequest, @prNumber, @previousTaskId, @followUp, @context, @kind, @planId, @stepIndex, @planSteps)`),
    // A step's events count for its plan: the plan is what the issue shows.
    latestOfIssue: db.prepare<[string, number], { task_id: number }>(
      `SELECT coalesce(t.plan_id, e.task_id) AS task_id FROM tasks t JOIN task_events e ON e.task_id = t.id
       WHERE t.repo = ? AND t.issue_number = ? AND e.kind IN ('created', 'retried') ORDER BY e.id DESC LIMIT 1`),
    byPull: db.prepare<[string, number], TaskRow>('SELECT * FROM tasks WHERE repo = ? AND pr_number = ? ORDER BY id DESC LIMIT 1'),
    byIssue: db.prepare<[string, number], TaskRow>('SELECT * FROM tasks WHERE repo = ? AND issue_number = ? AND plan_id IS NULL ORDER BY id DESC LIMIT 1'),
    get: db.prepare<[number], TaskRow>('SELECT * FROM tasks WHERE id = ?'),
    event: db.prepare('INSERT INTO task_events (task_id, at, kind, attempt, agent_id, message) VALUES (?, ?, ?, ?, ?, ?)'),
    events: db.prepare<[number], { id: number; at: number; kind: string; attempt: number; agent_id: string | null; message: string }>(
      'SELECT id, at, kind, attempt, agent_id, message FROM task_events WHERE task_id = ? ORDER BY id'),
    dispatchable: db.prepare<[number, number], TaskRow>(
      "SELECT * FROM tasks WHERE state = 'queued' AND not_before <= ? AND kind <> 'plan' ORDER BY id LIMIT ?"),
    activeByAgent: db.prepare<[], { agent_id: string; n: number }>(
      "SELECT agent_id, count(*) AS n FROM tasks WHERE state IN ('assigned','running') GROUP BY agent_id"),
    activeOfAgent: db.prepare<[string], TaskRow>(
      "SELECT * FROM tasks WHERE agent_id = ? AND state IN ('assigned','running')"),
    expired: db.prepare<[number], TaskRow>(
      "SELECT * FROM tasks WHERE state IN ('assigned','running') AND lease_expires_at < ? AND kind <> 'plan'"),
    renew: db.prepare("UPDATE tasks SET lease_expires_at = ? WHERE agent_id = ? AND state IN ('assigned','running')"),
    staleCount: db.prepare<[number], { n: number }>("SELECT count(*) AS n FROM task_events WHERE task_id = ? AND kind = 'stale-ignored'"),
    renewAll: db.prepare("UPDATE tasks SET lease_expires_at = ? WHERE state IN ('assigned','running') AND kind <> 'plan'"),
    ofKind: db.prepare<[string, number, string], TaskRow>('SELECT * FROM tasks WHERE repo = ? AND issue_number = ? AND kind = ? ORDER BY id DESC LIMIT 1'),
    unreviewedPlanners: db.prepare<[], { id: number }>(
      `SELECT id FROM tasks t WHERE kind = 'planner' AND state = 'succeeded' AND plan_steps IS NULL
       AND NOT EXISTS (SELECT 1 FROM task_events e WHERE e.task_id = t.id AND e.kind = 'plan-invalid')`),
    stepsOf: db.prepare<[number], TaskRow>('SELECT * FROM tasks WHERE plan_id = ? ORDER BY step_index'),
    openPlans: db.prepare<[], TaskRow>("SELECT * FROM tasks WHERE kind = 'plan' AND state IN ('queued','assigned','running')"),
  };
}
