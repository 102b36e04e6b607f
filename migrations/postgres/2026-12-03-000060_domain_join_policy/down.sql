ALTER TABLE join_requests DROP COLUMN domain_id;
ALTER TABLE domains DROP COLUMN policy_author_account_id;
ALTER TABLE domains DROP COLUMN include_subdomains;
ALTER TABLE domains DROP COLUMN role_ids;
