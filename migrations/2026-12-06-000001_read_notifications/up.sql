-- Every committed change to what a public read shows (a review added, edited, moderated, voted
-- on, answered or erased; an article changed) is announced on the channel `marginalia_reads` as
-- `<site_id>/<article_id>`. Each node listens on one connection and makes its cached reads of
-- that article stale, so a change made through one node is not served stale by another.
--
-- A trigger rather than a NOTIFY in each write: every path that changes these rows, today's and
-- tomorrow's (and an operator's hand-made UPDATE), announces itself. PostgreSQL sends the
-- notifications only at commit, never for a rolled-back transaction, and folds identical ones
-- within a transaction into one, so erasing many reviews of one article announces it once.
--
-- Expand-only: an older node ignores the notifications; nothing it reads or writes changes.
CREATE FUNCTION marginalia_announce_read_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('marginalia_reads', OLD.site_id || '/' || OLD.article_id);
    ELSE
        PERFORM pg_notify('marginalia_reads', NEW.site_id || '/' || NEW.article_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER reviews_announce_read_change
    AFTER INSERT OR UPDATE OR DELETE ON reviews
    FOR EACH ROW EXECUTE FUNCTION marginalia_announce_read_change();

CREATE TRIGGER articles_announce_read_change
    AFTER UPDATE OR DELETE ON articles
    FOR EACH ROW EXECUTE FUNCTION marginalia_announce_read_change();
