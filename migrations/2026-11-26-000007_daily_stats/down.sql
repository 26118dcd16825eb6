DROP INDEX reviews_page_by_created;
CREATE INDEX reviews_page_by_created ON reviews (article_id, status, created_at, id);
