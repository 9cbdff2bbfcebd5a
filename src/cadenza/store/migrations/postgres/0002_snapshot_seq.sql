-- Snapshots are written every few decisions, not every one: snapshot_seq is
-- the last history seq the snapshot reflects (0: none). A decider that does
-- not hold the state loads the snapshot and replays the history after it.
ALTER TABLE executions ADD COLUMN snapshot_seq INTEGER NOT NULL DEFAULT 0;
UPDATE executions SET snapshot_seq = next_seq - 1 WHERE snapshot IS NOT NULL;
