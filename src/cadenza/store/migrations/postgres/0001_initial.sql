-- The first schema: sqlite/0001_initial.sql, table for table and column for column.
--
-- Column types, and why:
-- * Times are DOUBLE PRECISION seconds since the epoch: the engine's clock
--   gives floats, and the store compares and adds them (lease expiry, timer
--   due times) exactly as SQLite's REAL does. TIMESTAMPTZ would need a
--   conversion on every read and write for no query we make.
-- * Payloads (events, snapshots, task input, meta, retry policies) are TEXT
--   holding the shared codec's compact JSON, not JSONB. History must give back
--   the bytes it was given: JSONB reorders object keys and drops duplicate
--   ones, so a replayed interpreter could see a different dict order than the
--   live one saw. TEXT also keeps one codec for every backend, and no query
--   looks inside a payload.
-- * Counters are INTEGER; the inbox's surrogate key is a BIGINT identity.
--
-- The schema lives in the connection's search_path (normally "public").

CREATE TABLE definitions (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    source      TEXT NOT NULL,
    created_at  DOUBLE PRECISION NOT NULL
);

CREATE TABLE executions (
    id              TEXT PRIMARY KEY,
    definition_id   TEXT NOT NULL REFERENCES definitions(id),
    kind            TEXT NOT NULL,
    name            TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      DOUBLE PRECISION NOT NULL,
    updated_at      DOUBLE PRECISION NOT NULL,
    decision_no     INTEGER NOT NULL DEFAULT 0,
    next_seq        INTEGER NOT NULL DEFAULT 1,
    snapshot        TEXT,
    output          TEXT,
    errors          TEXT,
    -- When the oldest undecided inbox event arrived; NULL when the inbox is empty.
    pending_since   DOUBLE PRECISION
);
CREATE INDEX executions_pending ON executions (pending_since) WHERE pending_since IS NOT NULL;
CREATE INDEX executions_created ON executions (created_at);

CREATE TABLE history (
    execution_id  TEXT NOT NULL REFERENCES executions(id),
    seq           INTEGER NOT NULL,
    decision      INTEGER NOT NULL,
    time          DOUBLE PRECISION NOT NULL,
    type          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    PRIMARY KEY (execution_id, seq)
);

CREATE TABLE inbox (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    execution_id  TEXT NOT NULL REFERENCES executions(id),
    time          DOUBLE PRECISION NOT NULL,
    type          TEXT NOT NULL,
    payload       TEXT NOT NULL
);
CREATE INDEX inbox_execution ON inbox (execution_id, id);

CREATE TABLE tasks (
    execution_id       TEXT NOT NULL REFERENCES executions(id),
    task_id            TEXT NOT NULL,
    name               TEXT NOT NULL,
    action             TEXT,
    input              TEXT NOT NULL,
    queue              TEXT NOT NULL,
    status             TEXT NOT NULL,
    attempt            INTEGER NOT NULL DEFAULT 0,
    available_at       DOUBLE PRECISION NOT NULL,
    lease_owner        TEXT,
    lease_expires_at   DOUBLE PRECISION,
    deadline           DOUBLE PRECISION,
    retry              TEXT,
    timeout            DOUBLE PRECISION,
    heartbeat_timeout  DOUBLE PRECISION,
    meta               TEXT NOT NULL,
    created_at         DOUBLE PRECISION NOT NULL,
    updated_at         DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (execution_id, task_id)
);
CREATE INDEX tasks_due ON tasks (queue, available_at) WHERE status = 'scheduled';
CREATE INDEX tasks_leased ON tasks (lease_expires_at) WHERE status = 'claimed';
CREATE INDEX tasks_by_name ON tasks (execution_id, name);

CREATE TABLE timers (
    execution_id  TEXT NOT NULL REFERENCES executions(id),
    timer_id      TEXT NOT NULL,
    fire_at       DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (execution_id, timer_id)
);
CREATE INDEX timers_due ON timers (fire_at);
