-- Saving decided executions (the statement save_executions calls it): each
-- row guarded by the decision number its decision started from (a row that
-- moved is not saved, and the round refuses it); the stored bytes grow by
-- what the decision's history rows hold, their text (added_bytes) and the
-- blobs they refer to (one (id, digest) pair per reference, in the blob table
-- before this runs). Decisions and references come as JSON arrays of
-- objects: one text argument each costs the client far less to send than a
-- dozen arrays. Returns the ids saved.
CREATE OR REPLACE FUNCTION cadenza_save_executions(
    p_now DOUBLE PRECISION, p_decisions JSON, p_refs JSON
) RETURNS SETOF TEXT AS $$
BEGIN
    RETURN QUERY
    UPDATE executions AS e SET
        status = v.status,
        decision_no = v.decision_no,
        next_seq = v.next_seq,
        snapshot = CASE WHEN v.save_snapshot THEN v.snapshot ELSE e.snapshot END,
        snapshot_seq = CASE WHEN v.save_snapshot THEN v.next_seq - 1 ELSE e.snapshot_seq END,
        output = CASE WHEN v.completed THEN v.output ELSE e.output END,
        errors = CASE WHEN v.completed THEN v.errors ELSE e.errors END,
        updated_at = p_now,
        pending_since = (SELECT MIN(i.time) FROM inbox AS i WHERE i.execution_id = e.id),
        payload_bytes = e.payload_bytes + v.added_bytes + CASE
            WHEN p_refs IS NULL THEN 0
            ELSE COALESCE((SELECT SUM(b.size)
                           FROM json_to_recordset(p_refs) AS r(id TEXT, digest TEXT)
                           JOIN blobs AS b ON b.digest = r.digest
                           WHERE r.id = e.id), 0) END,
        workflow_id = CASE
            WHEN e.workflow_id IS NULL THEN NULL
            WHEN EXISTS (SELECT 1 FROM executions AS o
                         WHERE o.workflow_id = e.workflow_id AND o.id <> e.id
                           AND o.status NOT IN ('succeeded', 'failed', 'canceled', 'timeout',
                                                'abandoned')) THEN NULL
            ELSE e.workflow_id END
    FROM json_to_recordset(p_decisions) AS v(
        id TEXT, expected INTEGER, decision_no INTEGER, status TEXT, next_seq INTEGER,
        snapshot TEXT, completed BOOLEAN, output TEXT, errors TEXT, save_snapshot BOOLEAN,
        added_bytes BIGINT)
    WHERE e.id = v.id AND e.decision_no = v.expected
    RETURNING e.id;
END
$$ LANGUAGE plpgsql;

-- History rows, new tasks and new tasks leased as inserted, from JSON arrays
-- of objects keyed by column (one argument each, for any number of rows: a
-- client sends that far more cheaply than a statement per row).
CREATE OR REPLACE FUNCTION cadenza_insert_history(p_rows JSON) RETURNS VOID AS $$
BEGIN
    INSERT INTO history (execution_id, seq, decision, time, type, payload)
    SELECT h.execution_id, h.seq, h.decision, h.time, h.type, h.payload
    FROM json_to_recordset(p_rows) AS h(
        execution_id TEXT, seq INTEGER, decision INTEGER, time DOUBLE PRECISION, type TEXT,
        payload TEXT);
END
$$ LANGUAGE plpgsql;

-- Returns how many tasks it inserted.
CREATE OR REPLACE FUNCTION cadenza_insert_tasks(p_rows JSON) RETURNS INTEGER AS $$
DECLARE
    inserted INTEGER;
BEGIN
    INSERT INTO tasks (execution_id, task_id, name, action, input, queue, status, attempt,
                       available_at, retry, timeout, heartbeat_timeout, meta, created_at,
                       updated_at, external, priority)
    SELECT t.execution_id, t.task_id, t.name, t.action, t.input, t.queue, t.status, t.attempt,
           t.available_at, t.retry, t.timeout, t.heartbeat_timeout, t.meta, t.created_at,
           t.updated_at, t.external, t.priority
    FROM json_to_recordset(p_rows) AS t(
        execution_id TEXT, task_id TEXT, name TEXT, action TEXT, input TEXT, queue TEXT,
        status TEXT, attempt INTEGER, available_at DOUBLE PRECISION, retry TEXT,
        timeout DOUBLE PRECISION, heartbeat_timeout DOUBLE PRECISION, meta TEXT,
        created_at DOUBLE PRECISION, updated_at DOUBLE PRECISION, external BOOLEAN,
        priority INTEGER);
    GET DIAGNOSTICS inserted = ROW_COUNT;
    RETURN inserted;
