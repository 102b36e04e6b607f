DROP TABLE outbox;
DROP TABLE invite_roles;
DROP TABLE invites;
