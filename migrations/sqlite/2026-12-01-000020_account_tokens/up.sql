-- One-time links of the account itself (SQLite dialect; the PostgreSQL twin matches):
-- email verification (bound to one address) and password reset. Only a SHA-256 of the
-- token is stored; `used_at` is set by the one conditional update that consumes it.

CREATE TABLE account_tokens (
    id INTEGER PRIMARY KEY NOT NULL,
    -- verify_email | reset_password
    purpose TEXT NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    -- the address the link was sent to (and, for verify_email, the one it verifies)
    email_address_id BIGINT REFERENCES email_addresses(id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX account_tokens_token_hash ON account_tokens(token_hash);
CREATE INDEX account_tokens_account ON account_tokens(account_id, purpose);
CREATE INDEX account_tokens_email_address ON account_tokens(email_address_id);

-- Per-account limits count recent events about one account (confirmation links sent).
CREATE INDEX audit_events_target_time ON audit_events(target_type, target_id, created_at);
