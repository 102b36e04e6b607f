DROP TRIGGER accounts_search_update;
DROP TRIGGER members_search_account;
DROP TRIGGER members_search_delete;
DROP TRIGGER members_search_insert;
DROP TABLE account_search_member;

CREATE VIRTUAL TABLE account_search USING fts5(
    search_text, content='accounts', content_rowid='id', tokenize='trigram'
);
INSERT INTO account_search(account_search) VALUES ('rebuild');
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
