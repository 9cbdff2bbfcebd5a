-- The PostgreSQL backend's statements, one per "-- name:" block, looked up by
-- name from Python (queries.py). Full-line comments are dropped when loading.
-- Placeholders are psycopg's: %s positional, %(name)s named.

-- name: save_definition
INSERT INTO definitions (id, kind, name, source, created_at, version)
VALUES (%(id)s, %(kind)s, %(name)s, %(source)s, %(created_at)s, %(version)s)
ON CONFLICT (id) DO NOTHING;

-- name: load_definitions
SELECT id, kind, name, source, created_at, version FROM definitions WHERE id = ANY(%s);

-- name: list_definitions
SELECT id, kind, name, source, created_at, version FROM definitions
WHERE (%(name)s::text IS NULL OR name = %(name)s::text)
  AND (%(kind)s::text IS NULL OR kind = %(kind)s::text)
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s;

-- name: insert_execution
INSERT INTO executions (id, definition_id, kind, name, status, created_at, updated_at,
                        pending_since, parent_id, parent_task_id)
VALUES (%s, %s, %s, %s, 'requested', %s, %s, %s, %s, %s);

-- name: load_execution
SELECT id, definition_id, kind, name, status, created_at, updated_at, output, errors, next_seq,
       parent_id, parent_task_id
FROM executions WHERE id = %s;

-- name: list_executions
SELECT id, definition_id, kind, name, status, created_at, updated_at, output, errors, next_seq,
       parent_id, parent_task_id
FROM executions
WHERE (cardinality(%(statuses)s::text[]) = 0 OR status = ANY(%(statuses)s::text[]))
  AND NOT (status = ANY(%(excluding)s::text[]))
  AND (%(kinds)s::text[] IS NULL OR kind = ANY(%(kinds)s::text[]))
  AND (%(definition_id)s::text IS NULL OR definition_id = %(definition_id)s::text)
  AND (%(parent_id)s::text IS NULL OR parent_id = %(parent_id)s::text)
  AND (%(since)s::float8 IS NULL OR created_at >= %(since)s::float8)
  AND (%(until)s::float8 IS NULL OR created_at < %(until)s::float8)
  AND (%(updated_before)s::float8 IS NULL OR updated_at < %(updated_before)s::float8)
  -- Every tag asked for is among the execution's (the GIN index answers it).
  AND (cardinality(%(tags)s::text[]) = 0 OR tags @> %(tags)s::text[])
  -- An ILIKE pattern (see store/queries.py like_pattern).
  AND (%(text)s::text IS NULL OR id ILIKE %(text)s::text OR name ILIKE %(text)s::text)
  -- The page after the row (before_time, before_id), newest first.
  AND (%(before_time)s::float8 IS NULL OR (created_at, id) < (%(before_time)s::float8, %(before_id)s::text))
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s;

-- name: count_executions
-- The filters of list_executions (but paging), counted by status.
SELECT status, COUNT(*) AS n FROM executions
WHERE (cardinality(%(statuses)s::text[]) = 0 OR status = ANY(%(statuses)s::text[]))
  AND NOT (status = ANY(%(excluding)s::text[]))
  AND (%(kinds)s::text[] IS NULL OR kind = ANY(%(kinds)s::text[]))
  AND (%(definition_id)s::text IS NULL OR definition_id = %(definition_id)s::text)
  AND (%(since)s::float8 IS NULL OR created_at >= %(since)s::float8)
  AND (%(until)s::float8 IS NULL OR created_at < %(until)s::float8)
  AND (%(updated_before)s::float8 IS NULL OR updated_at < %(updated_before)s::float8)
  -- Every tag asked for is among the execution's (the GIN index answers it).
  AND (cardinality(%(tags)s::text[]) = 0 OR tags @> %(tags)s::text[])
  -- An ILIKE pattern (see store/queries.py like_pattern).
  AND (%(text)s::text IS NULL OR id ILIKE %(text)s::text OR name ILIKE %(text)s::text)
GROUP BY status;

-- name: execution_tags
SELECT id, tags FROM executions WHERE id = ANY(%s);

