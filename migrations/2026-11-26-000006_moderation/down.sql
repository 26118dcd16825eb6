DROP TABLE site_secrets;
DROP TABLE idempotency_keys;
DROP TABLE review_flags;
DROP TABLE review_votes;
DROP TABLE moderation_log;
DROP INDEX reviews_queue;
DROP INDEX reviews_duplicates;
ALTER TABLE reviews
    DROP COLUMN erased_at, DROP COLUMN reply_updated_at, DROP COLUMN reply_created_at,
    DROP COLUMN reply_body, DROP COLUMN edited_at, DROP COLUMN flag_count,
    DROP COLUMN unhelpful_count, DROP COLUMN helpful_count, DROP COLUMN duplicate_digest,
    DROP COLUMN edit_token_hash, DROP COLUMN reasons;
ALTER TABLE articles DROP COLUMN moderation;
