-- Task priority: among the due tasks of a queue, a claim takes the higher
-- priorities first, then the longest due. The index that serves claims gets
-- the priority between the queue and the due time, in the claim's order.
ALTER TABLE tasks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
DROP INDEX IF EXISTS tasks_due;
CREATE INDEX tasks_due ON tasks (external, queue, priority DESC, available_at)
    WHERE status = 'scheduled';

-- Each execution's stored bytes (payload_bytes, migration 0008) are added up
-- by the statement that saves the execution row in a decision round, the
-- only writer of history, from the rows it writes: the per-row trigger that
-- did it cost every history row an update of the execution row.
DROP TRIGGER IF EXISTS history_payload_bytes;
