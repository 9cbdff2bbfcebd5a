-- Tags people give an execution when they start it ("team=billing", "nightly"),
-- to find it again: a JSON array of strings, matched whole. Lists filter on
-- them with json_each; they are few per execution, so no index is needed
-- beyond the ones the other filters use.
ALTER TABLE executions ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';
-- The console's "no progress for a while" view asks for live executions
-- ordered by their last change.
CREATE INDEX executions_updated ON executions (updated_at);
