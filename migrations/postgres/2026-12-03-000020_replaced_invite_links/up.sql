-- Links an invite no longer answers to (issue 11.13): when a resend or "Copy a new link"
-- replaces a link, its hash is kept here so opening the old one can say a newer invitation
-- was sent, instead of "check you copied the whole link". Hashes only, as for live links.
CREATE TABLE replaced_invite_links (
    token_hash TEXT PRIMARY KEY NOT NULL,
    invite_id BIGINT NOT NULL REFERENCES invites(id) ON DELETE CASCADE,
    -- `resend` (a new mail went out) or `new_link` (a new link was copied).
    replaced_by TEXT NOT NULL,
    replaced_at TIMESTAMP NOT NULL
);
CREATE INDEX replaced_invite_links_invite ON replaced_invite_links(invite_id);
