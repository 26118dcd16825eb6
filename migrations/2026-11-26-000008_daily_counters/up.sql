-- Per-day counters of published reviews, by the review's UTC day and language, kept in step with
-- `article_stats` by the same writes (the submission statement and every status or rating
-- change): an article's reviews per day and its language mix are then read from a few hundred
-- rows instead of counting its reviews. Striped like `article_stats`, so the reviews of one busy
-- article on one day do not all wait for one row lock.
CREATE TABLE article_daily_stats (
    article_id TEXT     NOT NULL,
    day        DATE     NOT NULL,
    -- '' when the review has no language (a primary key column cannot be NULL).
    language   TEXT     NOT NULL,
    stripe     SMALLINT NOT NULL CHECK (stripe BETWEEN 0 AND 7),
    count_1    INTEGER  NOT NULL CHECK (count_1 >= 0),
    count_2    INTEGER  NOT NULL CHECK (count_2 >= 0),
    count_3    INTEGER  NOT NULL CHECK (count_3 >= 0),
    count_4    INTEGER  NOT NULL CHECK (count_4 >= 0),
    count_5    INTEGER  NOT NULL CHECK (count_5 >= 0),
    PRIMARY KEY (article_id, day, language, stripe)
);

INSERT INTO article_daily_stats (article_id, day, language, stripe,
                                 count_1, count_2, count_3, count_4, count_5)
SELECT article_id, (created_at AT TIME ZONE 'UTC')::date, COALESCE(language, ''),
       (get_byte(uuid_send(id), 15) % 8)::smallint,
       count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = 2),
       count(*) FILTER (WHERE rating = 3), count(*) FILTER (WHERE rating = 4),
       count(*) FILTER (WHERE rating = 5)
FROM reviews
WHERE status = 'published'
GROUP BY 1, 2, 3, 4;

-- The time-sorted pages no longer need the rating in their index.
DROP INDEX reviews_page_by_created;
CREATE INDEX reviews_page_by_created ON reviews (article_id, status, created_at, id);

-- The author's other reviews, for moderators: by email, case-insensitively, newest first.
CREATE INDEX reviews_by_author_email ON reviews (lower(author_email), created_at)
    WHERE author_email IS NOT NULL;

-- The console's "flagged" tab: published reviews readers flagged, without walking every
-- published review (flags are rare, so the index stays small).
CREATE INDEX reviews_flagged ON reviews (status, id) WHERE flag_count > 0;
