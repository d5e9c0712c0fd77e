/** Schema migrations, in order; entry N brings the schema from version N to N+1. Never edit a shipped one. */
export const migrations: readonly string[] = [
  `
  CREATE TABLE tasks (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    state            TEXT    NOT NULL CHECK (state IN ('queued','assigned','running','succeeded','failed','cancelled')),
    title            TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    labels           TEXT    NOT NULL,          -- JSON array of strings
    repo             TEXT,
    specialty        TEXT    NOT NULL,
    specialty_reason TEXT    NOT NULL,
    route_reason     TEXT    NOT NULL,
    agent_id         TEXT,
    attempt          INTEGER NOT NULL DEFAULT 0, -- the fencing token of the current assignment
    max_attempts     INTEGER NOT NULL,
    lease_expires_at INTEGER,                   -- ms since epoch, while assigned/running
    not_before       INTEGER NOT NULL DEFAULT 0, -- retry backoff: not dispatched before (ms)
    result           TEXT,                      -- JSON, once finished
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
  );
  CREATE INDEX tasks_by_state ON tasks (state, not_before, id);
  CREATE INDEX tasks_by_agent ON tasks (agent_id, state);

  CREATE TABLE task_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id  INTEGER NOT NULL REFERENCES tasks (id),
    at       INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    attempt  INTEGER NOT NULL,
    agent_id TEXT,
    message  TEXT    NOT NULL
  );
  CREATE INDEX task_events_by_task ON task_events (task_id, id);

  CREATE TABLE agents (
    id             TEXT PRIMARY KEY,
    hostname       TEXT    NOT NULL,
    address        TEXT,
    version        TEXT    NOT NULL,
    specialties    TEXT    NOT NULL,           -- JSON array
    capacity       INTEGER NOT NULL,
    admin_draining INTEGER NOT NULL DEFAULT 0, -- set by POST /agents/:id/drain, kept across restarts
    first_seen_at  INTEGER NOT NULL,
    last_seen_at   INTEGER NOT NULL
  );
  `,
  `
  -- Tasks that come from GitHub (or the local forge) and end in a pull request.
  ALTER TABLE tasks ADD COLUMN source TEXT NOT NULL DEFAULT 'api'; -- 'api' | 'github'
  ALTER TABLE tasks ADD COLUMN issue_number INTEGER;
  ALTER TABLE tasks ADD COLUMN pull_request TEXT;                -- JSON {number, url} once opened
  ALTER TABLE tasks ADD COLUMN tracking_comment_id INTEGER;
  CREATE INDEX tasks_by_issue ON tasks (repo, issue_number);

  -- Every webhook delivery seen, so a replay is recognised even after a restart.
  CREATE TABLE webhook_deliveries (
    id          TEXT PRIMARY KEY,                 -- X-GitHub-Delivery
    event       TEXT    NOT NULL,
    action      TEXT,
    outcome     TEXT    NOT NULL,                 -- what was done: task-created, ignored: …, …
    task_id     INTEGER,
    received_at INTEGER NOT NULL
  );

  -- Pull requests of the local forge (rehearsals without GitHub).
  CREATE TABLE forge_pull_requests (
    number     INTEGER PRIMARY KEY AUTOINCREMENT,
    repo       TEXT    NOT NULL,
    title      TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    head       TEXT    NOT NULL,
    base       TEXT    NOT NULL,
    task_id    INTEGER,
    created_at INTEGER NOT NULL
  );
  `,
  `
  -- The conversation: a task may continue a branch and pull request (follow-ups, reruns).
  ALTER TABLE tasks ADD COLUMN branch TEXT;             -- a branch to continue (a pull request's head)
  ALTER TABLE tasks ADD COLUMN pr_number INTEGER;       -- the pull request the task's work is on
  ALTER TABLE tasks ADD COLUMN previous_task_id INTEGER;-- the task whose work this one continues
  ALTER TABLE tasks ADD COLUMN follow_up TEXT;          -- JSON: what a follow-up asks (untrusted)
  ALTER TABLE tasks ADD COLUMN context TEXT;            -- JSON: earlier comments by allowed users (untrusted)
  UPDATE tasks SET pr_number = json_extract(pull_request, '$.number') WHERE pull_request IS NOT NULL;
  CREATE INDEX tasks_by_pull ON tasks (repo, pr_number);

  ALTER TABLE forge_pull_requests ADD COLUMN draft INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE forge_pull_requests ADD COLUMN state TEXT NOT NULL DEFAULT 'open';
  CREATE TABLE forge_pull_comments (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    number     INTEGER NOT NULL REFERENCES forge_pull_requests (number),
    author     TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
  );
  CREATE INDEX forge_pull_comments_by_pull ON forge_pull_comments (number, id);
  `,
  `
  -- Running totals, so /metrics, the summary and the daily budget never scan the task history.
  CREATE TABLE task_state_counts (state TEXT PRIMARY KEY, n INTEGER NOT NULL);
  INSERT INTO task_state_counts (state, n) VALUES ('queued', 0), ('assigned', 0), ('running', 0), ('succeeded', 0), ('failed', 0), ('cancelled', 0);
  UPDATE task_state_counts SET n = (SELECT count(*) FROM tasks WHERE tasks.state = task_state_counts.state);
  CREATE TRIGGER tasks_count_insert AFTER INSERT ON tasks BEGIN
    UPDATE task_state_counts SET n = n + 1 WHERE state = NEW.state;
  END;
  CREATE TRIGGER tasks_count_state AFTER UPDATE OF state ON tasks WHEN OLD.state <> NEW.state BEGIN
    UPDATE task_state_counts SET n = n - 1 WHERE state = OLD.state;
    UPDATE task_state_counts SET n = n + 1 WHERE state = NEW.state;
  END;
  CREATE TRIGGER tasks_count_delete AFTER DELETE ON tasks BEGIN
    UPDATE task_state_counts SET n = n - 1 WHERE state = OLD.state;
  END;

  -- One row per attempt that reported a model cost, written whatever code path stores the result.
  CREATE TABLE task_costs (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id  INTEGER NOT NULL,
    attempt  INTEGER NOT NULL,
    at       INTEGER NOT NULL,                -- ms since epoch: when the attempt's result was stored
    agent_id TEXT,
    repo     TEXT,
    usd      REAL    NOT NULL
  );
  INSERT INTO task_costs (task_id, attempt, at, agent_id, repo, usd)
    SELECT id, attempt, updated_at, agent_id, repo, json_extract(result, '$.costUsd') FROM tasks
    WHERE result IS NOT NULL AND json_extract(result, '$.costUsd') > 0;
  CREATE TRIGGER tasks_cost AFTER UPDATE OF result ON tasks
    WHEN NEW.result IS NOT NULL AND OLD.result IS NOT NEW.result AND json_extract(NEW.result, '$.costUsd') > 0 BEGIN
    INSERT INTO task_costs (task_id, attempt, at, agent_id, repo, usd)
      VALUES (NEW.id, NEW.attempt, NEW.updated_at, coalesce(NEW.agent_id, OLD.agent_id), NEW.repo, json_extract(NEW.result, '$.costUsd'));
  END;
  CREATE TRIGGER tasks_cost_insert AFTER INSERT ON tasks
    WHEN NEW.result IS NOT NULL AND json_extract(NEW.result, '$.costUsd') > 0 BEGIN
    INSERT INTO task_costs (task_id, attempt, at, agent_id, repo, usd)
      VALUES (NEW.id, NEW.attempt, NEW.updated_at, NEW.agent_id, NEW.repo, json_extract(NEW.result, '$.costUsd'));
  END;

  -- GitHub App: the installation a delivery came from, for the task's API calls and push token.
  ALTER TABLE tasks ADD COLUMN installation_id INTEGER;
  `,
  `
  -- Per-agent identity: each agent's own credential, kept only as a SHA-256 hash (docs/security.md#identity).
  CREATE TABLE agent_credentials (
    agent_id        TEXT PRIMARY KEY,
    credential_hash TEXT UNIQUE,                -- hex SHA-256 of the credential; NULL when none is valid
    enrolled_at     INTEGER,                    -- ms since epoch of the last enrollment
    last_used_at    INTEGER,                    -- when the credential last opened a connection or a git request
    revoked_at      INTEGER,
    enroll_allowed  INTEGER NOT NULL DEFAULT 1  -- 0 after a revoke, until an operator allows enrollment again
  );
  `,
  `
  -- POST /api/v1/tasks with an Idempotency-Key header: the key, a hash of the request and the task it created,
  -- written in the task's own transaction; rows older than a day are deleted (docs/api.md#idempotency).
  CREATE TABLE idempotency_keys (
    key          TEXT PRIMARY KEY,
    request_hash TEXT    NOT NULL,            -- hex SHA-256 of the validated request body
    task_id      INTEGER NOT NULL REFERENCES tasks (id),
    created_at   INTEGER NOT NULL             -- ms since epoch
  );
  CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
  `,
  `
  -- Plans (docs/plans.md): a plan is a task row of kind 'plan' that no agent runs; its steps are ordinary
  -- tasks that name it (plan_id) and their place in it (step_index, from 0). plan_steps is the plan's list
  -- of {specialty, goal}; a step's task row is created when the step before it has succeeded.
  -- A 'planner' task is a read-only run that proposes steps (/ccc plan); its plan_steps is the proposal.
  ALTER TABLE tasks ADD COLUMN kind TEXT NOT NULL DEFAULT 'task' CHECK (kind IN ('task', 'plan', 'planner'));
  ALTER TABLE tasks ADD COLUMN plan_id INTEGER REFERENCES tasks (id);
  ALTER TABLE tasks ADD COLUMN step_index INTEGER;
  ALTER TABLE tasks ADD COLUMN plan_steps TEXT;
  CREATE UNIQUE INDEX tasks_plan_step ON tasks (plan_id, step_index) WHERE plan_id IS NOT NULL;
  -- A plan's state mirrors its steps: the running totals count the steps (and planner runs), not the plan too.
  DROP TRIGGER tasks_count_insert;
  DROP TRIGGER tasks_count_state;
  DROP TRIGGER tasks_count_delete;
  CREATE TRIGGER tasks_count_insert AFTER INSERT ON tasks WHEN NEW.kind <> 'plan' BEGIN
    UPDATE task_state_counts SET n = n + 1 WHERE state = NEW.state;
  END;
  CREATE TRIGGER tasks_count_state AFTER UPDATE OF state ON tasks WHEN OLD.state <> NEW.state AND NEW.kind <> 'plan' BEGIN
    UPDATE task_state_counts SET n = n - 1 WHERE state = OLD.state;
    UPDATE task_state_counts SET n = n + 1 WHERE state = NEW.state;
  END;
  CREATE TRIGGER tasks_count_delete AFTER DELETE ON tasks WHEN OLD.kind <> 'plan' BEGIN
    UPDATE task_state_counts SET n = n - 1 WHERE state = OLD.state;
  END;
  -- A plan's result adds up its steps' costs: only the steps' own results are costs.
  DROP TRIGGER tasks_cost;
  CREATE TRIGGER tasks_cost AFTER UPDATE OF result ON tasks
    WHEN NEW.kind = 'task' AND NEW.result IS NOT NULL AND OLD.result IS NOT NEW.result AND json_extract(NEW.result, '$.costUsd') > 0 BEGIN
    INSERT INTO task_costs (task_id, attempt, at, agent_id, repo, usd)
      VALUES (NEW.id, NEW.attempt, NEW.updated_at, coalesce(NEW.agent_id, OLD.agent_id), NEW.repo, json_extract(NEW.result, '$.costUsd'));
  END;
  `,
];
