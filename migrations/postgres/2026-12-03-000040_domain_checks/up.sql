-- The last "Check now" of a domain's TXT record (issue 12.1): when it ran and what it
-- found, shown on the Domains screen while the domain is Pending.
ALTER TABLE domains ADD COLUMN last_checked_at TIMESTAMP;
ALTER TABLE domains ADD COLUMN last_check_result TEXT;
