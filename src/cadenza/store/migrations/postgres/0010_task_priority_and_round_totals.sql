-- Task priority: among the due tasks of a queue, a claim takes the higher
-- priorities first, then the longest due. The index that serves claims gets
-- the priority between the queue and the due time, in the claim's order.
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS priority INTEGER NOT NULL DEFAULT 0;
DROP INDEX IF EXISTS tasks_due;
CREATE INDEX tasks_due ON tasks (external, queue, priority DESC, available_at)
    WHERE status = 'scheduled';

-- Each execution's stored bytes (payload_bytes, migration 0008) are added up
-- by the statement that saves the execution row in a decision round, the
-- only writer of history, from the rows it writes: the per-row trigger that
-- did it cost every history row a function call and an update of the
-- execution row. cadenza_stored_value_bytes stays (recounting uses it).
DROP TRIGGER IF EXISTS history_payload_bytes ON history;
DROP FUNCTION IF EXISTS cadenza_count_history_bytes();

-- A decision round sends its write phase and COMMIT in one batch, assuming
-- that every finished attempt is still held and every decision still
-- current; each statement that rests on an assumption checks its own row
-- count with this function, which fails the transaction (SQLSTATE ZC001,
-- "Z": not a standard class) so that nothing of the batch is committed and
-- the round writes again statement by statement.
CREATE OR REPLACE FUNCTION cadenza_round_expect(held BOOLEAN) RETURNS BOOLEAN AS $$
BEGIN
    IF held IS NOT TRUE THEN
        RAISE EXCEPTION 'a batched decision round found an assumption broken'
            USING ERRCODE = 'ZC001';
    END IF;
    RETURN TRUE;
END
$$ LANGUAGE plpgsql;
