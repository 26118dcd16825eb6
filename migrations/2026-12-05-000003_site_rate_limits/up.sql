-- A site's own rate limits on public writes (per client address a minute, 0: off); NULL: the
-- installation's (MARGINALIA_RATE_LIMIT_REVIEWS, MARGINALIA_RATE_LIMIT_REACTIONS).
ALTER TABLE sites
    ADD COLUMN rate_limit_reviews INTEGER CHECK (rate_limit_reviews BETWEEN 0 AND 100000),
    ADD COLUMN rate_limit_reactions INTEGER CHECK (rate_limit_reactions BETWEEN 0 AND 100000);
