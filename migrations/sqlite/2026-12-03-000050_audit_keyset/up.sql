-- The audit log screen pages newest first by id (keyset: `id < cursor`), per workspace,
-- and shows members' account-level events (workspace_id NULL, target the account).
CREATE INDEX audit_events_workspace_id ON audit_events(workspace_id, id);
CREATE INDEX audit_events_target_id ON audit_events(target_type, target_id, id);
CREATE INDEX audit_events_actor_id ON audit_events(actor_account_id, id);
