-- The network each vote came from (a keyed digest of the IPv4 address or IPv6 /64 and the UTC
-- day, as for flags), so that one network's new votes on a review are bounded per day however
-- many User-Agents or voter tokens it invents. Votes cast before this have none and count for
-- no network.
ALTER TABLE review_votes ADD COLUMN network bytea;
CREATE INDEX review_votes_by_network ON review_votes (review_id, network) WHERE network IS NOT NULL;
