DROP INDEX audit_events_target_time;
DROP TABLE account_tokens;
