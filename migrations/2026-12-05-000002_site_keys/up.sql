-- An API key serves the sites it names; NULL: every site (the installation's keys, as every key
-- was before sites existed).
ALTER TABLE api_keys
    ADD COLUMN sites TEXT[] CHECK (sites IS NULL OR cardinality(sites) > 0);
