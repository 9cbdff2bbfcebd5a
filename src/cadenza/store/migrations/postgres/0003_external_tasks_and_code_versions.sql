-- Work done outside the engine is a flag on the task, not a queue-name
-- prefix: the queue keeps the name outside workers poll. Tasks written by
-- older versions under the "activity:" prefix are moved over.
ALTER TABLE tasks ADD COLUMN external BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE tasks SET external = TRUE, queue = substr(queue, 10) WHERE queue LIKE 'activity:%';
DROP INDEX tasks_due;
CREATE INDEX tasks_due ON tasks (external, queue, available_at) WHERE status = 'scheduled';
-- A definition written as Python code keeps its reference in source and the
-- version it was registered at here (NULL for text definitions).
ALTER TABLE definitions ADD COLUMN version TEXT;
