ALTER TABLE outbox DROP COLUMN delivered_via;
