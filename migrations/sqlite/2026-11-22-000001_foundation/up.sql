-- Foundation schema (SQLite dialect). The PostgreSQL twin must define the same tables and columns.
-- Ids: INTEGER PRIMARY KEY (the 64-bit rowid), references BIGINT. Times: TIMESTAMP holding UTC. Booleans: BOOLEAN (0/1).

CREATE TABLE app_settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE accounts (
    id INTEGER PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    password_hash TEXT,
    -- lower-cased name and every address, kept by the application; indexed for substring search
    search_text TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE email_addresses (
    id INTEGER PRIMARY KEY NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    canonical TEXT NOT NULL,
    verified BOOLEAN NOT NULL,
    is_primary BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    verified_at TIMESTAMP
);
CREATE UNIQUE INDEX email_addresses_verified_canonical ON email_addresses(canonical) WHERE verified;
CREATE UNIQUE INDEX email_addresses_account_canonical ON email_addresses(account_id, canonical);
CREATE UNIQUE INDEX email_addresses_one_primary ON email_addresses(account_id) WHERE is_primary;
CREATE INDEX email_addresses_canonical ON email_addresses(canonical);

CREATE TABLE workspaces (
    id INTEGER PRIMARY KEY NOT NULL,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    plan TEXT,
    seat_limit INTEGER,
    daily_invite_limit INTEGER NOT NULL,
    invite_expiry_days INTEGER NOT NULL,
    active_members INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE members (
    id INTEGER PRIMARY KEY NOT NULL,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    seat_type TEXT NOT NULL,
    manager_id BIGINT REFERENCES members(id) ON DELETE SET NULL,
    department TEXT,
    metadata TEXT NOT NULL,
    -- copy of accounts.name (lower-cased) so the Users list sorts on an index
    sort_name TEXT NOT NULL,
    joined_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX members_workspace_account ON members(workspace_id, account_id);
CREATE INDEX members_account ON members(account_id);
CREATE INDEX members_list_by_name ON members(workspace_id, status, sort_name, id);
CREATE INDEX members_list_by_joined ON members(workspace_id, status, joined_at, id);
CREATE INDEX members_manager ON members(manager_id);
CREATE INDEX members_department ON members(workspace_id, department);
-- Filtered Users lists: filter columns first, then the sort, so a page is an index range.
CREATE INDEX members_list_by_department ON members(workspace_id, status, department, sort_name, id);
CREATE INDEX members_list_by_seat ON members(workspace_id, status, seat_type, sort_name, id);

CREATE TABLE roles (
    id INTEGER PRIMARY KEY NOT NULL,
    workspace_id BIGINT NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    builtin_key TEXT,
    name TEXT NOT NULL,
    name_canonical TEXT NOT NULL,
    description TEXT NOT NULL,
    position INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX roles_workspace_name ON roles(workspace_id, name_canonical);
CREATE UNIQUE INDEX roles_workspace_builtin ON roles(workspace_id, builtin_key);

CREATE TABLE role_permissions (
    role_id BIGINT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    scope TEXT,
    PRIMARY KEY (role_id, permission)
);

CREATE TABLE member_roles (
    member_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    role_id BIGINT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
    is_primary BOOLEAN NOT NULL,
    PRIMARY KEY (member_id, role_id)
);
CREATE INDEX member_roles_role ON member_roles(role_id, member_id);

CREATE TABLE permission_grants (
    id INTEGER PRIMARY KEY NOT NULL,
    member_id BIGINT NOT NULL REFERENCES members(id) ON DELETE CASCADE,
    permission TEXT NOT NULL,
    scope TEXT,
    expires_at TIMESTAMP,
    granted_by BIGINT REFERENCES accounts(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX permission_grants_member ON permission_grants(member_id);

CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    account_id BIGINT REFERENCES accounts(id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    user_agent TEXT,
    ip TEXT,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_account ON sessions(account_id);
CREATE INDEX sessions_expires ON sessions(expires_at);

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY NOT NULL,
    workspace_id BIGINT REFERENCES workspaces(id) ON DELETE CASCADE,
    actor_account_id BIGINT REFERENCES accounts(id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    target_type TEXT,
    target_id BIGINT,
    target_label TEXT,
    changes TEXT NOT NULL,
    ip TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_events_workspace_time ON audit_events(workspace_id, created_at);
CREATE INDEX audit_events_action_label_time ON audit_events(action, target_label, created_at);
CREATE INDEX audit_events_action_ip_time ON audit_events(action, ip, created_at);

-- Substring search over names and addresses: an FTS5 trigram index kept in step with accounts.
CREATE VIRTUAL TABLE account_search USING fts5(
    search_text, content='accounts', content_rowid='id', tokenize='trigram'
);
CREATE TRIGGER accounts_search_insert AFTER INSERT ON accounts BEGIN
    INSERT INTO account_search(rowid, search_text) VALUES (new.id, new.search_text);
END;
CREATE TRIGGER accounts_search_delete AFTER DELETE ON accounts BEGIN
    INSERT INTO account_search(account_search, rowid, search_text) VALUES ('delete', old.id, old.search_text);
END;
CREATE TRIGGER accounts_search_update AFTER UPDATE OF search_text ON accounts BEGIN
    INSERT INTO account_search(account_search, rowid, search_text) VALUES ('delete', old.id, old.search_text);
    INSERT INTO account_search(rowid, search_text) VALUES (new.id, new.search_text);
END;
