CREATE INDEX tickets_requester_id_idx ON tickets (requester_id);
CREATE INDEX responders_user_id_idx ON responders (user_id);
CREATE INDEX subscribers_user_id_idx ON subscribers (user_id);
DROP INDEX subscribers_user_ticket_idx;
DROP INDEX responders_user_ticket_idx;
DROP INDEX tickets_requester_ticket_idx;
