DROP TRIGGER ticket_status_counts_update ON tickets;
DROP TRIGGER ticket_status_counts_delete ON tickets;
DROP TRIGGER ticket_status_counts_insert ON tickets;
DROP FUNCTION ticket_status_counts_on_update();
DROP FUNCTION ticket_status_counts_on_delete();
DROP FUNCTION ticket_status_counts_on_insert();
DROP FUNCTION ticket_status_counts_add(jsonb);
DROP TABLE ticket_status_counts;
