-- Going back would have to invent ratings for unrated reviews; refuse instead.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM reviews WHERE rating = 0) THEN
        RAISE EXCEPTION 'unrated reviews exist: the previous schema cannot hold them';
    END IF;
END
$$;
DROP INDEX reviews_replies;
DROP INDEX reviews_import_waiting;
DROP INDEX reviews_import_key;
ALTER TABLE reviews DROP CONSTRAINT reviews_import_key_whole;
ALTER TABLE reviews DROP COLUMN import_digest;
ALTER TABLE reviews DROP COLUMN import_parent;
ALTER TABLE reviews DROP COLUMN import_id;
ALTER TABLE reviews DROP COLUMN import_source;
ALTER TABLE reviews DROP COLUMN in_reply_to;
ALTER TABLE sites DROP COLUMN unrated_reviews;
ALTER TABLE article_daily_stats DROP COLUMN unrated;
ALTER TABLE article_stats DROP CONSTRAINT article_stats_check;
ALTER TABLE article_stats DROP COLUMN unrated;
ALTER TABLE article_stats ADD CONSTRAINT article_stats_check
    CHECK (review_count = count_1 + count_2 + count_3 + count_4 + count_5);
ALTER TABLE reviews DROP CONSTRAINT reviews_rating_check;
ALTER TABLE reviews ADD CONSTRAINT reviews_rating_check CHECK (rating BETWEEN 1 AND 5);
