-- How a delivered mail left (issue 11.4): `smtp`, or `files:<folder>` when no SMTP server was
-- configured and the message was only written as an .eml file there. Recorded on the row at
-- delivery, so the Invites screen stays truthful if the configuration changes later.
-- NULL: not delivered yet (or delivered before this column existed).
ALTER TABLE outbox ADD COLUMN delivered_via TEXT;
