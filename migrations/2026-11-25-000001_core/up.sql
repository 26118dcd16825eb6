-- Core tables: articles known to the CMS, reader reviews, O(1) per-article stats, API keys.

CREATE TABLE articles (
    article_id   TEXT PRIMARY KEY
                 CHECK (article_id ~ '^[A-Za-z0-9._:~-]{1,128}$'),
    title        TEXT,
    url          TEXT,
    language     TEXT,
    published_at TIMESTAMPTZ,
    reviews_open BOOLEAN NOT NULL DEFAULT TRUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE reviews (
    id           UUID PRIMARY KEY,
    article_id   TEXT NOT NULL REFERENCES articles (article_id) ON DELETE CASCADE,
    rating       SMALLINT NOT NULL CHECK (rating BETWEEN 1 AND 5),
    title        TEXT,
    body         TEXT NOT NULL,
    author_name  TEXT,
    author_email TEXT,
    language     TEXT,
    -- Moderation arrives later; every public read filters on 'published'.
    status       TEXT NOT NULL DEFAULT 'published'
                 CHECK (status IN ('pending', 'published', 'rejected', 'spam', 'deleted')),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Keyset pages: ids are UUIDv7, so id order is creation order.
CREATE INDEX reviews_page_by_time ON reviews (article_id, status, id);
CREATE INDEX reviews_page_by_rating ON reviews (article_id, status, rating, id);

CREATE TABLE article_stats (
    article_id   TEXT PRIMARY KEY REFERENCES articles (article_id) ON DELETE CASCADE,
    review_count BIGINT NOT NULL DEFAULT 0 CHECK (review_count >= 0),
    rating_sum   BIGINT NOT NULL DEFAULT 0 CHECK (rating_sum >= 0),
    count_1      BIGINT NOT NULL DEFAULT 0 CHECK (count_1 >= 0),
    count_2      BIGINT NOT NULL DEFAULT 0 CHECK (count_2 >= 0),
    count_3      BIGINT NOT NULL DEFAULT 0 CHECK (count_3 >= 0),
    count_4      BIGINT NOT NULL DEFAULT 0 CHECK (count_4 >= 0),
    count_5      BIGINT NOT NULL DEFAULT 0 CHECK (count_5 >= 0),
    CHECK (review_count = count_1 + count_2 + count_3 + count_4 + count_5),
    CHECK (rating_sum = count_1 + 2 * count_2 + 3 * count_3 + 4 * count_4 + 5 * count_5)
);

CREATE TABLE api_keys (
    id           UUID PRIMARY KEY,
    name         TEXT NOT NULL,
    scopes       TEXT[] NOT NULL,
    key_hash     BYTEA NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
