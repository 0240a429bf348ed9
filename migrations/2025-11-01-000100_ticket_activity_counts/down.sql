DROP TRIGGER ticket_activity_counts_update ON activities;
DROP TRIGGER ticket_activity_counts_delete ON activities;
DROP TRIGGER ticket_activity_counts_insert ON activities;
DROP FUNCTION ticket_activity_counts_moved();
DROP FUNCTION ticket_activity_counts_deleted();
DROP FUNCTION ticket_activity_counts_inserted();
DROP FUNCTION ticket_activity_counts_add(integer[], integer);
DROP INDEX activities_ticket_id_id_idx;
DROP TABLE ticket_activity_counts;
