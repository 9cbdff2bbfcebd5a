-- The SQLite backend's statements, one per "-- name:" block, looked up by
-- name from Python. Full-line comments are dropped when loading.
-- Placeholders are sqlite3's named ones (:name). A list parameter is written
-- "(SELECT value FROM json_each(:name))", which runs as is in sqlite3; the
-- store spreads it into an IN list of named placeholders before running it.

-- name: save_definition
INSERT OR IGNORE INTO definitions (id, kind, name, source, created_at, version)
VALUES (:id, :kind, :name, :source, :created_at, :version);

-- name: load_definitions
SELECT id, kind, name, source, created_at, version FROM definitions
WHERE id IN (SELECT value FROM json_each(:ids));

-- name: list_definitions
SELECT id, kind, name, source, created_at, version FROM definitions
WHERE (:name IS NULL OR name = :name) AND (:kind IS NULL OR kind = :kind)
ORDER BY created_at DESC, id DESC
LIMIT :limit;

-- name: insert_execution
INSERT INTO executions (id, definition_id, kind, name, status, created_at, updated_at,
                        pending_since, parent_id, parent_task_id)
VALUES (:id, :definition_id, :kind, :name, 'requested', :now, :now, :now,
        :parent_id, :parent_task_id);

-- name: load_execution
SELECT id, definition_id, kind, name, status, created_at, updated_at, output, errors, next_seq,
       parent_id, parent_task_id
FROM executions WHERE id = :id;

-- name: list_executions
SELECT id, definition_id, kind, name, status, created_at, updated_at, output, errors, next_seq,
       parent_id, parent_task_id
