-- A workflow id (the caller's name for the work, "order-1234") is held by at
-- most one open run at a time. The unique index covers only runs whose
-- status is not final, so the id is free again once its run ends; the check
-- is the database's, so two starts racing on one id cannot both succeed.
-- Runs started before this column existed have none (they are not guarded).
ALTER TABLE executions ADD COLUMN workflow_id TEXT;
CREATE UNIQUE INDEX executions_open_workflow_id ON executions (workflow_id)
    WHERE workflow_id IS NOT NULL
      AND status NOT IN ('succeeded', 'failed', 'canceled', 'timeout', 'abandoned');
-- What happens to a child when its parent ends (the code front end's child
-- policy): NULL asks it to cancel; 'terminate' ends it by force.
ALTER TABLE executions ADD COLUMN child_policy TEXT;
