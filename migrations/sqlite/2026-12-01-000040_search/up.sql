-- Users search keyed by member (SQLite dialect). The trigram index now holds one row per
-- member (rowid = members.id, the account's lower-cased name and addresses), so a search
-- joins its matches to `members` by rowid (a cheap table seek) instead of probing
-- `members_workspace_account` for every matching account (an index seek each; a common term
-- matches thousands). Contentless: the text lives in `accounts.search_text`; rows are
-- deleted by rowid (contentless_delete, SQLite 3.43+). It replaces `account_search`.
-- The PostgreSQL twin of this migration changes nothing (pg_trgm on accounts.search_text).

DROP TRIGGER accounts_search_insert;
DROP TRIGGER accounts_search_delete;
DROP TRIGGER accounts_search_update;
DROP TABLE account_search;

CREATE VIRTUAL TABLE account_search_member USING fts5(
    search_text, content='', contentless_delete=1, tokenize='trigram'
);
INSERT INTO account_search_member(rowid, search_text)
    SELECT members.id, accounts.search_text FROM members JOIN accounts ON accounts.id = members.account_id;
INSERT INTO account_search_member(account_search_member) VALUES ('optimize');

CREATE TRIGGER members_search_insert AFTER INSERT ON members BEGIN
    INSERT INTO account_search_member(rowid, search_text)
        SELECT new.id, search_text FROM accounts WHERE id = new.account_id;
END;
CREATE TRIGGER members_search_delete AFTER DELETE ON members BEGIN
    DELETE FROM account_search_member WHERE rowid = old.id;
END;
CREATE TRIGGER members_search_account AFTER UPDATE OF account_id ON members BEGIN
    DELETE FROM account_search_member WHERE rowid = old.id;
    INSERT INTO account_search_member(rowid, search_text)
        SELECT new.id, search_text FROM accounts WHERE id = new.account_id;
END;
CREATE TRIGGER accounts_search_update AFTER UPDATE OF search_text ON accounts BEGIN
    DELETE FROM account_search_member WHERE rowid IN (SELECT id FROM members WHERE account_id = new.id);
    INSERT INTO account_search_member(rowid, search_text)
        SELECT id, new.search_text FROM members WHERE account_id = new.id;
END;
