-- An article's reviews per day are read from the index the time-sorted pages already walk; with
-- the rating included, that read never touches the table (an index-only scan).
DROP INDEX reviews_page_by_created;
CREATE INDEX reviews_page_by_created ON reviews (article_id, status, created_at, id) INCLUDE (rating);
