DROP TABLE mail_digests;
DROP TABLE mail_outbox;
DROP TABLE mail_recipients;
ALTER TABLE reviews DROP COLUMN notify;
ALTER TABLE sites DROP COLUMN mail;
