DROP INDEX reviews_page_by_created;
CREATE INDEX reviews_page_by_time ON reviews (article_id, status, id);
