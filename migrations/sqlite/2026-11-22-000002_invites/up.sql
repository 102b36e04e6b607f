-- Invitations and the mail outbox (SQLite dialect; the PostgreSQL twin matches).

CREATE TABLE invites (
    id INTEGER PRIMARY KEY NOT NULL,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    canonical TEXT NOT NULL,
    name TEXT,
    message TEXT,
    notification_email TEXT,
    metadata TEXT NOT NULL,
    seat_type TEXT NOT NULL,
    -- pending | accepted | revoked | superseded; "expired" is pending past expires_at
    status TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    invited_by BIGINT REFERENCES accounts(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    accepted_at TIMESTAMP,
    accepted_by BIGINT REFERENCES accounts(id) ON DELETE SET NULL,
    revoked_at TIMESTAMP,
    revoked_by BIGINT REFERENCES accounts(id) ON DELETE SET NULL
);
CREATE UNIQUE INDEX invites_token_hash ON invites(token_hash);
CREATE UNIQUE INDEX invites_one_pending_per_address ON invites(workspace_id, canonical) WHERE status = 'pending';
CREATE INDEX invites_workspace_status ON invites(workspace_id, status, expires_at);
CREATE INDEX invites_workspace_created ON invites(workspace_id, created_at);
CREATE INDEX invites_inviter ON invites(invited_by, status);

CREATE TABLE invite_roles (
    invite_id BIGINT NOT NULL REFERENCES invites(id) ON DELETE CASCADE,
    role_id BIGINT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    PRIMARY KEY (invite_id, role_id)
);
CREATE INDEX invite_roles_role ON invite_roles(role_id);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY NOT NULL,
    workspace_id BIGINT REFERENCES workspaces(id) ON DELETE CASCADE,
    invite_id BIGINT REFERENCES invites(id) ON DELETE SET NULL,
    kind TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    -- queued | sending | sent | failed
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until TIMESTAMP,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    sent_at TIMESTAMP
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_invite ON outbox(invite_id, id);
