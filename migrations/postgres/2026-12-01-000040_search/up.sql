-- The SQLite twin of this migration re-keys its FTS5 search index by member. PostgreSQL
-- searches `accounts.search_text` through the pg_trgm GIN index, which stays as it is.
SELECT 1;
