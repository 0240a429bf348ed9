DROP TRIGGER ticket_status_counts_update ON tickets;
DROP TRIGGER ticket_stats_update ON tickets;
DROP FUNCTION ticket_status_counts_status_changed();
DROP FUNCTION ticket_stats_ticket_updated();

CREATE FUNCTION ticket_status_counts_on_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_status_counts_add((
        SELECT jsonb_object_agg(status, n) FROM (
            SELECT status, sum(n) AS n FROM (
                SELECT status, 1 AS n FROM updated_new
                UNION ALL
                SELECT status, -1 AS n FROM updated_old
            ) d GROUP BY status
        ) s));
    RETURN NULL;
END $$;

CREATE TRIGGER ticket_status_counts_update AFTER UPDATE ON tickets
    REFERENCING OLD TABLE AS updated_old NEW TABLE AS updated_new
    FOR EACH STATEMENT EXECUTE FUNCTION ticket_status_counts_on_update();

CREATE FUNCTION ticket_stats_tickets_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_stats_record(
        ARRAY(SELECT ROW(n.id, n.created_at, n.status, n.updated_at, n.deadline_at, n.countries)::ticket_stat_state
              FROM updated_new n
              WHERE NOT EXISTS (SELECT 1 FROM updated_old o WHERE o.id = n.id
                  AND (o.created_at, o.status, o.updated_at, o.deadline_at, o.countries)
                      IS NOT DISTINCT FROM (n.created_at, n.status, n.updated_at, n.deadline_at, n.countries))),
        ARRAY(SELECT ROW(o.id, o.created_at, o.status, o.updated_at, o.deadline_at, o.countries)::ticket_stat_state
              FROM updated_old o
              WHERE NOT EXISTS (SELECT 1 FROM updated_new n WHERE n.id = o.id
                  AND (o.created_at, o.status, o.updated_at, o.deadline_at, o.countries)
                      IS NOT DISTINCT FROM (n.created_at, n.status, n.updated_at, n.deadline_at, n.countries))));
    RETURN NULL;
END $$;

CREATE TRIGGER ticket_stats_update AFTER UPDATE ON tickets
    REFERENCING OLD TABLE AS updated_old NEW TABLE AS updated_new
    FOR EACH STATEMENT EXECUTE FUNCTION ticket_stats_tickets_updated();
