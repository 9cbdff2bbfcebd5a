-- The first schema. Portable SQL: the PostgreSQL migrations mirror it.

CREATE TABLE definitions (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    source      TEXT NOT NULL,
    created_at  REAL NOT NULL
);

CREATE TABLE executions (
    id              TEXT PRIMARY KEY,
    definition_id   TEXT NOT NULL REFERENCES definitions(id),
    kind            TEXT NOT NULL,
    name            TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      REAL NOT NULL,
    updated_at      REAL NOT NULL,
    decision_no     INTEGER NOT NULL DEFAULT 0,
    next_seq        INTEGER NOT NULL DEFAULT 1,
    snapshot        TEXT,
    output          TEXT,
    errors          TEXT,
    -- When the oldest undecided inbox event arrived; NULL when the inbox is empty.
    pending_since   REAL
);
CREATE INDEX executions_pending ON executions (pending_since) WHERE pending_since IS NOT NULL;
CREATE INDEX executions_created ON executions (created_at);

CREATE TABLE history (
    execution_id  TEXT NOT NULL REFERENCES executions(id),
    seq           INTEGER NOT NULL,
    decision      INTEGER NOT NULL,
    time          REAL NOT NULL,
    type          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    PRIMARY KEY (execution_id, seq)
);

CREATE TABLE inbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    execution_id  TEXT NOT NULL REFERENCES executions(id),
    time          REAL NOT NULL,
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
    available_at       REAL NOT NULL,
    lease_owner        TEXT,
    lease_expires_at   REAL,
    deadline           REAL,
    retry              TEXT,
    timeout            REAL,
    heartbeat_timeout  REAL,
    meta               TEXT NOT NULL,
    created_at         REAL NOT NULL,
    updated_at         REAL NOT NULL,
    PRIMARY KEY (execution_id, task_id)
);
CREATE INDEX tasks_due ON tasks (queue, available_at) WHERE status = 'scheduled';
CREATE INDEX tasks_leased ON tasks (lease_expires_at) WHERE status = 'claimed';
CREATE INDEX tasks_by_name ON tasks (execution_id, name);

CREATE TABLE timers (
    execution_id  TEXT NOT NULL REFERENCES executions(id),
    timer_id      TEXT NOT NULL,
    fire_at       REAL NOT NULL,
    PRIMARY KEY (execution_id, timer_id)
);
CREATE INDEX timers_due ON timers (fire_at);
