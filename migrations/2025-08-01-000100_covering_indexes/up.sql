-- Covering indexes for "which tickets does this person take part in": the visibility
-- scope and every profile's tickets-count read only (person, ticket) pairs, so with the
-- ticket id in the index PostgreSQL answers them from the index alone (index-only scans)
-- instead of visiting one heap page per row. They supersede the single-column indexes.
CREATE INDEX tickets_requester_ticket_idx ON tickets (requester_id, id);
CREATE INDEX responders_user_ticket_idx ON responders (user_id, ticket_id);
CREATE INDEX subscribers_user_ticket_idx ON subscribers (user_id, ticket_id) WHERE user_id IS NOT NULL;
DROP INDEX tickets_requester_id_idx;
DROP INDEX responders_user_id_idx;
DROP INDEX subscribers_user_id_idx;
