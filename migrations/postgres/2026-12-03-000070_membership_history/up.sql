-- The membership history replays one workspace's membership actions up to an instant.
-- Action first, like audit_events_action_workspace: only a query naming actions can use
-- it, so it never competes with (workspace_id, id) for the audit log's unfiltered pages.
CREATE INDEX audit_events_action_workspace_time ON audit_events(action, workspace_id, created_at, id);
