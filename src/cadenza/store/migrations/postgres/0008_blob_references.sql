-- Every blob counts the references to it that stored rows hold (a row whose
-- text starts with "@claim:" lists the digests of its parts, see
-- cadenza.store.claim_check). Triggers on the referencing tables keep the
-- count in the same transaction as the row written, rewritten or deleted;
-- a blob whose count is zero at commit is deleted (a deferred trigger: a
-- transaction may drop a reference, an inbox row consumed, before it writes
-- the history row that refers to the same blob).
--
-- A writer about to refer to a blob locks its row first (the codec's upsert
-- or SELECT ... FOR NO KEY UPDATE), so a transaction dropping the last
-- reference at the same time either commits first, and the writer writes the
-- blob again, or waits for the writer's commit and finds the count above zero.
ALTER TABLE blobs ADD COLUMN IF NOT EXISTS refs BIGINT NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION cadenza_blob_digests(stored TEXT) RETURNS SETOF TEXT AS $$
    SELECT part ->> 1
    FROM json_array_elements(
        CASE WHEN stored LIKE '@claim:%' THEN substr(stored, 8)::json -> 'b' ELSE '[]'::json END
    ) AS part
$$ LANGUAGE sql IMMUTABLE;

CREATE OR REPLACE FUNCTION cadenza_count_blob_references(gone TEXT[], added TEXT[])
RETURNS void AS $$
BEGIN
    UPDATE blobs AS b SET refs = b.refs + c.n
    FROM (
        SELECT digest, SUM(n) AS n FROM (
            SELECT cadenza_blob_digests(t) AS digest, 1 AS n FROM unnest(added) AS t
            UNION ALL
            SELECT cadenza_blob_digests(t), -1 FROM unnest(gone) AS t
        ) AS each_reference
        GROUP BY digest
        HAVING SUM(n) <> 0
    ) AS c
    WHERE b.digest = c.digest;
END
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION cadenza_payload_blob_references() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM cadenza_count_blob_references('{}', ARRAY[NEW.payload]);
    ELSE
        PERFORM cadenza_count_blob_references(ARRAY[OLD.payload], '{}');
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION cadenza_task_blob_references() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM cadenza_count_blob_references('{}', ARRAY[NEW.input, NEW.meta, NEW.retry]);
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM cadenza_count_blob_references(
            ARRAY[OLD.input, OLD.meta, OLD.retry], ARRAY[NEW.input, NEW.meta, NEW.retry]);
    ELSE
        PERFORM cadenza_count_blob_references(ARRAY[OLD.input, OLD.meta, OLD.retry], '{}');
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION cadenza_execution_blob_references() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM cadenza_count_blob_references(
            '{}', ARRAY[NEW.snapshot, NEW.output, NEW.errors]);
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM cadenza_count_blob_references(
            ARRAY[OLD.snapshot, OLD.output, OLD.errors],
            ARRAY[NEW.snapshot, NEW.output, NEW.errors]);
    ELSE
        PERFORM cadenza_count_blob_references(
            ARRAY[OLD.snapshot, OLD.output, OLD.errors], '{}');
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION cadenza_drop_unreferenced_blob() RETURNS trigger AS $$
BEGIN
    DELETE FROM blobs WHERE digest = NEW.digest AND refs <= 0;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

-- Only rows that hold references run a function: the WHEN conditions are
-- all most writes cost.
CREATE TRIGGER history_blobs_added AFTER INSERT ON history FOR EACH ROW
    WHEN (NEW.payload LIKE '@claim:%') EXECUTE FUNCTION cadenza_payload_blob_references();
CREATE TRIGGER history_blobs_dropped AFTER DELETE ON history FOR EACH ROW
    WHEN (OLD.payload LIKE '@claim:%') EXECUTE FUNCTION cadenza_payload_blob_references();
CREATE TRIGGER inbox_blobs_added AFTER INSERT ON inbox FOR EACH ROW
    WHEN (NEW.payload LIKE '@claim:%') EXECUTE FUNCTION cadenza_payload_blob_references();
CREATE TRIGGER inbox_blobs_dropped AFTER DELETE ON inbox FOR EACH ROW
    WHEN (OLD.payload LIKE '@claim:%') EXECUTE FUNCTION cadenza_payload_blob_references();

CREATE TRIGGER tasks_blobs_added AFTER INSERT ON tasks FOR EACH ROW
    WHEN (NEW.input LIKE '@claim:%' OR NEW.meta LIKE '@claim:%' OR NEW.retry LIKE '@claim:%')
    EXECUTE FUNCTION cadenza_task_blob_references();
CREATE TRIGGER tasks_blobs_changed AFTER UPDATE OF input, meta, retry ON tasks FOR EACH ROW
    WHEN ((OLD.input, OLD.meta, OLD.retry) IS DISTINCT FROM (NEW.input, NEW.meta, NEW.retry)
          AND (OLD.input LIKE '@claim:%' OR OLD.meta LIKE '@claim:%' OR OLD.retry LIKE '@claim:%'
               OR NEW.input LIKE '@claim:%' OR NEW.meta LIKE '@claim:%'
               OR NEW.retry LIKE '@claim:%'))
    EXECUTE FUNCTION cadenza_task_blob_references();
