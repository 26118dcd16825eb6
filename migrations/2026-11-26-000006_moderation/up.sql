-- Moderation, author controls and abuse protection.

-- NULL: the site's default mode (MARGINALIA_MODERATION) applies.
ALTER TABLE articles
    ADD COLUMN moderation TEXT CHECK (moderation IN ('pre', 'post'));

ALTER TABLE reviews
    -- Reason codes of the automatic decisions about this review (rules, flags), for moderators.
    ADD COLUMN reasons TEXT[] NOT NULL DEFAULT '{}',
    -- SHA-256 of the author's edit token; the token itself is shown once and never stored.
    ADD COLUMN edit_token_hash BYTEA,
    -- Keyed digest of (article, client address, normalized text): finds the same text from the
    -- same client without storing the address.
    ADD COLUMN duplicate_digest BYTEA,
    ADD COLUMN helpful_count INTEGER NOT NULL DEFAULT 0 CHECK (helpful_count >= 0),
    ADD COLUMN unhelpful_count INTEGER NOT NULL DEFAULT 0 CHECK (unhelpful_count >= 0),
    ADD COLUMN flag_count INTEGER NOT NULL DEFAULT 0 CHECK (flag_count >= 0),
    ADD COLUMN edited_at TIMESTAMPTZ,
    -- The newsroom's one public reply.
    ADD COLUMN reply_body TEXT,
    ADD COLUMN reply_created_at TIMESTAMPTZ,
    ADD COLUMN reply_updated_at TIMESTAMPTZ,
    -- Set when the author's personal data and text were erased on request.
    ADD COLUMN erased_at TIMESTAMPTZ;

CREATE INDEX reviews_duplicates ON reviews (duplicate_digest, created_at)
    WHERE duplicate_digest IS NOT NULL;
-- The moderators' queue: by status, oldest first.
CREATE INDEX reviews_queue ON reviews (status, id);

-- Every status change and reply, by whom (an API key's name, `author`, `rules` or `flags`).
CREATE TABLE moderation_log (
    id          UUID PRIMARY KEY,
    review_id   UUID NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    from_status TEXT,
    to_status   TEXT NOT NULL,
    reasons     TEXT[] NOT NULL DEFAULT '{}',
    note        TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX moderation_log_by_review ON moderation_log (review_id, id);

-- One helpful/unhelpful vote per voter and review; `voter` is a keyed digest, never an address.
CREATE TABLE review_votes (
    review_id  UUID NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    voter      BYTEA NOT NULL,
    helpful    BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (review_id, voter)
);

CREATE TABLE review_flags (
    review_id  UUID NOT NULL REFERENCES reviews (id) ON DELETE CASCADE,
    voter      BYTEA NOT NULL,
    -- Keyed digest of the flagging client's network (address, /64 for IPv6) and day: the
    -- threshold counts distinct networks, so one client inventing voter tokens cannot take a
    -- review down alone.
    network    BYTEA NOT NULL,
    reason     TEXT NOT NULL,
    note       TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (review_id, voter)
);

-- Submissions by `Idempotency-Key`, kept 24 hours so a retry through any instance replays the
-- original answer. The key is stored as a digest; the edit token of the answer is sealed with a
-- pad derived from the key, so this table reveals neither.
CREATE TABLE idempotency_keys (
    key_digest     BYTEA PRIMARY KEY,
    request_digest BYTEA NOT NULL,
    review_id      UUID,
    response       TEXT,
    sealed_token   BYTEA,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);

-- Reviews now leave `published` (moderation), and each leaves the stripe it was counted in, which
-- is picked from its id. Counters written before striping all sit in stripe 0, so the counters are
-- rebuilt from the reviews, each in its own stripe (the same byte `store::stats::stripe_of` reads).
DELETE FROM article_stats;
INSERT INTO article_stats (article_id, stripe, review_count, rating_sum,
                           count_1, count_2, count_3, count_4, count_5)
SELECT article_id, (get_byte(uuid_send(id), 15) % 8)::smallint, count(*), sum(rating),
       count(*) FILTER (WHERE rating = 1), count(*) FILTER (WHERE rating = 2),
       count(*) FILTER (WHERE rating = 3), count(*) FILTER (WHERE rating = 4),
       count(*) FILTER (WHERE rating = 5)
FROM reviews
WHERE status = 'published'
GROUP BY 1, 2;

-- Secrets the service generates for itself, shared by every instance: the salt of the client
-- digests (voters, duplicates). gen_random_uuid() draws from a strong random source.
CREATE TABLE site_secrets (
    name  TEXT PRIMARY KEY,
    value BYTEA NOT NULL
);
INSERT INTO site_secrets (name, value)
VALUES ('client_digest_salt',
        decode(replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex'));
