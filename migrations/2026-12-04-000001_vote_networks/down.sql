DROP INDEX review_votes_by_network;
ALTER TABLE review_votes DROP COLUMN network;
