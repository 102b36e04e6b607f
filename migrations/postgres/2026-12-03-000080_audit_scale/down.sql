DROP INDEX IF EXISTS audit_events_account_target;
DROP INDEX IF EXISTS audit_events_account_actor;
DROP INDEX IF EXISTS audit_events_action_workspace;
