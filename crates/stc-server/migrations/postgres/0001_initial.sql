-- Metadata schema, version 1 (PostgreSQL). Times are milliseconds since the Unix epoch.
-- migrations/sqlite/0001_initial.sql is the same schema in SQLite's types.
CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    is_admin      BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

-- Login tokens (kind 'session', expiring) and API access keys (kind 'key'). Only a SHA-256
-- of the secret is stored.
CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    name       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT
);

CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE members (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       TEXT NOT NULL,
    PRIMARY KEY (project_id, user_id)
);

-- active_instance_id is the guard that keeps one active instance per job: `start` claims it
-- with a conditional UPDATE; the instance releases it when it reaches a final state.
CREATE TABLE jobs (
    id                 TEXT PRIMARY KEY,
    project_id         TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    sql_text           TEXT NOT NULL,
    settings           TEXT NOT NULL,
    active_instance_id TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    UNIQUE (project_id, name)
);

CREATE TABLE job_versions (
    id         TEXT PRIMARY KEY,
    job_id     TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    version    BIGINT NOT NULL,
    sql_text   TEXT NOT NULL,
    settings   TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (job_id, version)
);

-- lease_owner/lease_expires/lease_epoch: the scheduler's seize + heartbeat. lease_epoch is
-- the fencing token: it grows with every seize, and every write a node makes for the
-- instance is conditional on the epoch it seized.
CREATE TABLE instances (
    id             TEXT PRIMARY KEY,
    job_id         TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    version_id     TEXT NOT NULL REFERENCES job_versions(id) ON DELETE CASCADE,
    state          TEXT NOT NULL,
    start_from     TEXT,
    savepoint_path TEXT,
    error_domain   TEXT,
    error_retry    TEXT,
    error_message  TEXT,
    restarts       BIGINT NOT NULL DEFAULT 0,
    counters       TEXT NOT NULL DEFAULT '{}',
    lease_owner    TEXT,
    lease_expires  BIGINT NOT NULL DEFAULT 0,
    lease_epoch    BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX instances_by_state ON instances (state, lease_expires);
CREATE INDEX instances_by_job ON instances (job_id);

CREATE TABLE transitions (
    id          BIGSERIAL PRIMARY KEY,
    instance_id TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    from_state  TEXT,
    to_state    TEXT NOT NULL,
    action      TEXT NOT NULL,
    actor       TEXT NOT NULL,
    detail      TEXT,
    at          BIGINT NOT NULL
);
CREATE INDEX transitions_by_instance ON transitions (instance_id, id);

CREATE TABLE instance_logs (
    id          BIGSERIAL PRIMARY KEY,
    instance_id TEXT NOT NULL REFERENCES instances(id) ON DELETE CASCADE,
    node_id     TEXT NOT NULL,
    stream      TEXT NOT NULL,
    line        TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX instance_logs_by_instance ON instance_logs (instance_id, id);
