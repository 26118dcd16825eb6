-- The time sorts page by (created_at, id): an order the primary key cannot offer, so the planner
-- always seeks into the article's slice of this index instead of walking the primary key.
DROP INDEX reviews_page_by_time;
CREATE INDEX reviews_page_by_created ON reviews (article_id, status, created_at, id);
