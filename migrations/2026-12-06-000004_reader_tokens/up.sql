-- Readers the newsroom knows (docs/readers.md): a site's settings for the tokens its own login
-- issues, and the verified reader a review was written by.

-- How the site's reader tokens are checked: audience, HS256 secrets, public keys (a JWKS) and/or
-- a JWKS URL, and whether anonymous reviews are still taken. NULL: no reader tokens (every review
-- anonymous, as before).
ALTER TABLE sites ADD COLUMN reader_tokens JSONB;

-- The verified reader: the id the site's login knows them by (never shown publicly) and the
-- badges the token granted when the review was written. NULL / empty for an anonymous review.
ALTER TABLE reviews
    ADD COLUMN reader_id TEXT CHECK (length(reader_id) BETWEEN 1 AND 256),
    ADD COLUMN reader_badges TEXT[] NOT NULL DEFAULT '{}';
