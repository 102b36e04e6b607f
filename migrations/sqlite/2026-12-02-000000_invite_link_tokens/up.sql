-- Two tokens per invite (SPEC §3, §4.8): `token_hash` is the link mailed to the invited
-- address, the only one that proves it; `link_token_hash` is the link shown once to the
-- inviter and mailed to a `notification_email`: it redeems the invite but proves nothing.
ALTER TABLE invites ADD COLUMN link_token_hash TEXT;
-- Every link issued before this migration was both mailed and shown to the inviter, so none
-- of them can be said to prove its address: they keep working as unproving links, and the
-- proving column holds a value no token hashes to (a SHA-256 is 64 hex digits).
UPDATE invites SET link_token_hash = token_hash, token_hash = 'unproven:' || id;
CREATE UNIQUE INDEX invites_link_token_hash ON invites(link_token_hash);
