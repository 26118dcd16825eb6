DO $$
DECLARE
    site_table TEXT;
BEGIN
    FOREACH site_table IN ARRAY ARRAY[
        'articles', 'reviews', 'article_stats', 'article_daily_stats', 'moderation_log',
        'review_votes', 'review_flags', 'idempotency_keys', 'processed_inbound_events',
        'webhook_endpoints', 'outbox_events', 'webhook_deliveries', 'webhook_attempts'
    ] LOOP
        EXECUTE format('DROP POLICY site_isolation ON %I', site_table);
        EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', site_table);
        EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', site_table);
    END LOOP;
END $$;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM marginalia_app;
REVOKE SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public FROM marginalia_app;
REVOKE USAGE ON SCHEMA public FROM marginalia_app;

-- Only the default site's rows can go back to a single-site schema.
DELETE FROM articles WHERE site_id <> 'default';
DELETE FROM idempotency_keys WHERE site_id <> 'default';
DELETE FROM processed_inbound_events WHERE site_id <> 'default';
DELETE FROM outbox_events WHERE site_id <> 'default';
DELETE FROM webhook_endpoints WHERE site_id <> 'default';

DROP INDEX reviews_flagged;
CREATE INDEX reviews_flagged ON reviews (status, id) WHERE flag_count > 0;
DROP INDEX reviews_queue;
CREATE INDEX reviews_queue ON reviews (status, id);
DROP INDEX reviews_page_by_rating;
CREATE INDEX reviews_page_by_rating ON reviews (article_id, status, rating, id);
DROP INDEX reviews_page_by_created;
CREATE INDEX reviews_page_by_created ON reviews (article_id, status, created_at, id);
DROP INDEX outbox_events_one_pending_stats;
CREATE UNIQUE INDEX outbox_events_one_pending_stats ON outbox_events (article_id)
    WHERE dispatched_at IS NULL AND event_type = 'article.stats_changed';
ALTER TABLE processed_inbound_events DROP CONSTRAINT processed_inbound_events_pkey;
ALTER TABLE processed_inbound_events ADD PRIMARY KEY (webhook_id);
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (key_digest);
ALTER TABLE article_daily_stats DROP CONSTRAINT article_daily_stats_pkey;
ALTER TABLE article_daily_stats ADD PRIMARY KEY (article_id, day, language, stripe);
ALTER TABLE article_stats DROP CONSTRAINT article_stats_site_id_article_id_fkey;
ALTER TABLE article_stats DROP CONSTRAINT article_stats_pkey;
ALTER TABLE article_stats ADD PRIMARY KEY (article_id, stripe);
ALTER TABLE reviews DROP CONSTRAINT reviews_site_id_article_id_fkey;
ALTER TABLE articles DROP CONSTRAINT articles_pkey;
ALTER TABLE articles ADD PRIMARY KEY (article_id);
ALTER TABLE reviews ADD FOREIGN KEY (article_id) REFERENCES articles (article_id) ON DELETE CASCADE;
ALTER TABLE article_stats ADD FOREIGN KEY (article_id) REFERENCES articles (article_id) ON DELETE CASCADE;

DO $$
DECLARE
    site_table TEXT;
BEGIN
    FOREACH site_table IN ARRAY ARRAY[
        'articles', 'reviews', 'article_stats', 'article_daily_stats', 'moderation_log',
        'review_votes', 'review_flags', 'idempotency_keys', 'processed_inbound_events',
        'webhook_endpoints', 'outbox_events', 'webhook_deliveries', 'webhook_attempts'
    ] LOOP
        EXECUTE format('ALTER TABLE %I DROP COLUMN site_id', site_table);
    END LOOP;
END $$;
DROP TABLE sites;