FROM executions
WHERE (:statuses IS NULL OR status IN (SELECT value FROM json_each(:statuses)))
  AND status NOT IN (SELECT value FROM json_each(:excluding))
  AND (:kinds IS NULL OR kind IN (SELECT value FROM json_each(:kinds)))
  AND (:definition_id IS NULL OR definition_id = :definition_id)
  AND (:parent_id IS NULL OR parent_id = :parent_id)
  AND (:since IS NULL OR created_at >= :since)
  AND (:until IS NULL OR created_at < :until)
  AND (:updated_before IS NULL OR updated_at < :updated_before)
  -- Every tag asked for is among the execution's (tags are kept without repeats).
  AND (:tags IS NULL OR :tag_count = (
        SELECT COUNT(*) FROM json_each(executions.tags) AS t
        WHERE t.value IN (SELECT value FROM json_each(:tags))))
  -- A LIKE pattern (see store/queries.py like_pattern); LIKE ignores ASCII case.
  AND (:text IS NULL OR id LIKE :text ESCAPE '\' OR name LIKE :text ESCAPE '\')
  -- The page after the row (before_time, before_id), newest first.
  AND (:before_time IS NULL OR created_at < :before_time
       OR (created_at = :before_time AND id < :before_id))
ORDER BY created_at DESC, id DESC
LIMIT :limit;

-- name: count_executions
-- The filters of list_executions (but paging), counted by status.
SELECT status, COUNT(*) AS n FROM executions
WHERE (:statuses IS NULL OR status IN (SELECT value FROM json_each(:statuses)))
  AND status NOT IN (SELECT value FROM json_each(:excluding))
  AND (:kinds IS NULL OR kind IN (SELECT value FROM json_each(:kinds)))
  AND (:definition_id IS NULL OR definition_id = :definition_id)
  AND (:since IS NULL OR created_at >= :since)
  AND (:until IS NULL OR created_at < :until)
  AND (:updated_before IS NULL OR updated_at < :updated_before)
  -- Every tag asked for is among the execution's (tags are kept without repeats).
  AND (:tags IS NULL OR :tag_count = (
        SELECT COUNT(*) FROM json_each(executions.tags) AS t
        WHERE t.value IN (SELECT value FROM json_each(:tags))))
  -- A LIKE pattern (see store/queries.py like_pattern); LIKE ignores ASCII case.
  AND (:text IS NULL OR id LIKE :text ESCAPE '\' OR name LIKE :text ESCAPE '\')
GROUP BY status;

-- name: execution_tags
SELECT id, tags FROM executions WHERE id IN (SELECT value FROM json_each(:ids));

-- name: lost_leases
-- Attempts that ended by losing their lease, counted per task of each live
-- execution (the history of live executions only, through its primary key).
SELECT h.execution_id, json_extract(h.payload, '$.task_id') AS task_id,
       COUNT(*) AS lost, MAX(h.time) AS last_time, MAX(t.name) AS name, MAX(t.queue) AS queue
FROM executions AS e
JOIN history AS h ON h.execution_id = e.id
LEFT JOIN tasks AS t
  ON t.execution_id = h.execution_id AND t.task_id = json_extract(h.payload, '$.task_id')
WHERE e.status NOT IN (SELECT value FROM json_each(:final))
  AND h.type IN ('TaskAttemptFailed', 'TaskCompleted')
  AND json_extract(h.payload, '$.error.type') IN (SELECT value FROM json_each(:error_types))
GROUP BY h.execution_id, json_extract(h.payload, '$.task_id')
HAVING COUNT(*) >= :at_least
ORDER BY last_time DESC
LIMIT :limit;

-- name: set_execution_tags
UPDATE executions SET tags = :tags WHERE id = :id;

-- name: execution_counts
SELECT kind, status, COUNT(*) AS n FROM executions GROUP BY kind, status;

-- name: task_counts
SELECT queue, status, COUNT(*) AS n FROM tasks GROUP BY queue, status;

-- name: execution_exists
SELECT 1 FROM executions WHERE id = :id;

-- name: read_history
-- A limit of -1 is none.
SELECT seq, decision, time, type, payload FROM history
WHERE execution_id = :id AND seq > :after
ORDER BY seq
LIMIT :limit;

-- name: forget_snapshots
UPDATE executions SET snapshot = NULL, snapshot_seq = 0
WHERE :ids IS NULL OR id IN (SELECT value FROM json_each(:ids));

-- name: insert_inbox
INSERT INTO inbox (execution_id, time, type, payload) VALUES (:id, :now, :type, :payload);

-- name: mark_pending
UPDATE executions SET pending_since = COALESCE(pending_since, :now) WHERE id = :id;

-- name: any_pending
SELECT 1 FROM executions WHERE pending_since IS NOT NULL LIMIT 1;

-- name: pending_executions
-- Executions with inbox events (in the order of the pending index), and those
-- whose attempts finish in this round (by primary key): first the :oldest that
-- waited longest, then those finishing (``RoundRequest.kept_for_oldest``),
-- then the others waiting, oldest first. has_inbox says whether the execution
-- has inbox rows to read; parent_id, parent_task_id and has_children are its
-- links (``Family``). An execution both waiting and finishing appears in both
-- parts, alike but for the rank; the better rank counts.
SELECT id, definition_id, kind, status, decision_no, next_seq, snapshot_seq, has_inbox,
       parent_id, parent_task_id,
       EXISTS (SELECT 1 FROM executions AS c WHERE c.parent_id = chosen.id) AS has_children
FROM (
    SELECT id, definition_id, kind, status, decision_no, next_seq, snapshot_seq,
           parent_id, parent_task_id, waiting, has_inbox, MIN(rank) AS rank
    FROM (
        SELECT * FROM (
            SELECT id, definition_id, kind, status, decision_no, next_seq, snapshot_seq,
                   parent_id, parent_task_id, pending_since AS waiting, 1 AS has_inbox,
                   CASE WHEN ROW_NUMBER() OVER (ORDER BY pending_since) <= :oldest
                        THEN 0 ELSE 2 END AS rank
            FROM executions
            WHERE pending_since IS NOT NULL
              AND (:kinds IS NULL OR kind IN (SELECT value FROM json_each(:kinds)))
              AND (:only IS NULL OR id IN (SELECT value FROM json_each(:only)))
            ORDER BY pending_since
            LIMIT :limit
        )
        UNION ALL
        SELECT id, definition_id, kind, status, decision_no, next_seq, snapshot_seq,
               parent_id, parent_task_id,
               COALESCE(pending_since, :now), pending_since IS NOT NULL, 1
        FROM executions
        WHERE id IN (SELECT value FROM json_each(:finished))
          AND (:kinds IS NULL OR kind IN (SELECT value FROM json_each(:kinds)))
    )
    GROUP BY id
) AS chosen
ORDER BY rank, waiting, id
LIMIT :limit;

-- name: finished_executions
-- The executions whose attempts finish in this round, by primary key, and
-- whether any other execution waits with inbox events (under the same
-- filters as pending_executions): when none does, these are all there is to
-- decide, and the round needs no other read to choose its executions.
SELECT id, definition_id, kind, status, decision_no, next_seq, snapshot_seq, pending_since,
       parent_id, parent_task_id,
       EXISTS (SELECT 1 FROM executions AS c WHERE c.parent_id = executions.id) AS has_children,
       EXISTS (
           SELECT 1 FROM executions AS o
           WHERE o.pending_since IS NOT NULL
             AND o.id NOT IN (SELECT value FROM json_each(:finished))
             AND (:kinds IS NULL OR o.kind IN (SELECT value FROM json_each(:kinds)))
             AND (:only IS NULL OR o.id IN (SELECT value FROM json_each(:only)))
       ) AS others_waiting
FROM executions
WHERE id IN (SELECT value FROM json_each(:finished))
  AND (:kinds IS NULL OR kind IN (SELECT value FROM json_each(:kinds)));

-- name: load_inboxes
SELECT id, execution_id, time, type, payload FROM inbox
WHERE execution_id IN (SELECT value FROM json_each(:ids))
ORDER BY id;

-- name: load_snapshots
SELECT id, snapshot FROM executions WHERE id IN (SELECT value FROM json_each(:ids));

-- name: read_histories
-- The history after each execution's snapshot (its snapshot_seq).
SELECT h.execution_id, h.seq, h.decision, h.time, h.type, h.payload
FROM history AS h JOIN executions AS e ON e.id = h.execution_id
WHERE h.execution_id IN (SELECT value FROM json_each(:ids)) AND h.seq > e.snapshot_seq
ORDER BY h.execution_id, h.seq;

-- name: decision_numbers
SELECT id, decision_no FROM executions WHERE id IN (SELECT value FROM json_each(:ids));

-- name: consume_inbox
DELETE FROM inbox WHERE id IN (SELECT value FROM json_each(:ids)) RETURNING id;

-- name: insert_history
INSERT INTO history (execution_id, seq, decision, time, type, payload)
VALUES (?, ?, ?, ?, ?, ?);

-- name: insert_task
INSERT INTO tasks (execution_id, task_id, name, action, input, queue, status, attempt,
                   available_at, retry, timeout, heartbeat_timeout, meta, created_at,
                   updated_at, external, priority)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: insert_leased_task
-- A new task whose first attempt the round that schedules it also claims (a
-- loop that runs its own executions' next steps): inserted claimed, which
-- saves the claim's UPDATE; the round makes the records a claim would return
-- from the values it inserted (``payload_bytes`` reads what else they need).
INSERT INTO tasks (execution_id, task_id, name, action, input, queue, status, attempt,
                   available_at, retry, timeout, heartbeat_timeout, meta, created_at,
                   updated_at, external, priority, lease_owner, lease_expires_at, deadline)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: payload_bytes
-- Each execution's stored payload bytes (a claim returns them with its tasks).
SELECT id, payload_bytes FROM executions WHERE id IN (SELECT value FROM json_each(:ids));

-- name: cancel_task
DELETE FROM tasks WHERE execution_id = ? AND task_id = ?;

-- name: upsert_timer
INSERT OR REPLACE INTO timers (execution_id, timer_id, fire_at) VALUES (?, ?, ?);

-- name: save_execution
-- Guarded by the decision number the decision started from, as PostgreSQL's.
UPDATE executions SET
    status = :status,
    decision_no = :decision_no,
    next_seq = :next_seq,
    snapshot = CASE WHEN :save_snapshot THEN :snapshot ELSE snapshot END,
    snapshot_seq = CASE WHEN :save_snapshot THEN :next_seq - 1 ELSE snapshot_seq END,
    output = CASE WHEN :completed THEN :output ELSE output END,
    errors = CASE WHEN :completed THEN :errors ELSE errors END,
    updated_at = :now,
    pending_since = (SELECT MIN(time) FROM inbox WHERE execution_id = :id),
    -- What the decision's history rows hold: their text, and the blobs they
    -- refer to (a JSON list of digests, one per reference; inserted before).
    payload_bytes = payload_bytes + :added_bytes + CASE WHEN :blob_refs IS NULL THEN 0
        ELSE COALESCE((SELECT SUM(b.size) FROM json_each(:blob_refs) AS r
                       JOIN blobs AS b ON b.digest = r.value), 0) END,
    -- A run reopened (rerun) after another run took its workflow id gives it up.
    workflow_id = CASE
        WHEN workflow_id IS NULL THEN NULL
        WHEN EXISTS (SELECT 1 FROM executions AS o
                     WHERE o.workflow_id = executions.workflow_id AND o.id <> :id
                       AND o.status NOT IN ('succeeded', 'failed', 'canceled', 'timeout',
                                            'abandoned')) THEN NULL
        ELSE workflow_id END
WHERE id = :id AND decision_no = :expected;

-- name: save_execution_step
-- save_execution for a decision that saves no snapshot and does not complete
-- (most steps of a run): it leaves snapshot, output and errors out of its SET,
-- so the triggers that count their blob references do not run.
UPDATE executions SET
    status = :status,
    decision_no = :decision_no,
    next_seq = :next_seq,
    updated_at = :now,
    pending_since = (SELECT MIN(time) FROM inbox WHERE execution_id = :id),
    payload_bytes = payload_bytes + :added_bytes + CASE WHEN :blob_refs IS NULL THEN 0
        ELSE COALESCE((SELECT SUM(b.size) FROM json_each(:blob_refs) AS r
                       JOIN blobs AS b ON b.digest = r.value), 0) END,
    workflow_id = CASE
        WHEN workflow_id IS NULL THEN NULL
        WHEN EXISTS (SELECT 1 FROM executions AS o
                     WHERE o.workflow_id = executions.workflow_id AND o.id <> :id
                       AND o.status NOT IN ('succeeded', 'failed', 'canceled', 'timeout',
                                            'abandoned')) THEN NULL
        ELSE workflow_id END
WHERE id = :id AND decision_no = :expected;

-- name: any_due_task
SELECT 1 FROM tasks
WHERE status = 'scheduled' AND external = :external
  AND queue IN (SELECT value FROM json_each(:queues)) AND available_at <= :now
  AND (:actions IS NULL OR action IN (SELECT value FROM json_each(:actions))
       OR execution_id IN (SELECT value FROM json_each(:own)))
LIMIT 1;

-- name: claim_tasks
UPDATE tasks SET
    status = 'claimed',
    attempt = attempt + 1,
    lease_owner = :owner,
    deadline = CASE WHEN timeout IS NULL THEN NULL ELSE :now + timeout END,
    lease_expires_at = MIN(:now + COALESCE(heartbeat_timeout, :lease),
                           :now + COALESCE(timeout, 1e18)),
    updated_at = :now
WHERE rowid IN (
    SELECT rowid FROM tasks
    WHERE status = 'scheduled' AND external = :external
      AND queue IN (SELECT value FROM json_each(:queues)) AND available_at <= :now
      AND (:actions IS NULL OR action IN (SELECT value FROM json_each(:actions))
           OR execution_id IN (SELECT value FROM json_each(:own)))
    -- Higher priority first, then the longest due (the tasks_due index's order).
    ORDER BY priority DESC, available_at
    LIMIT :limit
)
-- The execution's stored payload bytes come along: the result is checked
-- against the per-execution ceiling without another read.
RETURNING *, (SELECT payload_bytes FROM executions AS e WHERE e.id = tasks.execution_id)
    AS execution_payload_bytes;

-- name: heartbeat_task
UPDATE tasks SET
    lease_expires_at = MIN(:now + COALESCE(heartbeat_timeout, :lease), COALESCE(deadline, 1e18)),
    updated_at = :now
WHERE execution_id = :execution_id AND task_id = :task_id AND status = 'claimed'
  AND lease_owner = :owner;

-- name: finish_task_done
DELETE FROM tasks
WHERE execution_id = :execution_id AND task_id = :task_id AND attempt = :attempt
  AND ((:owner IS NULL AND status = 'suspended')
       OR (status = 'claimed' AND lease_owner = :owner));

-- name: finish_task_retry
UPDATE tasks SET status = 'scheduled', lease_owner = NULL, lease_expires_at = NULL,
    deadline = NULL, available_at = :available_at, updated_at = :now
WHERE execution_id = :execution_id AND task_id = :task_id AND attempt = :attempt
  AND ((:owner IS NULL AND status = 'suspended')
       OR (status = 'claimed' AND lease_owner = :owner));

-- name: finish_task_suspend
UPDATE tasks SET status = 'suspended', lease_owner = NULL, lease_expires_at = NULL,
    deadline = NULL, updated_at = :now
WHERE execution_id = :execution_id AND task_id = :task_id AND attempt = :attempt
  AND ((:owner IS NULL AND status = 'suspended')
       OR (status = 'claimed' AND lease_owner = :owner));

-- name: expired_tasks
SELECT * FROM tasks
WHERE status = 'claimed' AND lease_expires_at <= :now
ORDER BY lease_expires_at
LIMIT :limit;

-- name: held_task
SELECT * FROM tasks
WHERE execution_id = :execution_id AND task_id = :task_id AND attempt = :attempt
  AND status = 'claimed' AND lease_owner = :owner;

-- name: waiting_tasks
SELECT * FROM tasks
WHERE execution_id = :id AND status = 'suspended' AND (:name IS NULL OR name = :name)
ORDER BY created_at, task_id;

-- name: break_leases
UPDATE tasks SET lease_expires_at = :now
WHERE status = 'claimed' AND lease_owner IN (SELECT value FROM json_each(:owners))
  AND lease_expires_at > :now;

-- name: lease_owners
SELECT DISTINCT lease_owner FROM tasks WHERE status = 'claimed';

-- name: any_due_timer
SELECT 1 FROM timers WHERE fire_at <= :now LIMIT 1;

-- name: take_due_timers
DELETE FROM timers
WHERE rowid IN (SELECT rowid FROM timers WHERE fire_at <= :now ORDER BY fire_at LIMIT :limit)
RETURNING execution_id, timer_id, fire_at;

-- name: next_wakeup
-- External work waits for outside pollers: nothing here wakes for it.
SELECT MIN(t) AS due FROM (
    SELECT MIN(available_at) AS t FROM tasks WHERE status = 'scheduled' AND NOT external
      AND (:actions IS NULL OR action IN (SELECT value FROM json_each(:actions))
           OR execution_id IN (SELECT value FROM json_each(:own)))
    UNION ALL SELECT MIN(lease_expires_at) FROM tasks WHERE status = 'claimed'
    UNION ALL SELECT MIN(fire_at) FROM timers
    UNION ALL SELECT MIN(pending_since) FROM executions
    WHERE pending_since IS NOT NULL
      AND (:kinds IS NULL OR kind IN (SELECT value FROM json_each(:kinds)))
      AND (:only IS NULL OR id IN (SELECT value FROM json_each(:only)))
);

-- name: create_meta
CREATE TABLE IF NOT EXISTS cadenza_meta (key TEXT PRIMARY KEY, value TEXT);

-- name: schema_version
SELECT value FROM cadenza_meta WHERE key = 'schema_version';

-- name: set_schema_version
INSERT OR REPLACE INTO cadenza_meta (key, value) VALUES ('schema_version', :version);

-- name: parents_of
SELECT id, parent_id, parent_task_id FROM executions
WHERE id IN (SELECT value FROM json_each(:ids)) AND parent_id IS NOT NULL;

-- name: children_of
SELECT id, parent_id, parent_task_id, status, child_policy FROM executions
WHERE parent_id IN (SELECT value FROM json_each(:ids));

-- name: set_workflow_id
-- The unique partial index refuses an id another open run holds.
UPDATE executions SET workflow_id = :workflow_id WHERE id = :id;

-- name: set_child_policy
UPDATE executions SET child_policy = :policy WHERE id = :id;

-- name: open_workflow_run
-- The final statuses are written out so that the partial index serves it.
SELECT id, definition_id, kind, name, status, created_at, updated_at, output, errors, next_seq,
       parent_id, parent_task_id
FROM executions
WHERE workflow_id = :workflow_id
  AND status NOT IN ('succeeded', 'failed', 'canceled', 'timeout', 'abandoned')
LIMIT 1;

-- name: deletable_executions
-- The final ones among the ids (retention never deletes a live execution).
SELECT id FROM executions
WHERE id IN (SELECT value FROM json_each(:ids)) AND status IN (SELECT value FROM json_each(:final));

-- name: delete_history
DELETE FROM history WHERE execution_id IN (SELECT value FROM json_each(:ids));

-- name: delete_inbox
DELETE FROM inbox WHERE execution_id IN (SELECT value FROM json_each(:ids));

-- name: delete_tasks
DELETE FROM tasks WHERE execution_id IN (SELECT value FROM json_each(:ids));

-- name: delete_timers
DELETE FROM timers WHERE execution_id IN (SELECT value FROM json_each(:ids));

-- name: delete_execution_rows
DELETE FROM executions WHERE id IN (SELECT value FROM json_each(:ids));
