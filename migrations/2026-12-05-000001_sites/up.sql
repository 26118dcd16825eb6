-- Sites: every row a reader, editor or CMS creates belongs to one site, and PostgreSQL itself keeps
-- each site's rows apart (row-level security bound to the site a connection is serving), so a
-- query that forgets its site condition finds nothing of another site. See docs/sites.md.

-- A site's own settings; NULL takes the installation's (the environment variable of the same
-- name), so one site needs no configuration at all.
CREATE TABLE sites (
    site_id        TEXT PRIMARY KEY CHECK (site_id ~ '^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$'),
    name           TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    origins        TEXT[],
    languages      TEXT[],
    moderation     TEXT CHECK (moderation IN ('pre', 'post')),
    banned_terms   TEXT[],
    max_links      INTEGER CHECK (max_links >= 0),
    flag_threshold INTEGER CHECK (flag_threshold >= 1),
    newsroom_name  TEXT CHECK (length(newsroom_name) BETWEEN 1 AND 200),
    cms_secrets    TEXT[],
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- An installation that upgrades keeps everything it had in this site, with no configuration.
INSERT INTO sites (site_id, name) VALUES ('default', 'Default site');

-- Existing rows join the default site; new rows take the site the connection is bound to
-- (`marginalia.site`, set by the service before every call), so an insert made while bound to
-- no site fails loudly instead of landing somewhere.
DO $$
DECLARE
    site_table TEXT;
BEGIN
    FOREACH site_table IN ARRAY ARRAY[
        'articles', 'reviews', 'article_stats', 'article_daily_stats', 'moderation_log',
        'review_votes', 'review_flags', 'idempotency_keys', 'processed_inbound_events',
        'webhook_endpoints', 'outbox_events', 'webhook_deliveries', 'webhook_attempts'
    ] LOOP
        EXECUTE format(
            'ALTER TABLE %I ADD COLUMN site_id TEXT NOT NULL DEFAULT ''default'' REFERENCES sites (site_id)',
            site_table);
        EXECUTE format(
            'ALTER TABLE %I ALTER COLUMN site_id SET DEFAULT current_setting(''marginalia.site'')',
            site_table);
    END LOOP;
END $$;

-- An article id is unique within its site: the same id in two sites is two articles.
ALTER TABLE reviews DROP CONSTRAINT reviews_article_id_fkey;
ALTER TABLE article_stats DROP CONSTRAINT article_stats_article_id_fkey;
ALTER TABLE articles DROP CONSTRAINT articles_pkey;
ALTER TABLE articles ADD PRIMARY KEY (site_id, article_id);
ALTER TABLE reviews ADD FOREIGN KEY (site_id, article_id)
    REFERENCES articles (site_id, article_id) ON DELETE CASCADE;
ALTER TABLE article_stats DROP CONSTRAINT article_stats_pkey;
ALTER TABLE article_stats ADD PRIMARY KEY (site_id, article_id, stripe);
ALTER TABLE article_stats ADD FOREIGN KEY (site_id, article_id)
    REFERENCES articles (site_id, article_id) ON DELETE CASCADE;
ALTER TABLE article_daily_stats DROP CONSTRAINT article_daily_stats_pkey;
ALTER TABLE article_daily_stats ADD PRIMARY KEY (site_id, article_id, day, language, stripe);

-- Idempotency keys, inbound CMS deliveries and the one pending stats event are per site.
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys ADD PRIMARY KEY (site_id, key_digest);
ALTER TABLE processed_inbound_events DROP CONSTRAINT processed_inbound_events_pkey;
ALTER TABLE processed_inbound_events ADD PRIMARY KEY (site_id, webhook_id);
DROP INDEX outbox_events_one_pending_stats;
CREATE UNIQUE INDEX outbox_events_one_pending_stats ON outbox_events (site_id, article_id)
    WHERE dispatched_at IS NULL AND event_type = 'article.stats_changed';

-- The hot reads (a page of an article, the moderation queue) lead with the site.
DROP INDEX reviews_page_by_created;
CREATE INDEX reviews_page_by_created ON reviews (site_id, article_id, status, created_at, id);
DROP INDEX reviews_page_by_rating;
CREATE INDEX reviews_page_by_rating ON reviews (site_id, article_id, status, rating, id);
DROP INDEX reviews_queue;
CREATE INDEX reviews_queue ON reviews (site_id, status, id);
DROP INDEX reviews_flagged;
CREATE INDEX reviews_flagged ON reviews (site_id, status, id) WHERE flag_count > 0;

-- Row-level security, forced on the tables' owner too. A connection sees the rows of the site it
-- is bound to; '*' (installation-wide work: the webhook worker, retention, an installation
-- admin's data-rights request) sees every site's rows; unbound, it sees none.
DO $$
DECLARE
    site_table TEXT;
BEGIN
    FOREACH site_table IN ARRAY ARRAY[
        'articles', 'reviews', 'article_stats', 'article_daily_stats', 'moderation_log',
        'review_votes', 'review_flags', 'idempotency_keys', 'processed_inbound_events',
        'webhook_endpoints', 'outbox_events', 'webhook_deliveries', 'webhook_attempts'
    ] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', site_table);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', site_table);
        EXECUTE format(
            'CREATE POLICY site_isolation ON %I USING ('
            'site_id = current_setting(''marginalia.site'', true) '
            'OR current_setting(''marginalia.site'', true) = ''*'')',
            site_table);
    END LOOP;
END $$;

-- Superusers bypass row-level security whatever a table says. The service therefore works as
-- this role (no login, no bypass) when it connects as a superuser, as the embedded cluster does.
-- Roles are per cluster: several databases of one cluster share it.
DO $$
BEGIN
    CREATE ROLE marginalia_app NOLOGIN NOBYPASSRLS;
EXCEPTION
    WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
GRANT USAGE ON SCHEMA public TO marginalia_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO marginalia_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO marginalia_app;