END
$$ LANGUAGE plpgsql;

-- Returns each task as claim_tasks returns it (with its execution's stored bytes).
CREATE OR REPLACE FUNCTION cadenza_insert_leased_tasks(p_rows JSON) RETURNS SETOF JSON AS $$
BEGIN
    RETURN QUERY
    WITH leased AS (
        INSERT INTO tasks (execution_id, task_id, name, action, input, queue, status, attempt,
                           available_at, retry, timeout, heartbeat_timeout, meta, created_at,
                           updated_at, external, priority, lease_owner, lease_expires_at,
                           deadline)
        SELECT l.execution_id, l.task_id, l.name, l.action, l.input, l.queue, l.status,
               l.attempt, l.available_at, l.retry, l.timeout, l.heartbeat_timeout, l.meta,
               l.created_at, l.updated_at, l.external, l.priority, l.lease_owner,
               l.lease_expires_at, l.deadline
        FROM json_to_recordset(p_rows) AS l(
            execution_id TEXT, task_id TEXT, name TEXT, action TEXT, input TEXT, queue TEXT,
            status TEXT, attempt INTEGER, available_at DOUBLE PRECISION, retry TEXT,
            timeout DOUBLE PRECISION, heartbeat_timeout DOUBLE PRECISION, meta TEXT,
            created_at DOUBLE PRECISION, updated_at DOUBLE PRECISION, external BOOLEAN,
            priority INTEGER, lease_owner TEXT, lease_expires_at DOUBLE PRECISION,
            deadline DOUBLE PRECISION)
        RETURNING *
    )
    SELECT (to_jsonb(leased) || jsonb_build_object('execution_payload_bytes', e.payload_bytes))::json
    FROM leased JOIN executions AS e ON e.id = leased.execution_id;
END
$$ LANGUAGE plpgsql;

-- The write of a round that read nothing (cadenza.store.quiet_rounds), in one
-- call: its finished attempts ended, its execution rows locked and saved, its
-- history and new tasks inserted, and its leased tasks returned as a claim
-- returns them. The same statements as the round's pipelined write, run here
-- so that the client sends one statement with a few JSON arguments instead of
-- seven, which costs it less than a third as much. Each statement sees what
-- the ones before it wrote and what other transactions committed meanwhile:
-- the rows are locked before they are saved, so an inbox row committed while
-- the save waited is seen (the pending_since of each row comes from it).
-- A broken assumption (an attempt no longer held, a row that moved) fails the
-- call with cadenza_round_expect's error, and the caller's transaction with
-- it; the caller then writes the careful way.
CREATE OR REPLACE FUNCTION cadenza_quiet_round(
    p_now DOUBLE PRECISION,
    p_owner TEXT,
    p_finishes JSON,
    p_decisions JSON,
    p_refs JSON,
    p_history JSON,
    p_tasks JSON,
    p_leased JSON
) RETURNS SETOF JSON AS $$
DECLARE
    touched INTEGER;
BEGIN
    DELETE FROM tasks AS t
    USING json_to_recordset(p_finishes) AS f(execution_id TEXT, task_id TEXT, attempt INTEGER)
    WHERE t.execution_id = f.execution_id AND t.task_id = f.task_id AND t.attempt = f.attempt
      AND t.status = 'claimed' AND t.lease_owner = p_owner;
    GET DIAGNOSTICS touched = ROW_COUNT;
    PERFORM cadenza_round_expect(touched = json_array_length(p_finishes));

    PERFORM 1 FROM executions
    WHERE id IN (SELECT v.id FROM json_to_recordset(p_decisions) AS v(id TEXT))
    ORDER BY id
    FOR NO KEY UPDATE;

    SELECT COUNT(*) INTO touched FROM cadenza_save_executions(p_now, p_decisions, p_refs);
    PERFORM cadenza_round_expect(touched = json_array_length(p_decisions));

    PERFORM cadenza_insert_history(p_history);
    IF cadenza_insert_tasks(p_tasks) > 0 THEN
        -- Tasks others may claim: tell them (delivered at commit, as NOTIFY is).
        PERFORM pg_notify('cadenza_work', '');
    END IF;
    RETURN QUERY SELECT cadenza_insert_leased_tasks(p_leased);
END
$$ LANGUAGE plpgsql;
