ALTER TABLE reviews DROP COLUMN reader_badges, DROP COLUMN reader_id;
ALTER TABLE sites DROP COLUMN reader_tokens;
