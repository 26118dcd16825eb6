-- A reader's standing on a site (docs/readers.md): moderators' suspensions and their record, the
-- lookup of a reader's reviews, and one review per reader and article where the site wants it.

-- In force while `until` is NULL (for good) or in the future; a reinstatement deletes the row.
CREATE TABLE reader_suspensions (
    site_id    TEXT NOT NULL DEFAULT current_setting('marginalia.site') REFERENCES sites (site_id),
    reader_id  TEXT NOT NULL CHECK (length(reader_id) BETWEEN 1 AND 256),
    until      TIMESTAMPTZ,
    reason     TEXT NOT NULL,
    actor      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, reader_id)
);

-- Every suspension and reinstatement, kept after the suspension itself ends: the audit record.
CREATE TABLE reader_log (
    id         UUID PRIMARY KEY,
    site_id    TEXT NOT NULL DEFAULT current_setting('marginalia.site') REFERENCES sites (site_id),
    reader_id  TEXT NOT NULL,
    action     TEXT NOT NULL CHECK (action IN ('suspend', 'reinstate')),
    until      TIMESTAMPTZ,
    reason     TEXT,
    actor      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX reader_log_by_reader ON reader_log (site_id, reader_id, id);

DO $$
DECLARE
    site_table TEXT;
BEGIN
    FOREACH site_table IN ARRAY ARRAY['reader_suspensions', 'reader_log'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', site_table);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', site_table);
        EXECUTE format(
            'CREATE POLICY site_isolation ON %I USING ('
            'site_id = current_setting(''marginalia.site'', true) '
            'OR current_setting(''marginalia.site'', true) = ''*'')',
            site_table);
    END LOOP;
END $$;
GRANT SELECT, INSERT, UPDATE, DELETE ON reader_suspensions, reader_log TO marginalia_app;

-- A reader's reviews, newest first: their history for moderators and their published count for
-- the trust policy. Anonymous reviews are left out of the index.
CREATE INDEX reviews_by_reader ON reviews (site_id, reader_id, created_at)
    WHERE reader_id IS NOT NULL;

-- Set on a verified reader's review when the site allows one per reader and article: the unique
-- index below holds the rule even against two submissions at once. A deleted review frees it.
ALTER TABLE reviews ADD COLUMN reader_sole BOOLEAN NOT NULL DEFAULT false;
CREATE UNIQUE INDEX reviews_one_per_reader ON reviews (site_id, article_id, reader_id)
    WHERE reader_sole AND status <> 'deleted';
