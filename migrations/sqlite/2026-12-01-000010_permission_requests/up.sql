-- Permission requests (SQLite dialect; the PostgreSQL twin matches): a member asks for a
-- permission, an admin approves (a permission_grants row) or denies.

CREATE TABLE permission_requests (
    id INTEGER PRIMARY KEY NOT NULL,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    member_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    scope TEXT,
    reason TEXT NOT NULL,
    -- pending | approved | denied
    status TEXT NOT NULL,
    decided_by BIGINT REFERENCES accounts(id) ON DELETE SET NULL,
    decided_at TIMESTAMP,
    note TEXT,
    grant_id BIGINT REFERENCES permission_grants(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX permission_requests_workspace ON permission_requests(workspace_id, status, created_at);
CREATE UNIQUE INDEX permission_requests_one_pending ON permission_requests(member_id, permission) WHERE status = 'pending';
