-- Live updates (`src/live/`): what changed on an article, in the order readers must see it, kept
-- for the resume window so that a reader who reconnects (to any node) with `Last-Event-ID` gets
-- exactly what they missed.
--
-- Written in the transaction of the change itself. Ordered by the writing transaction's id and
-- then by `seq`, and read only below the oldest transaction still running
-- (`pg_snapshot_xmin(pg_current_snapshot())`): a row can never appear behind a position a reader
-- has already passed, which a sequence or a timestamp alone cannot promise (both are taken before
-- the commit, and commits finish in any order).
--
-- A row names the review and what happened to it, not its content: the content is read when the
-- event is sent, through the same filter as a public read, so nothing of a review that is not
-- public can be sent, and an erasure leaves no copy here.
CREATE TABLE live_events (
    tx         XID8 NOT NULL DEFAULT pg_current_xact_id(),
    -- Orders the events of one transaction; cached per session, since only that order matters.
    seq        BIGINT GENERATED ALWAYS AS IDENTITY (CACHE 32),
    -- No foreign key to `sites`: the row is written with every submission, and a key check is
    -- work (and a lock) on the hottest path for a row that only lives for the resume window.
    site_id    TEXT NOT NULL DEFAULT current_setting('marginalia.site'),
    article_id TEXT NOT NULL,
    review_id  UUID NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('published', 'updated', 'replied', 'removed',
                                             'moderated', 'flagged')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- One index, in the order the streams read: a site's events after a position (the
    -- moderators' stream, the sweep), and an article's among them (a feed reads from where it
    -- was a moment ago, so the range is short; a resuming reader's reaches back at most the
    -- resume window). A second, per-article index cost every submission more than it saves.
    PRIMARY KEY (site_id, tx, seq)
);
-- Pruning by age: BRIN, nearly free to keep up on an append-only table.
CREATE INDEX live_events_by_age ON live_events USING brin (created_at);

ALTER TABLE live_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE live_events FORCE ROW LEVEL SECURITY;
CREATE POLICY site_isolation ON live_events USING (
    site_id = current_setting('marginalia.site', true)
    OR current_setting('marginalia.site', true) = '*');

-- The newest position pruned: a reader resuming from before it may have missed a pruned event and
-- is told to reload instead. One row, for the whole installation.
CREATE TABLE live_events_pruned (
    only_row   BOOLEAN PRIMARY KEY DEFAULT true CHECK (only_row),
    tx         XID8 NOT NULL,
    seq        BIGINT NOT NULL
);
INSERT INTO live_events_pruned (tx, seq) VALUES ('0', 0);

GRANT SELECT, INSERT, UPDATE, DELETE ON live_events, live_events_pruned TO marginalia_app;
GRANT USAGE ON SEQUENCE live_events_seq_seq TO marginalia_app;
