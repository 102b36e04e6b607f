-- The audit log at a million rows (bench/audit.sh, bench/HISTORY.md): the action filter
-- pages by id within the workspace, and the members' account-level events (recorded with
-- no workspace) are found on their own indexes, never by walking the workspace's events.
-- Action first: only a query naming one action can use it, so it never competes with
-- (workspace_id, id) for the unfiltered pages (SQLite often runs without ANALYZE stats).
CREATE INDEX audit_events_action_workspace ON audit_events(action, workspace_id, id);
CREATE INDEX audit_events_account_actor ON audit_events(actor_account_id, id) WHERE workspace_id IS NULL;
CREATE INDEX audit_events_account_target ON audit_events(target_type, target_id, id) WHERE workspace_id IS NULL;
