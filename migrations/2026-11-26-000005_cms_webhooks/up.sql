-- CMS integration: article lifecycle driven by signed CMS events, and outbound webhooks through a
-- transactional outbox.

-- Where an article stands in the CMS. Unpublished articles keep their published reviews readable
-- but take no new ones; deleted articles hide everything until a later publish.
ALTER TABLE articles
    ADD COLUMN lifecycle TEXT NOT NULL DEFAULT 'published'
        CHECK (lifecycle IN ('published', 'unpublished', 'deleted')),
    ADD COLUMN section TEXT,
    -- When the newest change applied to this article happened at its source (the CMS event's
    -- `timestamp`, or the time of a PUT): an older event never overwrites a newer change.
    ADD COLUMN source_changed_at TIMESTAMPTZ;

-- Inbound CMS events already applied, by their `webhook-id`: a redelivery changes nothing.
CREATE TABLE processed_inbound_events (
    webhook_id  TEXT PRIMARY KEY CHECK (length(webhook_id) BETWEEN 1 AND 256),
    event_type  TEXT NOT NULL,
    article_id  TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('applied', 'superseded')),
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX processed_inbound_events_by_age ON processed_inbound_events (received_at);

CREATE TABLE webhook_endpoints (
    id                  UUID PRIMARY KEY,
    url                 TEXT NOT NULL,
    description         TEXT,
    event_types         TEXT[] NOT NULL CHECK (cardinality(event_types) > 0),
    enabled             BOOLEAN NOT NULL DEFAULT TRUE,
    -- Signing needs the secret itself, not a digest of it.
    secret              TEXT NOT NULL,
    -- After a rotation, the old secret also signs until this time, so receivers can switch over.
    previous_secret     TEXT,
    previous_secret_until TIMESTAMPTZ,
    -- Set by the first failed attempt after a success; an endpoint failing for long is disabled.
    failing_since       TIMESTAMPTZ,
    disabled_reason     TEXT,
    created_at          TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The outbox: one row per change, written in the transaction of the change itself.
CREATE TABLE outbox_events (
    id            UUID PRIMARY KEY,
    event_type    TEXT NOT NULL,
    article_id    TEXT NOT NULL,
    payload       JSONB NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Not fanned out before this time: lets `article.stats_changed` coalesce a burst of changes.
    available_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- When the worker turned the event into deliveries, one per subscribed endpoint.
    dispatched_at TIMESTAMPTZ
);
CREATE INDEX outbox_events_pending ON outbox_events (available_at) WHERE dispatched_at IS NULL;
CREATE INDEX outbox_events_by_age ON outbox_events (created_at);
-- At most one pending `article.stats_changed` per article.
CREATE UNIQUE INDEX outbox_events_one_pending_stats ON outbox_events (article_id)
    WHERE dispatched_at IS NULL AND event_type = 'article.stats_changed';

CREATE TABLE webhook_deliveries (
    id              UUID PRIMARY KEY,
    endpoint_id     UUID NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id        UUID NOT NULL REFERENCES outbox_events (id) ON DELETE CASCADE,
    status          TEXT NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    -- For a pending delivery: when it is next due. While an attempt is in flight, the end of that
    -- attempt's lease: a worker that dies mid-send leaves it due again once the lease runs out.
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_attempt_at TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_by_event ON webhook_deliveries (event_id);

-- The delivery log: one row per attempt.
CREATE TABLE webhook_attempts (
    id               UUID PRIMARY KEY,
    delivery_id      UUID NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt          INTEGER NOT NULL,
    started_at       TIMESTAMPTZ NOT NULL,
    latency_ms       INTEGER NOT NULL,
    status_code      SMALLINT,
    error            TEXT,
    response_excerpt TEXT
);
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, attempt);
