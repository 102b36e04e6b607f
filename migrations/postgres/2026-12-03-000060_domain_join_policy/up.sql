-- A verified domain's join policy (issue 12.2, SPEC §3 "Domains and links"): the default
-- roles it offers (a JSON array of this workspace's role ids, the first primary), whether
-- subdomains match too, and who set it (their rights are re-checked at every join, like
-- the invite link's author; SPEC §4.3). postgres dialect; the other folder's twin matches.
ALTER TABLE domains ADD COLUMN role_ids TEXT NOT NULL DEFAULT '[]';
ALTER TABLE domains ADD COLUMN include_subdomains BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE domains ADD COLUMN policy_author_account_id BIGINT NULL REFERENCES accounts(id) ON DELETE SET NULL;

-- A join request filed through a domain's policy (NULL: it came through the invite link).
ALTER TABLE join_requests ADD COLUMN domain_id BIGINT NULL REFERENCES domains(id) ON DELETE SET NULL;
