-- Feedback without stars, reply chains, and imports from other systems (docs/import.md).

-- A review may carry no rating: comments imported from Disqus, WordPress and the like have none,
-- and a site may let readers send feedback without stars. It is stored as 0, not NULL, so the
-- rating-sorted pages keep one total order over (rating, id) with their index (unrated reviews
-- sort below one star) and the counters' arithmetic needs no NULL cases; the store turns 0 into
-- "no rating" and nothing else ever reads the column.
-- contract: the old check refused 0; an old node reading an unrated review shows rating 0.
ALTER TABLE reviews DROP CONSTRAINT reviews_rating_check;
ALTER TABLE reviews ADD CONSTRAINT reviews_rating_check CHECK (rating BETWEEN 0 AND 5);

-- Unrated published reviews count among an article's reviews but not in its average.
ALTER TABLE article_stats ADD COLUMN unrated INTEGER NOT NULL DEFAULT 0 CHECK (unrated >= 0);
-- contract: replaced by the same check with the unrated reviews added.
ALTER TABLE article_stats DROP CONSTRAINT article_stats_check;
ALTER TABLE article_stats ADD CONSTRAINT article_stats_check
    CHECK (review_count = count_1 + count_2 + count_3 + count_4 + count_5 + unrated);
ALTER TABLE article_daily_stats ADD COLUMN unrated INTEGER NOT NULL DEFAULT 0 CHECK (unrated >= 0);

-- Whether readers may send a review without a rating; NULL: the installation's default (no).
ALTER TABLE sites ADD COLUMN unrated_reviews BOOLEAN;

-- The review this one answers, on the same article (kept from an imported comment thread).
ALTER TABLE reviews ADD COLUMN in_reply_to UUID REFERENCES reviews (id);

-- Where an imported review came from: the source system and its id there, unique per site, so a
-- second run of the same export finds what the first wrote. `import_parent` is the source id of
-- the comment it answers until that one is imported too (a reply may come before its parent).
-- `import_digest` is the source item's digest, to tell a changed item from an unchanged one.
ALTER TABLE reviews ADD COLUMN import_source TEXT;
ALTER TABLE reviews ADD COLUMN import_id TEXT;
ALTER TABLE reviews ADD COLUMN import_parent TEXT;
ALTER TABLE reviews ADD COLUMN import_digest BYTEA;
ALTER TABLE reviews ADD CONSTRAINT reviews_import_key_whole
    CHECK ((import_source IS NULL) = (import_id IS NULL));
CREATE UNIQUE INDEX reviews_import_key ON reviews (site_id, import_source, import_id)
    WHERE import_source IS NOT NULL;
-- Replies still waiting for their parent, found again after every batch of an import.
CREATE INDEX reviews_import_waiting ON reviews (site_id, import_source, import_parent)
    WHERE import_parent IS NOT NULL AND in_reply_to IS NULL;
CREATE INDEX reviews_replies ON reviews (in_reply_to) WHERE in_reply_to IS NOT NULL;
