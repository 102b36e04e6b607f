ALTER TABLE members DROP COLUMN approved_by;
ALTER TABLE members DROP COLUMN joined_via;
DROP TABLE join_requests;
DROP TABLE join_links;
