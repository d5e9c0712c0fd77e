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
];
