-- Tags people give an execution when they start it ("team=billing", "nightly"),
-- to find it again, matched whole. A text array with a GIN index: a filter on
-- several tags is one containment test (tags @> ARRAY[...]) the index answers.
ALTER TABLE executions ADD COLUMN tags TEXT[] NOT NULL DEFAULT '{}';
CREATE INDEX executions_tags ON executions USING GIN (tags);
-- The console's "no progress for a while" view asks for live executions
-- ordered by their last change.
CREATE INDEX executions_updated ON executions (updated_at);
