DROP TABLE replaced_invite_links;
