-- The audit log's target filter (`lower(target_label) LIKE '%…%'`) on a trigram index: a
-- rare label no longer reads every event below the cursor (bench/HISTORY.md). The query is
-- planned for each pattern (models::audit writes it as raw SQL, never a kept statement,
-- whose generic plan walks `id DESC` for every label): a rare label takes the index, a
-- label in most rows keeps the walk, which meets its page first.
CREATE INDEX audit_events_label_trgm ON audit_events USING gin (lower(target_label) gin_trgm_ops);
