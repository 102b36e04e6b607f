-- The membership history replays one workspace's membership actions up to an instant.
CREATE INDEX audit_events_workspace_action_time ON audit_events(workspace_id, action, created_at, id);
