-- Each article's counters are spread over up to 8 stripes, so concurrent reviews of one busy
-- article update different rows instead of queueing on one row lock. Reading sums at most 8 rows
-- found through the primary key: still O(1). Per-stripe counters fit in integer, and SUM over
-- integers is a bigint.
ALTER TABLE article_stats ADD COLUMN stripe SMALLINT NOT NULL DEFAULT 0 CHECK (stripe BETWEEN 0 AND 7);
ALTER TABLE article_stats DROP CONSTRAINT article_stats_pkey;
ALTER TABLE article_stats ADD PRIMARY KEY (article_id, stripe);
ALTER TABLE article_stats
    ALTER COLUMN review_count TYPE INTEGER,
    ALTER COLUMN rating_sum TYPE INTEGER,
    ALTER COLUMN count_1 TYPE INTEGER,
    ALTER COLUMN count_2 TYPE INTEGER,
    ALTER COLUMN count_3 TYPE INTEGER,
    ALTER COLUMN count_4 TYPE INTEGER,
    ALTER COLUMN count_5 TYPE INTEGER;
