ALTER TABLE domains DROP COLUMN last_check_result;
ALTER TABLE domains DROP COLUMN last_checked_at;
