-- Folds the stripes back into one row per article.
CREATE TEMPORARY TABLE folded AS
SELECT article_id, sum(review_count) AS review_count, sum(rating_sum) AS rating_sum,
       sum(count_1) AS count_1, sum(count_2) AS count_2, sum(count_3) AS count_3,
       sum(count_4) AS count_4, sum(count_5) AS count_5
FROM article_stats GROUP BY article_id;
DELETE FROM article_stats;
ALTER TABLE article_stats DROP CONSTRAINT article_stats_pkey;
ALTER TABLE article_stats DROP COLUMN stripe;
ALTER TABLE article_stats
    ALTER COLUMN review_count TYPE BIGINT,
    ALTER COLUMN rating_sum TYPE BIGINT,
    ALTER COLUMN count_1 TYPE BIGINT,
    ALTER COLUMN count_2 TYPE BIGINT,
    ALTER COLUMN count_3 TYPE BIGINT,
    ALTER COLUMN count_4 TYPE BIGINT,
    ALTER COLUMN count_5 TYPE BIGINT;
ALTER TABLE article_stats ADD PRIMARY KEY (article_id);
INSERT INTO article_stats SELECT * FROM folded;
DROP TABLE folded;
