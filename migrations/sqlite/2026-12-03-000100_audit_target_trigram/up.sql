-- The PostgreSQL twin of this migration adds a pg_trgm index for the audit log's target
-- filter. SQLite keeps its `LIKE` walk: an FTS5 trigram table over every workspace's log
-- made a label common in other workspaces cost more than the walk (bench/HISTORY.md).
SELECT 1;
