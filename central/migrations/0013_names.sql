-- What each gateway's config calls things (its `state`'s `names`, checked by
-- central/src/names.rs), for the console to show names, not ids: the site's name, and
-- its doors', devices' and authorities' names as JSON. A `state` without names (its
-- doors restarting) leaves them as they were.
ALTER TABLE gateways ADD COLUMN name text, ADD COLUMN names jsonb;

-- Whose holder ids the roster's people are (the roster's authority): a roster name is put
-- only on that audience's records.
ALTER TABLE staff_people ADD COLUMN authority text;
