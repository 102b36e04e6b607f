-- Checkpoints of the membership history's replay (services::membership_history): the
-- workspace's roster after its first `events` membership events in (created_at, id) order,
-- the last of them `last_event_id` at `last_event_at`. Derived from the append-only audit
-- log and only taken an hour behind the present, so a checkpoint never goes stale; the
-- views replay from the nearest one instead of from the workspace's first event.
CREATE TABLE roster_snapshots (
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    events BIGINT NOT NULL,
    last_event_id BIGINT NOT NULL,
    last_event_at TIMESTAMP NOT NULL,
    roster TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, events)
);