CREATE TRIGGER tasks_blobs_dropped AFTER DELETE ON tasks FOR EACH ROW
    WHEN (OLD.input LIKE '@claim:%' OR OLD.meta LIKE '@claim:%' OR OLD.retry LIKE '@claim:%')
    EXECUTE FUNCTION cadenza_task_blob_references();

CREATE TRIGGER executions_blobs_added AFTER INSERT ON executions FOR EACH ROW
    WHEN (NEW.snapshot LIKE '@claim:%' OR NEW.output LIKE '@claim:%'
          OR NEW.errors LIKE '@claim:%')
    EXECUTE FUNCTION cadenza_execution_blob_references();
CREATE TRIGGER executions_blobs_changed AFTER UPDATE OF snapshot, output, errors ON executions
    FOR EACH ROW
    WHEN ((OLD.snapshot, OLD.output, OLD.errors) IS DISTINCT FROM
          (NEW.snapshot, NEW.output, NEW.errors)
          AND (OLD.snapshot LIKE '@claim:%' OR OLD.output LIKE '@claim:%'
               OR OLD.errors LIKE '@claim:%' OR NEW.snapshot LIKE '@claim:%'
               OR NEW.output LIKE '@claim:%' OR NEW.errors LIKE '@claim:%'))
    EXECUTE FUNCTION cadenza_execution_blob_references();
CREATE TRIGGER executions_blobs_dropped AFTER DELETE ON executions FOR EACH ROW
    WHEN (OLD.snapshot LIKE '@claim:%' OR OLD.output LIKE '@claim:%'
          OR OLD.errors LIKE '@claim:%')
    EXECUTE FUNCTION cadenza_execution_blob_references();

CREATE CONSTRAINT TRIGGER blobs_unreferenced AFTER INSERT OR UPDATE OF refs ON blobs
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.refs <= 0) EXECUTE FUNCTION cadenza_drop_unreferenced_blob();

-- The counts of the rows stored before this migration; blobs nothing refers
-- to any more (replaced snapshots, deleted executions) go now.
UPDATE blobs AS b SET refs = c.n
FROM (
    SELECT cadenza_blob_digests(t) AS digest, COUNT(*) AS n FROM (
        SELECT payload AS t FROM history WHERE payload LIKE '@claim:%'
        UNION ALL SELECT payload FROM inbox WHERE payload LIKE '@claim:%'
        UNION ALL SELECT input FROM tasks WHERE input LIKE '@claim:%'
        UNION ALL SELECT meta FROM tasks WHERE meta LIKE '@claim:%'
        UNION ALL SELECT retry FROM tasks WHERE retry LIKE '@claim:%'
        UNION ALL SELECT snapshot FROM executions WHERE snapshot LIKE '@claim:%'
        UNION ALL SELECT output FROM executions WHERE output LIKE '@claim:%'
        UNION ALL SELECT errors FROM executions WHERE errors LIKE '@claim:%'
    ) AS stored
    GROUP BY 1
) AS c
WHERE b.digest = c.digest;
DELETE FROM blobs WHERE refs <= 0;

-- What each execution's history keeps, in bytes, added up as rows are
-- written: a row's text plus the blobs it refers to. The engine checks every
-- task result against the per-execution ceiling with it (a column read, not a
-- scan of the history).
ALTER TABLE executions ADD COLUMN IF NOT EXISTS payload_bytes BIGINT NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION cadenza_stored_value_bytes(stored TEXT) RETURNS BIGINT AS $$
    SELECT octet_length(stored)::bigint + CASE WHEN stored LIKE '@claim:%' THEN COALESCE(
        (SELECT SUM(b.size) FROM cadenza_blob_digests(stored) AS d(digest)
         JOIN blobs AS b ON b.digest = d.digest), 0)::bigint ELSE 0 END
$$ LANGUAGE sql STABLE;

CREATE OR REPLACE FUNCTION cadenza_count_history_bytes() RETURNS trigger AS $$
BEGIN
    UPDATE executions SET payload_bytes = payload_bytes + CASE
        WHEN NEW.payload LIKE '@claim:%' THEN cadenza_stored_value_bytes(NEW.payload)
        ELSE octet_length(NEW.payload) END
    WHERE id = NEW.execution_id;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

-- A row trigger: a statement trigger with its transition table costs more
-- for the one-row statements a pipelined round sends.
CREATE TRIGGER history_payload_bytes AFTER INSERT ON history
    FOR EACH ROW EXECUTE FUNCTION cadenza_count_history_bytes();

UPDATE executions AS e SET payload_bytes = h.n
FROM (
    SELECT execution_id, SUM(cadenza_stored_value_bytes(payload)) AS n
    FROM history GROUP BY execution_id
) AS h
WHERE e.id = h.execution_id;
