CREATE INDEX tickets_created_at_idx ON tickets (created_at);
DROP INDEX tickets_created_at_covering_idx;
