-- Claimed email domains and the workspace's module catalogue (SQLite dialect; the
-- PostgreSQL twin matches).

CREATE TABLE domains (
    id INTEGER PRIMARY KEY NOT NULL,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    -- canonical: lower-case, punycode
    domain TEXT NOT NULL,
    -- pending | verified
    status TEXT NOT NULL,
    -- the value of the TXT record `gatehouse-verification=<token>` (not a secret)
    verification_token TEXT NOT NULL,
    -- off | auto | approval (used once verified)
    join_policy TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    verified_at TIMESTAMP
);
CREATE UNIQUE INDEX domains_workspace_domain ON domains(workspace_id, domain);
-- A domain is verified for at most one workspace.
CREATE UNIQUE INDEX domains_verified ON domains(domain) WHERE status = 'verified';

CREATE TABLE modules (
    id INTEGER PRIMARY KEY NOT NULL,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    position INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX modules_workspace_key ON modules(workspace_id, key);

-- Members get every module of the catalogue unless an admin revoked it for them.
CREATE TABLE member_module_revocations (
    member_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    module_id BIGINT NOT NULL REFERENCES modules(id) ON DELETE CASCADE,
    PRIMARY KEY (member_id, module_id)
);
CREATE INDEX member_module_revocations_module ON member_module_revocations(module_id);
