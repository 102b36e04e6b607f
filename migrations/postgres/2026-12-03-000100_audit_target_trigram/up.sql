-- The audit log's target filter (`lower(target_label) LIKE '%…%'`) on a trigram index: a
-- rare label no longer reads every event below the cursor (bench/HISTORY.md). The planner
-- weighs each value: a label in most rows keeps the `id DESC` walk, which meets its page
-- first, and so does a generic plan (measured: it never picks the index blind).
CREATE INDEX audit_events_label_trgm ON audit_events USING gin (lower(target_label) gin_trgm_ops);
