ALTER TABLE sites DROP COLUMN rate_limit_reactions, DROP COLUMN rate_limit_reviews;
