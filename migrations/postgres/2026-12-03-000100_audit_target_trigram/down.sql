DROP INDEX IF EXISTS audit_events_label_trgm;
