-- Email that closes the loop (docs/email.md): readers who asked to hear back, the addresses that
-- confirmed (or left), the mail queued in the transaction of the change it tells of, and each
-- site's moderators' digest.

-- The site's sender, languages of its messages, moderators and digest. NULL: the installation's
-- sender, no digest.
ALTER TABLE sites ADD COLUMN mail JSONB;

-- The author asked to be told when their review is published or answered (opt-in, per review).
ALTER TABLE reviews ADD COLUMN notify BOOLEAN NOT NULL DEFAULT false;

-- An address the site writes to. A reader's address receives nothing until it is confirmed
-- (double opt-in) unless the newsroom's own login vouched for it; a moderator's is set by an
-- administrator. `link_token` (random, 256 bits) names it in its confirmation and unsubscribe
-- links, so that the address itself never appears in a URL.
CREATE TABLE mail_recipients (
    site_id              TEXT NOT NULL DEFAULT current_setting('marginalia.site') REFERENCES sites (site_id),
    address              TEXT NOT NULL CHECK (address = lower(address) AND length(address) BETWEEN 3 AND 254),
    link_token           TEXT NOT NULL UNIQUE CHECK (length(link_token) = 43),
    role                 TEXT NOT NULL CHECK (role IN ('reader', 'moderator')),
    confirmed_at         TIMESTAMPTZ,
    unsubscribed_at      TIMESTAMPTZ,
    confirmation_sent_at TIMESTAMPTZ,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, address)
);

-- One message to send. Rendered when it is sent, from what is true then: a review erased, taken
-- down or answered differently meanwhile changes or cancels it. `waiting`: for its address to be
-- confirmed; `due`: to send at `due_at`; then `sent`, `dropped` (no longer true, or the address
-- left) or `failed` (refused for good, or out of retries).
CREATE TABLE mail_outbox (
    id           UUID PRIMARY KEY,
    site_id      TEXT NOT NULL DEFAULT current_setting('marginalia.site') REFERENCES sites (site_id),
    kind         TEXT NOT NULL CHECK (kind IN ('confirm', 'published', 'rejected', 'replied', 'digest')),
    address      TEXT NOT NULL,
    review_id    UUID REFERENCES reviews (id) ON DELETE CASCADE,
    language     TEXT NOT NULL CHECK (language IN ('uk', 'en')),
    state        TEXT NOT NULL CHECK (state IN ('waiting', 'due', 'sent', 'dropped', 'failed')),
    due_at       TIMESTAMPTZ NOT NULL,
    leased_until TIMESTAMPTZ,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    sent_at      TIMESTAMPTZ,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    FOREIGN KEY (site_id, address) REFERENCES mail_recipients (site_id, address) ON DELETE CASCADE
);
-- The worker's claim: the due messages, oldest first.
CREATE INDEX mail_outbox_due ON mail_outbox (due_at) WHERE state = 'due';
-- A review's author hears of each thing once, however often moderators change their minds.
CREATE UNIQUE INDEX mail_outbox_once ON mail_outbox (review_id, kind) WHERE review_id IS NOT NULL;
CREATE INDEX mail_outbox_by_address ON mail_outbox (site_id, address);

-- When each site's digest was last queued: one node queues it, whichever node looks first.
CREATE TABLE mail_digests (
    site_id        TEXT PRIMARY KEY DEFAULT current_setting('marginalia.site') REFERENCES sites (site_id),
    last_queued_at TIMESTAMPTZ NOT NULL
);

DO $$
DECLARE
    site_table TEXT;
BEGIN
    FOREACH site_table IN ARRAY ARRAY['mail_recipients', 'mail_outbox', 'mail_digests'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', site_table);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', site_table);
        EXECUTE format(
            'CREATE POLICY site_isolation ON %I USING ('
            'site_id = current_setting(''marginalia.site'', true) '
            'OR current_setting(''marginalia.site'', true) = ''*'')',
            site_table);
    END LOOP;
END $$;
GRANT SELECT, INSERT, UPDATE, DELETE ON mail_recipients, mail_outbox, mail_digests TO marginalia_app;