-- name: lost_leases
-- Attempts that ended by losing their lease, counted per task of each live
-- execution (the history of live executions only, through its primary key).
SELECT h.execution_id, h.payload::jsonb ->> 'task_id' AS task_id,
       COUNT(*) AS lost, MAX(h.time) AS last_time, MAX(t.name) AS name, MAX(t.queue) AS queue
FROM executions AS e
JOIN history AS h ON h.execution_id = e.id
LEFT JOIN tasks AS t
  ON t.execution_id = h.execution_id AND t.task_id = h.payload::jsonb ->> 'task_id'
WHERE NOT (e.status = ANY(%(final)s::text[]))
  AND h.type IN ('TaskAttemptFailed', 'TaskCompleted')
  AND h.payload::jsonb -> 'error' ->> 'type' = ANY(%(error_types)s::text[])
GROUP BY h.execution_id, h.payload::jsonb ->> 'task_id'
HAVING COUNT(*) >= %(at_least)s
ORDER BY last_time DESC
LIMIT %(limit)s;

-- name: set_execution_tags
UPDATE executions SET tags = %s WHERE id = %s;

-- name: execution_counts
SELECT kind, status, COUNT(*) AS n FROM executions GROUP BY kind, status;

-- name: task_counts
SELECT queue, status, COUNT(*) AS n FROM tasks GROUP BY queue, status;

-- name: execution_exists
SELECT 1 FROM executions WHERE id = %s;

-- name: read_history
-- A NULL limit is none.
SELECT seq, decision, time, type, payload FROM history
WHERE execution_id = %s AND seq > %s
ORDER BY seq
LIMIT %s;

-- name: load_snapshots_and_tails
-- Each execution's snapshot (a row with a NULL seq, first) and the history
-- after it, in one statement: a decider that rebuilds a state another process
-- held pays one round trip (and one transaction) for both, and they agree.
SELECT e.id AS execution_id, e.snapshot, NULL::integer AS seq, NULL::integer AS decision,
       NULL::double precision AS time, NULL::text AS type, NULL::text AS payload
FROM executions AS e WHERE e.id = ANY(%(ids)s)
UNION ALL
SELECT h.execution_id, NULL, h.seq, h.decision, h.time, h.type, h.payload
FROM history AS h JOIN executions AS e ON e.id = h.execution_id
WHERE h.execution_id = ANY(%(ids)s) AND h.seq > e.snapshot_seq
ORDER BY execution_id, seq NULLS FIRST;

-- name: forget_snapshots
-- A NULL list means every execution.
UPDATE executions SET snapshot = NULL, snapshot_seq = 0
WHERE %(ids)s::text[] IS NULL OR id = ANY(%(ids)s::text[]);

-- name: insert_inbox
INSERT INTO inbox (execution_id, time, type, payload) VALUES (%s, %s, %s, %s);

-- name: insert_first_inbox
-- An execution's start: its first inbox row, whose id a round that decides
-- it without reading consumes (RoundRequest.started).
INSERT INTO inbox (execution_id, time, type, payload) VALUES (%s, %s, %s, %s) RETURNING id;

-- name: mark_pending
-- Taking the row locks in id order keeps two transactions that mark the same
-- executions (timers firing in two processes) from deadlocking each other.
UPDATE executions SET pending_since = COALESCE(pending_since, %(now)s)
WHERE id IN (SELECT id FROM executions WHERE id = ANY(%(ids)s) ORDER BY id FOR NO KEY UPDATE)
RETURNING id;

-- name: start_execution
-- A start with nothing else to write (its definition stored, no tags, no
-- workflow id) as one statement, committed on its own: the execution, its
-- first inbox row (whose id is returned) and the notification together.
WITH execution AS (
    INSERT INTO executions (id, definition_id, kind, name, status, created_at, updated_at,
                            pending_since, parent_id, parent_task_id)
    VALUES (%(id)s, %(definition_id)s, %(kind)s, %(name)s, 'requested', %(now)s, %(now)s,
            %(now)s, NULL, NULL)
    RETURNING id
)
INSERT INTO inbox (execution_id, time, type, payload)
SELECT id, %(now)s, %(type)s, %(payload)s FROM execution
RETURNING id, pg_notify('cadenza_work', '') AS notified;

