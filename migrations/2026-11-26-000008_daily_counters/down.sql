DROP INDEX reviews_flagged;
DROP INDEX reviews_by_author_email;
DROP INDEX reviews_page_by_created;
CREATE INDEX reviews_page_by_created ON reviews (article_id, status, created_at, id) INCLUDE (rating);
DROP TABLE article_daily_stats;
