DROP INDEX invites_link_token_hash;
UPDATE invites SET token_hash = link_token_hash
    WHERE link_token_hash IS NOT NULL AND token_hash LIKE 'unproven:%';
ALTER TABLE invites DROP COLUMN link_token_hash;
