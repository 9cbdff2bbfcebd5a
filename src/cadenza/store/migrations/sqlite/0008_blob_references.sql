-- Every blob counts the references to it that stored rows hold (a row whose
-- text starts with "@claim:" lists the digests of its parts, see
-- cadenza.store.claim_check). Triggers on the referencing tables keep the
-- count in the same transaction as the row written, rewritten or deleted; the
-- store deletes the blobs whose count is zero just before each commit (not in
-- the triggers: a transaction may drop a reference, an inbox row consumed,
-- before it writes the history row that refers to the same blob).
ALTER TABLE blobs ADD COLUMN refs INTEGER NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS blobs_unreferenced ON blobs (digest) WHERE refs <= 0;

CREATE TRIGGER IF NOT EXISTS history_payload_blobs_added AFTER INSERT ON history
WHEN NEW.payload LIKE '@claim:%'
BEGIN
    UPDATE blobs SET refs = refs + (
        SELECT COUNT(*) FROM json_each(IIF(NEW.payload LIKE '@claim:%', substr(NEW.payload, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(NEW.payload LIKE '@claim:%', substr(NEW.payload, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS history_payload_blobs_dropped AFTER DELETE ON history
WHEN OLD.payload LIKE '@claim:%'
BEGIN
    UPDATE blobs SET refs = refs - (
        SELECT COUNT(*) FROM json_each(IIF(OLD.payload LIKE '@claim:%', substr(OLD.payload, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(OLD.payload LIKE '@claim:%', substr(OLD.payload, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS inbox_payload_blobs_added AFTER INSERT ON inbox
WHEN NEW.payload LIKE '@claim:%'
BEGIN
    UPDATE blobs SET refs = refs + (
        SELECT COUNT(*) FROM json_each(IIF(NEW.payload LIKE '@claim:%', substr(NEW.payload, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(NEW.payload LIKE '@claim:%', substr(NEW.payload, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS inbox_payload_blobs_dropped AFTER DELETE ON inbox
WHEN OLD.payload LIKE '@claim:%'
BEGIN
    UPDATE blobs SET refs = refs - (
        SELECT COUNT(*) FROM json_each(IIF(OLD.payload LIKE '@claim:%', substr(OLD.payload, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(OLD.payload LIKE '@claim:%', substr(OLD.payload, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS tasks_input_blobs_added AFTER INSERT ON tasks
WHEN NEW.input LIKE '@claim:%'
BEGIN
    UPDATE blobs SET refs = refs + (
        SELECT COUNT(*) FROM json_each(IIF(NEW.input LIKE '@claim:%', substr(NEW.input, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(NEW.input LIKE '@claim:%', substr(NEW.input, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS tasks_input_blobs_dropped AFTER DELETE ON tasks
WHEN OLD.input LIKE '@claim:%'
BEGIN
    UPDATE blobs SET refs = refs - (
        SELECT COUNT(*) FROM json_each(IIF(OLD.input LIKE '@claim:%', substr(OLD.input, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(OLD.input LIKE '@claim:%', substr(OLD.input, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS tasks_input_blobs_changed
AFTER UPDATE OF input ON tasks
WHEN OLD.input IS NOT NEW.input AND (OLD.input LIKE '@claim:%' OR NEW.input LIKE '@claim:%')
BEGIN
    UPDATE blobs SET refs = refs + (
        SELECT COUNT(*) FROM json_each(IIF(NEW.input LIKE '@claim:%', substr(NEW.input, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(NEW.input LIKE '@claim:%', substr(NEW.input, 8), NULL), '$.b'));
    UPDATE blobs SET refs = refs - (
        SELECT COUNT(*) FROM json_each(IIF(OLD.input LIKE '@claim:%', substr(OLD.input, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(OLD.input LIKE '@claim:%', substr(OLD.input, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS tasks_meta_blobs_added AFTER INSERT ON tasks
WHEN NEW.meta LIKE '@claim:%'
BEGIN
    UPDATE blobs SET refs = refs + (
        SELECT COUNT(*) FROM json_each(IIF(NEW.meta LIKE '@claim:%', substr(NEW.meta, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(NEW.meta LIKE '@claim:%', substr(NEW.meta, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS tasks_meta_blobs_dropped AFTER DELETE ON tasks
WHEN OLD.meta LIKE '@claim:%'
BEGIN
    UPDATE blobs SET refs = refs - (
        SELECT COUNT(*) FROM json_each(IIF(OLD.meta LIKE '@claim:%', substr(OLD.meta, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(OLD.meta LIKE '@claim:%', substr(OLD.meta, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS tasks_meta_blobs_changed
AFTER UPDATE OF meta ON tasks
WHEN OLD.meta IS NOT NEW.meta AND (OLD.meta LIKE '@claim:%' OR NEW.meta LIKE '@claim:%')
BEGIN
    UPDATE blobs SET refs = refs + (
        SELECT COUNT(*) FROM json_each(IIF(NEW.meta LIKE '@claim:%', substr(NEW.meta, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(NEW.meta LIKE '@claim:%', substr(NEW.meta, 8), NULL), '$.b'));
    UPDATE blobs SET refs = refs - (
        SELECT COUNT(*) FROM json_each(IIF(OLD.meta LIKE '@claim:%', substr(OLD.meta, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(OLD.meta LIKE '@claim:%', substr(OLD.meta, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS tasks_retry_blobs_added AFTER INSERT ON tasks
WHEN NEW.retry LIKE '@claim:%'
BEGIN
    UPDATE blobs SET refs = refs + (
        SELECT COUNT(*) FROM json_each(IIF(NEW.retry LIKE '@claim:%', substr(NEW.retry, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(NEW.retry LIKE '@claim:%', substr(NEW.retry, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS tasks_retry_blobs_dropped AFTER DELETE ON tasks
WHEN OLD.retry LIKE '@claim:%'
BEGIN
    UPDATE blobs SET refs = refs - (
        SELECT COUNT(*) FROM json_each(IIF(OLD.retry LIKE '@claim:%', substr(OLD.retry, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(OLD.retry LIKE '@claim:%', substr(OLD.retry, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS tasks_retry_blobs_changed
AFTER UPDATE OF retry ON tasks
WHEN OLD.retry IS NOT NEW.retry AND (OLD.retry LIKE '@claim:%' OR NEW.retry LIKE '@claim:%')
BEGIN
    UPDATE blobs SET refs = refs + (
        SELECT COUNT(*) FROM json_each(IIF(NEW.retry LIKE '@claim:%', substr(NEW.retry, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(NEW.retry LIKE '@claim:%', substr(NEW.retry, 8), NULL), '$.b'));
    UPDATE blobs SET refs = refs - (
        SELECT COUNT(*) FROM json_each(IIF(OLD.retry LIKE '@claim:%', substr(OLD.retry, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(OLD.retry LIKE '@claim:%', substr(OLD.retry, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS executions_snapshot_blobs_added AFTER INSERT ON executions
WHEN NEW.snapshot LIKE '@claim:%'
BEGIN
    UPDATE blobs SET refs = refs + (
        SELECT COUNT(*) FROM json_each(IIF(NEW.snapshot LIKE '@claim:%', substr(NEW.snapshot, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(NEW.snapshot LIKE '@claim:%', substr(NEW.snapshot, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS executions_snapshot_blobs_dropped AFTER DELETE ON executions
WHEN OLD.snapshot LIKE '@claim:%'
BEGIN
    UPDATE blobs SET refs = refs - (
        SELECT COUNT(*) FROM json_each(IIF(OLD.snapshot LIKE '@claim:%', substr(OLD.snapshot, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(OLD.snapshot LIKE '@claim:%', substr(OLD.snapshot, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS executions_snapshot_blobs_changed
AFTER UPDATE OF snapshot ON executions
WHEN OLD.snapshot IS NOT NEW.snapshot AND (OLD.snapshot LIKE '@claim:%' OR NEW.snapshot LIKE '@claim:%')
BEGIN
    UPDATE blobs SET refs = refs + (
        SELECT COUNT(*) FROM json_each(IIF(NEW.snapshot LIKE '@claim:%', substr(NEW.snapshot, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(NEW.snapshot LIKE '@claim:%', substr(NEW.snapshot, 8), NULL), '$.b'));
    UPDATE blobs SET refs = refs - (
        SELECT COUNT(*) FROM json_each(IIF(OLD.snapshot LIKE '@claim:%', substr(OLD.snapshot, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(OLD.snapshot LIKE '@claim:%', substr(OLD.snapshot, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS executions_output_blobs_added AFTER INSERT ON executions
WHEN NEW.output LIKE '@claim:%'
BEGIN
    UPDATE blobs SET refs = refs + (
        SELECT COUNT(*) FROM json_each(IIF(NEW.output LIKE '@claim:%', substr(NEW.output, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(NEW.output LIKE '@claim:%', substr(NEW.output, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS executions_output_blobs_dropped AFTER DELETE ON executions
WHEN OLD.output LIKE '@claim:%'
BEGIN
    UPDATE blobs SET refs = refs - (
        SELECT COUNT(*) FROM json_each(IIF(OLD.output LIKE '@claim:%', substr(OLD.output, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(OLD.output LIKE '@claim:%', substr(OLD.output, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS executions_output_blobs_changed
AFTER UPDATE OF output ON executions
WHEN OLD.output IS NOT NEW.output AND (OLD.output LIKE '@claim:%' OR NEW.output LIKE '@claim:%')
BEGIN
    UPDATE blobs SET refs = refs + (
        SELECT COUNT(*) FROM json_each(IIF(NEW.output LIKE '@claim:%', substr(NEW.output, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(NEW.output LIKE '@claim:%', substr(NEW.output, 8), NULL), '$.b'));
    UPDATE blobs SET refs = refs - (
        SELECT COUNT(*) FROM json_each(IIF(OLD.output LIKE '@claim:%', substr(OLD.output, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(OLD.output LIKE '@claim:%', substr(OLD.output, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS executions_errors_blobs_added AFTER INSERT ON executions
WHEN NEW.errors LIKE '@claim:%'
BEGIN
    UPDATE blobs SET refs = refs + (
        SELECT COUNT(*) FROM json_each(IIF(NEW.errors LIKE '@claim:%', substr(NEW.errors, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(NEW.errors LIKE '@claim:%', substr(NEW.errors, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS executions_errors_blobs_dropped AFTER DELETE ON executions
WHEN OLD.errors LIKE '@claim:%'
BEGIN
    UPDATE blobs SET refs = refs - (
        SELECT COUNT(*) FROM json_each(IIF(OLD.errors LIKE '@claim:%', substr(OLD.errors, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(OLD.errors LIKE '@claim:%', substr(OLD.errors, 8), NULL), '$.b'));
END;

CREATE TRIGGER IF NOT EXISTS executions_errors_blobs_changed
AFTER UPDATE OF errors ON executions
WHEN OLD.errors IS NOT NEW.errors AND (OLD.errors LIKE '@claim:%' OR NEW.errors LIKE '@claim:%')
BEGIN
    UPDATE blobs SET refs = refs + (
        SELECT COUNT(*) FROM json_each(IIF(NEW.errors LIKE '@claim:%', substr(NEW.errors, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(NEW.errors LIKE '@claim:%', substr(NEW.errors, 8), NULL), '$.b'));
    UPDATE blobs SET refs = refs - (
        SELECT COUNT(*) FROM json_each(IIF(OLD.errors LIKE '@claim:%', substr(OLD.errors, 8), NULL), '$.b') AS part
        WHERE json_extract(part.value, '$[1]') = blobs.digest)
    WHERE digest IN (
        SELECT json_extract(value, '$[1]') FROM json_each(IIF(OLD.errors LIKE '@claim:%', substr(OLD.errors, 8), NULL), '$.b'));
END;

-- The counts of the rows stored before this migration; blobs nothing refers
-- to any more (replaced snapshots, deleted executions) go now.
CREATE TEMP TABLE blob_reference_counts (digest TEXT PRIMARY KEY, n INTEGER NOT NULL);
INSERT INTO blob_reference_counts (digest, n)
SELECT json_extract(part.value, '$[1]'), COUNT(*) FROM (
        SELECT payload AS t FROM history WHERE payload LIKE '@claim:%'
        UNION ALL SELECT payload FROM inbox WHERE payload LIKE '@claim:%'
        UNION ALL SELECT input FROM tasks WHERE input LIKE '@claim:%'
        UNION ALL SELECT meta FROM tasks WHERE meta LIKE '@claim:%'
        UNION ALL SELECT retry FROM tasks WHERE retry LIKE '@claim:%'
        UNION ALL SELECT snapshot FROM executions WHERE snapshot LIKE '@claim:%'
        UNION ALL SELECT output FROM executions WHERE output LIKE '@claim:%'
        UNION ALL SELECT errors FROM executions WHERE errors LIKE '@claim:%'
    ) AS stored, json_each(substr(stored.t, 8), '$.b') AS part
GROUP BY 1;
UPDATE blobs SET refs = COALESCE(
    (SELECT n FROM blob_reference_counts AS c WHERE c.digest = blobs.digest), 0);
DROP TABLE blob_reference_counts;
DELETE FROM blobs WHERE refs <= 0;

-- What each execution's history keeps, in bytes, added up as rows are
-- written: a row's text plus the blobs it refers to. The engine checks every
-- task result against the per-execution ceiling with it (a column read, not a
-- scan of the history).
ALTER TABLE executions ADD COLUMN payload_bytes INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER IF NOT EXISTS history_payload_bytes AFTER INSERT ON history
BEGIN
    UPDATE executions SET payload_bytes = payload_bytes + length(CAST(NEW.payload AS BLOB))
        + COALESCE((SELECT SUM(size) FROM blobs WHERE digest IN (
            SELECT json_extract(value, '$[1]') FROM json_each(
                IIF(NEW.payload LIKE '@claim:%', substr(NEW.payload, 8), NULL), '$.b'))), 0)
    WHERE id = NEW.execution_id;
END;

UPDATE executions SET payload_bytes = COALESCE((
    SELECT SUM(length(CAST(h.payload AS BLOB))) FROM history AS h
    WHERE h.execution_id = executions.id), 0) + COALESCE((
    SELECT SUM(b.size) FROM history AS h, json_each(substr(h.payload, 8), '$.b') AS part
    JOIN blobs AS b ON b.digest = json_extract(part.value, '$[1]')
    WHERE h.execution_id = executions.id AND h.payload LIKE '@claim:%'), 0);
