DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE outbox_events;
DROP TABLE webhook_endpoints;
DROP TABLE processed_inbound_events;
ALTER TABLE articles DROP COLUMN source_changed_at, DROP COLUMN section, DROP COLUMN lifecycle;
