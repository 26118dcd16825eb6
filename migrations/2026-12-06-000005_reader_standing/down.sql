DROP INDEX reviews_one_per_reader;
ALTER TABLE reviews DROP COLUMN reader_sole;
DROP INDEX reviews_by_reader;
DROP TABLE reader_log;
DROP TABLE reader_suspensions;
