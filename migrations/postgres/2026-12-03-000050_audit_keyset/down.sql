DROP INDEX audit_events_actor_id;
DROP INDEX audit_events_target_id;
DROP INDEX audit_events_workspace_id;
