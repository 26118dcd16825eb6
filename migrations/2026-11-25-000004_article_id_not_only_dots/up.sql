-- `.` and `..` are path segments that HTTP clients resolve away, so an article with such an id
-- could never be addressed safely. NOT VALID: enforced for every new or changed row without
-- failing the upgrade of a database that already holds one (which stays readable).
ALTER TABLE articles
    ADD CONSTRAINT articles_id_not_only_dots CHECK (article_id !~ '^\.+$') NOT VALID;
