-- The workspace's shareable invite link (SPEC §3 "Domains and links") and the join
-- requests and uses it leads to (sqlite dialect; the other folder's twin matches).

-- One row per workspace. The token is stored only as its SHA-256 (NULL until first
-- enabled); rotating replaces it, so the old link dies at once. role_ids is a JSON array
-- of this workspace's role ids, the first primary.
CREATE TABLE join_links (
    id INTEGER PRIMARY KEY NOT NULL,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    token_hash TEXT,
    enabled BOOLEAN NOT NULL,
    require_approval BOOLEAN NOT NULL,
    verified_domains_only BOOLEAN NOT NULL,
    role_ids TEXT NOT NULL,
    expires_at TIMESTAMP,
    max_uses INTEGER,
    uses INTEGER NOT NULL,
    author_account_id BIGINT REFERENCES accounts(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX join_links_workspace ON join_links(workspace_id);
CREATE UNIQUE INDEX join_links_token ON join_links(token_hash);

-- Every use of the link: a join (status joined), a request waiting for an admin
-- (pending, then approved or denied), or a new person's use waiting for the mailed
-- confirmation of their address (unconfirmed, confirm_token_hash set).
CREATE TABLE join_requests (
    id INTEGER PRIMARY KEY NOT NULL,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    role_ids TEXT NOT NULL,
    confirm_token_hash TEXT,
    member_id BIGINT REFERENCES members(id) ON DELETE SET NULL,
    decided_by BIGINT REFERENCES accounts(id) ON DELETE SET NULL,
    decided_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX join_requests_workspace ON join_requests(workspace_id, status, created_at);
CREATE UNIQUE INDEX join_requests_one_pending ON join_requests(workspace_id, account_id) WHERE status = 'pending';
CREATE UNIQUE INDEX join_requests_confirm_token ON join_requests(confirm_token_hash);

-- How each member joined (invitation, link, domain; NULL: before this was recorded, or
-- created by the operator) and who approved them.
ALTER TABLE members ADD COLUMN joined_via TEXT;
ALTER TABLE members ADD COLUMN approved_by BIGINT REFERENCES accounts(id) ON DELETE SET NULL;
