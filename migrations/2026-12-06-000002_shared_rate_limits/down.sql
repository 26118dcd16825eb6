DROP FUNCTION marginalia_take_from_bucket(TEXT, TEXT, BYTEA, INTEGER);
DROP TABLE rate_limit_buckets;
