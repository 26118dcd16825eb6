-- Rate limits shared by every node: one bucket per limit and client, so that N nodes behind a load
-- balancer allow a client what one node would (each node used to count alone).
--
-- UNLOGGED: a bucket is worth nothing after a crash (the worst is a client allowed a full burst
-- again), and skipping the WAL keeps the write cheap; nor is it replicated, which is right since
-- only the primary is asked. The client is a keyed digest of its network (the installation's
-- salt), never an address.
CREATE UNLOGGED TABLE rate_limit_buckets (
    -- Whose limit: '*' for the installation's (shared by the sites without one of their own), or
    -- the site id.
    limit_owner   TEXT NOT NULL,
    kind          TEXT NOT NULL,
    client        BYTEA NOT NULL,
    -- GCRA's theoretical arrival time: the bucket is full again at this instant.
    full_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (limit_owner, kind, client)
);
GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limit_buckets TO marginalia_app;

-- Takes one request from a bucket of `per_minute` a minute, all of which may come at once (the
-- same GCRA the node's own limiter runs). Returns 0 when admitted, else the microseconds until
-- the bucket admits one again. One statement, atomic under concurrency: the upsert locks the row.
CREATE FUNCTION marginalia_take_from_bucket(
    p_owner TEXT, p_kind TEXT, p_client BYTEA, p_per_minute INTEGER
) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    emission  INTERVAL := make_interval(secs => 60.0 / p_per_minute);
    tolerance INTERVAL := make_interval(secs => 60.0) - make_interval(secs => 60.0 / p_per_minute);
    now_      TIMESTAMPTZ := clock_timestamp();
    full_at_  TIMESTAMPTZ;
BEGIN
    INSERT INTO rate_limit_buckets AS b (limit_owner, kind, client, full_at)
    VALUES (p_owner, p_kind, p_client, now_ + emission)
    ON CONFLICT (limit_owner, kind, client) DO UPDATE
        SET full_at = GREATEST(b.full_at, now_) + emission
        WHERE GREATEST(b.full_at, now_) - now_ <= tolerance
    RETURNING b.full_at INTO full_at_;
    IF FOUND THEN
        RETURN 0;
    END IF;
    SELECT b.full_at INTO full_at_ FROM rate_limit_buckets b
     WHERE b.limit_owner = p_owner AND b.kind = p_kind AND b.client = p_client;
    RETURN GREATEST(1, ceil(extract(epoch FROM (full_at_ - tolerance - now_)) * 1000000)::BIGINT);
END
$$;