-- name: notify_work
-- Delivered at commit, once per transaction however often it is sent.
NOTIFY cadenza_work;

-- name: listen_work
LISTEN cadenza_work;

-- name: unlisten_work
UNLISTEN cadenza_work;

-- name: take_pending_work
-- Executions with inbox events, or whose attempts finish in this round, each
-- joined with its inbox rows (one round trip): first the %(oldest)s that waited
-- longest, then those finishing (``RoundRequest.kept_for_oldest``), then the
-- others waiting, oldest first. Each
-- execution returned is marked as being decided by this session with an
-- advisory lock (released after the round's commit); executions another
-- session marked are skipped, so deciders rarely decide the same execution
-- twice and never wait for each other. The lock is tried only on rows the
-- LIMIT pulls, after the inner query has ordered them; a CTE that calls a
-- volatile function is evaluated once.
-- Rows of part 0 are the executions and their inboxes. An execution whose
-- attempt finishes in this round but whose state the caller does not hold
-- at its decision number (held: the caller's decision number for each of
-- finished, NULL where it holds none) also comes with its snapshot (part 1)
-- and the history after it (part 2): in a cluster the process that ran a
-- step is rarely the one that decided the step before, and reading them here
-- saves a statement and a transaction per round. Part 0 also says who
-- started each execution and whether it started any (``Family``), which
-- the write needs when the execution ends.
WITH taken AS (
    SELECT id, definition_id, kind, status, decision_no, next_seq, snapshot_seq, waiting,
           parent_id, parent_task_id
    FROM (
        -- Pending ones in the order of the pending index, and those whose
        -- attempts finish in this round by primary key; one waiting and
        -- finishing comes from both, alike but for the rank: the better counts.
        SELECT * FROM (SELECT DISTINCT ON (id) *
        FROM (
            (SELECT id, definition_id, kind, status, decision_no, next_seq, snapshot_seq,
                    parent_id, parent_task_id, pending_since AS waiting,
                    CASE WHEN ROW_NUMBER() OVER (ORDER BY pending_since) <= %(oldest)s
                         THEN 0 ELSE 2 END AS rank
             FROM executions
             WHERE pending_since IS NOT NULL
               AND (%(kinds)s::text[] IS NULL OR kind = ANY(%(kinds)s::text[]))
               AND (%(only)s::text[] IS NULL OR id = ANY(%(only)s::text[]))
             ORDER BY pending_since
             LIMIT %(scan)s)
            UNION ALL
            (SELECT id, definition_id, kind, status, decision_no, next_seq, snapshot_seq,
                    parent_id, parent_task_id, COALESCE(pending_since, %(now)s), 1
             FROM executions
             WHERE id = ANY(%(finished)s::text[])
               AND (%(kinds)s::text[] IS NULL OR kind = ANY(%(kinds)s::text[])))
        ) AS both_parts
        ORDER BY id, rank) AS distinct_parts
        ORDER BY rank, waiting, id
        LIMIT %(scan)s
    ) AS candidates
    WHERE pg_try_advisory_lock(%(space)s, hashtext(candidates.id))
    LIMIT %(limit)s
)
, rebuilt AS (
    SELECT t.id FROM taken AS t
    LEFT JOIN unnest(%(finished)s::text[], %(held)s::integer[]) AS h(id, decision_no)
        ON h.id = t.id
    WHERE t.decision_no > 0 AND t.id = ANY(%(finished)s::text[])
      AND h.decision_no IS DISTINCT FROM t.decision_no
)
SELECT 0 AS part, t.waiting, t.id, t.definition_id, t.kind, t.status, t.decision_no,
       t.next_seq, t.snapshot_seq, i.id AS inbox_id, i.time, i.type, i.payload,
       NULL::text AS snapshot, NULL::integer AS seq, NULL::integer AS decision,
       t.parent_id, t.parent_task_id,
       EXISTS (SELECT 1 FROM executions AS c WHERE c.parent_id = t.id) AS has_children
FROM taken AS t LEFT JOIN inbox AS i ON i.execution_id = t.id
UNION ALL
SELECT 1, NULL, e.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       e.snapshot, NULL, NULL, NULL, NULL, NULL
FROM executions AS e JOIN rebuilt AS r ON r.id = e.id
UNION ALL
SELECT 2, NULL, h.execution_id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, h.time, h.type,
       h.payload, NULL, h.seq, h.decision, NULL, NULL, NULL
FROM history AS h JOIN rebuilt AS r ON r.id = h.execution_id
JOIN executions AS e ON e.id = h.execution_id
WHERE h.seq > e.snapshot_seq
ORDER BY part, waiting, id, inbox_id, seq;

-- name: release_executions
SELECT pg_advisory_unlock_all();

-- name: decision_numbers
-- Row locks in id order, held to commit: a concurrent saver of the same
-- execution waits here and then sees the moved decision number.
SELECT id, decision_no FROM executions WHERE id = ANY(%s) ORDER BY id FOR NO KEY UPDATE;

-- name: consume_inbox
DELETE FROM inbox WHERE id = ANY(%s) RETURNING id;

-- name: save_executions
-- Migration 0012's cadenza_save_executions: each execution row saved, guarded
-- by the decision number its decision started from (a row that moved is not
-- saved, and the round refuses it; checked under lock just before). The ids
-- saved come back.
SELECT id FROM cadenza_save_executions(%(now)s, %(decisions)s::json, %(refs)s::json) AS id;

-- name: copy_history
-- COPY, not INSERT: a batch's rows travel as one stream, several times
-- faster than one INSERT per row even when those are pipelined.
COPY history (execution_id, seq, decision, time, type, payload) FROM STDIN;

-- name: copy_tasks
COPY tasks (execution_id, task_id, name, action, input, queue, status, attempt, available_at,
            retry, timeout, heartbeat_timeout, meta, created_at, updated_at, external, priority)
FROM STDIN;

-- name: insert_leased_task
-- A new task whose first attempt the round that schedules it also claims (a
-- loop that runs its own executions' next steps): inserted claimed, which
-- saves the claim's UPDATE, and returned as a claim returns its tasks.
INSERT INTO tasks (execution_id, task_id, name, action, input, queue, status, attempt,
                   available_at, retry, timeout, heartbeat_timeout, meta, created_at,
                   updated_at, external, priority, lease_owner, lease_expires_at, deadline)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
RETURNING *, (SELECT payload_bytes FROM executions AS e WHERE e.id = tasks.execution_id)
    AS execution_payload_bytes;

-- name: insert_history_rows
-- History rows from one JSON array (migration 0012): one statement for any
-- number of rows, where a pipeline would send one per row.
SELECT cadenza_insert_history(%s::json);

-- name: insert_task_rows
-- New tasks from one JSON array (migration 0012); the count inserted.
SELECT cadenza_insert_tasks(%s::json);

-- name: insert_leased_task_rows
-- New tasks leased as inserted, from one JSON array (migration 0012), each
-- returned as claim_tasks returns it.
SELECT task FROM cadenza_insert_leased_tasks(%s::json) AS task;

-- name: quiet_round
-- The write of a round that read nothing, in one call (migration 0012); each
-- row is a leased task, as claim_tasks returns it.
SELECT task FROM cadenza_quiet_round(
    %(now)s, %(owner)s, %(finishes)s::json, %(decisions)s::json, %(refs)s::json,
    %(history)s::json, %(tasks)s::json, %(leased)s::json) AS task;

-- name: upsert_timer
INSERT INTO timers (execution_id, timer_id, fire_at) VALUES (%s, %s, %s)
ON CONFLICT (execution_id, timer_id) DO UPDATE SET fire_at = EXCLUDED.fire_at;

-- name: claim_tasks
-- One statement: concurrent claimers skip each other's locked rows, so each
-- task goes to exactly one of them and none waits for another. Higher
-- priority first, then the longest due (the order of the tasks_due index).
UPDATE tasks SET
    status = 'claimed',
    attempt = attempt + 1,
    lease_owner = %(owner)s,
    deadline = CASE WHEN timeout IS NULL THEN NULL ELSE %(now)s + timeout END,
    lease_expires_at = LEAST(%(now)s + COALESCE(heartbeat_timeout, %(lease)s),
                             %(now)s + COALESCE(timeout, 1e18)),
    updated_at = %(now)s
WHERE (execution_id, task_id) IN (
    SELECT execution_id, task_id FROM tasks
    WHERE status = 'scheduled' AND external = %(external)s
      AND queue = ANY(%(queues)s::text[]) AND available_at <= %(now)s
      AND (%(actions)s::text[] IS NULL OR action = ANY(%(actions)s::text[])
           OR execution_id = ANY(%(own)s::text[]))
    ORDER BY priority DESC, available_at
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
-- The execution's stored payload bytes come along: the result is checked
-- against the per-execution ceiling without another read.
RETURNING *, (SELECT payload_bytes FROM executions AS e WHERE e.id = tasks.execution_id)
    AS execution_payload_bytes;

-- name: heartbeat_tasks
UPDATE tasks AS t SET
    lease_expires_at = LEAST(%(now)s + COALESCE(t.heartbeat_timeout, %(lease)s),
                             COALESCE(t.deadline, 1e18)),
    updated_at = %(now)s
FROM unnest(%(execution_ids)s::text[], %(task_ids)s::text[]) AS k(execution_id, task_id)
WHERE t.execution_id = k.execution_id AND t.task_id = k.task_id
  AND t.status = 'claimed' AND t.lease_owner = %(owner)s
RETURNING t.execution_id, t.task_id;

-- name: finish_task_done
DELETE FROM tasks
WHERE execution_id = %(execution_id)s AND task_id = %(task_id)s AND attempt = %(attempt)s
  AND ((%(owner)s::text IS NULL AND status = 'suspended')
       OR (status = 'claimed' AND lease_owner = %(owner)s::text));

-- name: finish_tasks_done
-- finish_task_done for many attempts of one owner (a round's finishes), given
-- as a JSON array of {execution_id, task_id, attempt}.
DELETE FROM tasks AS t
USING json_to_recordset(%(finishes)s::json) AS f(execution_id TEXT, task_id TEXT, attempt INTEGER)
WHERE t.execution_id = f.execution_id AND t.task_id = f.task_id AND t.attempt = f.attempt
  AND t.status = 'claimed' AND t.lease_owner = %(owner)s::text
RETURNING 1;

-- name: finish_task_retry
UPDATE tasks SET status = 'scheduled', lease_owner = NULL, lease_expires_at = NULL,
    deadline = NULL, available_at = %(available_at)s, updated_at = %(now)s
WHERE execution_id = %(execution_id)s AND task_id = %(task_id)s AND attempt = %(attempt)s
  AND ((%(owner)s::text IS NULL AND status = 'suspended')
       OR (status = 'claimed' AND lease_owner = %(owner)s::text));

-- name: finish_task_suspend
UPDATE tasks SET status = 'suspended', lease_owner = NULL, lease_expires_at = NULL,
    deadline = NULL, updated_at = %(now)s
WHERE execution_id = %(execution_id)s AND task_id = %(task_id)s AND attempt = %(attempt)s
  AND ((%(owner)s::text IS NULL AND status = 'suspended')
       OR (status = 'claimed' AND lease_owner = %(owner)s::text));

-- name: expired_tasks
SELECT * FROM tasks
WHERE status = 'claimed' AND lease_expires_at <= %s
ORDER BY lease_expires_at
LIMIT %s;

-- name: held_task
SELECT * FROM tasks
WHERE execution_id = %(execution_id)s AND task_id = %(task_id)s AND attempt = %(attempt)s
  AND status = 'claimed' AND lease_owner = %(owner)s;

-- name: waiting_tasks
SELECT * FROM tasks
WHERE execution_id = %(id)s AND status = 'suspended'
  AND (%(name)s::text IS NULL OR name = %(name)s::text)
ORDER BY created_at, task_id;

-- name: any_due_task
SELECT 1 FROM tasks
WHERE status = 'scheduled' AND external = %(external)s
  AND queue = ANY(%(queues)s::text[]) AND available_at <= %(now)s
  AND (%(actions)s::text[] IS NULL OR action = ANY(%(actions)s::text[])
       OR execution_id = ANY(%(own)s::text[]))
LIMIT 1;

-- name: break_leases
UPDATE tasks SET lease_expires_at = %(now)s
WHERE status = 'claimed' AND lease_owner = ANY(%(owners)s::text[])
  AND lease_expires_at > %(now)s;

-- name: lease_owners
SELECT DISTINCT lease_owner FROM tasks WHERE status = 'claimed';

-- name: cancel_task
DELETE FROM tasks WHERE execution_id = %s AND task_id = %s;

-- name: any_due_timer
SELECT 1 FROM timers WHERE fire_at <= %s LIMIT 1;

-- name: take_due_timers
-- Timers locked by another process's transaction are left to it.
DELETE FROM timers
WHERE (execution_id, timer_id) IN (
    SELECT execution_id, timer_id FROM timers
    WHERE fire_at <= %s
    ORDER BY fire_at
    LIMIT %s
    FOR UPDATE SKIP LOCKED
)
RETURNING execution_id, timer_id, fire_at;

-- name: next_wakeup
-- External work waits for outside pollers: nothing here wakes for it.
SELECT MIN(t) AS due FROM (
    SELECT MIN(available_at) AS t FROM tasks WHERE status = 'scheduled' AND NOT external
      AND (%(actions)s::text[] IS NULL OR action = ANY(%(actions)s::text[])
           OR execution_id = ANY(%(own)s::text[]))
    UNION ALL SELECT MIN(lease_expires_at) FROM tasks WHERE status = 'claimed'
    UNION ALL SELECT MIN(fire_at) FROM timers
    UNION ALL SELECT MIN(pending_since) FROM executions
    WHERE pending_since IS NOT NULL
      AND (%(kinds)s::text[] IS NULL OR kind = ANY(%(kinds)s::text[]))
      AND (%(only)s::text[] IS NULL OR id = ANY(%(only)s::text[]))
) AS due_times;

-- name: lock_migrations
-- Serialises migrating processes; released at commit or rollback.
SELECT pg_advisory_xact_lock(%s);

-- name: create_meta
CREATE TABLE IF NOT EXISTS cadenza_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

-- name: schema_version
SELECT value FROM cadenza_meta WHERE key = 'schema_version';

-- name: set_schema_version
INSERT INTO cadenza_meta (key, value) VALUES ('schema_version', %s)
ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;

-- name: parents_of
SELECT id, parent_id, parent_task_id FROM executions
WHERE id = ANY(%(ids)s::text[]) AND parent_id IS NOT NULL;

-- name: children_of
SELECT id, parent_id, parent_task_id, status, child_policy FROM executions
WHERE parent_id = ANY(%(ids)s::text[]);

-- name: set_workflow_id
-- The unique partial index refuses an id another open run holds.
UPDATE executions SET workflow_id = %(workflow_id)s WHERE id = %(id)s;

-- name: set_child_policy
UPDATE executions SET child_policy = %(policy)s WHERE id = %(id)s;

-- name: open_workflow_run
-- The final statuses are written out so that the partial index serves it.
SELECT id, definition_id, kind, name, status, created_at, updated_at, output, errors, next_seq,
       parent_id, parent_task_id
FROM executions
WHERE workflow_id = %(workflow_id)s
  AND status NOT IN ('succeeded', 'failed', 'canceled', 'timeout', 'abandoned')
LIMIT 1;

-- name: deletable_executions
-- The final ones among the ids, locked (retention never deletes a live execution).
SELECT id FROM executions
WHERE id = ANY(%(ids)s::text[]) AND status = ANY(%(final)s::text[])
ORDER BY id FOR UPDATE;

-- name: delete_history
DELETE FROM history WHERE execution_id = ANY(%(ids)s::text[]);

-- name: delete_inbox
DELETE FROM inbox WHERE execution_id = ANY(%(ids)s::text[]);

-- name: delete_tasks
DELETE FROM tasks WHERE execution_id = ANY(%(ids)s::text[]);

-- name: delete_timers
DELETE FROM timers WHERE execution_id = ANY(%(ids)s::text[]);

-- name: delete_execution_rows
DELETE FROM executions WHERE id = ANY(%(ids)s::text[]);
