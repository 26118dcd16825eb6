ALTER TABLE articles DROP CONSTRAINT articles_id_not_only_dots;
