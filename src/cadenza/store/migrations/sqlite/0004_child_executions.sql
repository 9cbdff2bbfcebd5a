-- An execution started by another (StartChild) names its parent and the
-- parent's task it stands for: the parent hears of its end, and cancelling
-- that task (or ending the parent) asks it to cancel.
ALTER TABLE executions ADD COLUMN parent_id TEXT;
ALTER TABLE executions ADD COLUMN parent_task_id TEXT;
CREATE INDEX executions_parent ON executions (parent_id) WHERE parent_id IS NOT NULL;
