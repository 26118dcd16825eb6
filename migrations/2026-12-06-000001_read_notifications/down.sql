DROP TRIGGER articles_announce_read_change ON articles;
DROP TRIGGER reviews_announce_read_change ON reviews;
DROP FUNCTION marginalia_announce_read_change();
