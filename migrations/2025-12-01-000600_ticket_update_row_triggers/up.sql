-- The summaries' triggers for ticket updates, per row and only when a counted column moves.
--
-- Nearly every write moves a ticket's `updated_at` (every activity bumps it, §1.9). As
-- statement triggers with transition tables, the status counters and the statistics
-- summary made each of those bumps copy the old and new rows into two tuple stores and run
-- two PL/pgSQL functions whose aggregate queries found nothing to count for the status
-- counters, and expanded the full old and new state for the statistics. As row triggers
-- with a `WHEN` condition, a bump skips the status counters without calling anything, and
-- the statistics record the one thing that changed: the age (and past-deadline flag) of
-- the ticket's rows, in the groups it already sits in. POST comment: +9 % in alternating
-- runs (docs/performance.md).
--
-- Row triggers fire at the end of the statement, like the statement triggers they
-- replace, so they read the ticket's responders at the same moment. Inserts and deletes
-- keep their triggers (seeding inserts in bulk).

DROP TRIGGER ticket_status_counts_update ON tickets;
DROP TRIGGER ticket_stats_update ON tickets;
DROP FUNCTION ticket_status_counts_on_update();
DROP FUNCTION ticket_stats_tickets_updated();

CREATE FUNCTION ticket_status_counts_status_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_status_counts_add(jsonb_build_object(NEW.status, 1, OLD.status, -1));
    RETURN NULL;
END $$;

CREATE TRIGGER ticket_status_counts_update AFTER UPDATE ON tickets FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION ticket_status_counts_status_changed();

CREATE FUNCTION ticket_stats_ticket_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    age bigint;
    late bigint;
BEGIN
    IF (OLD.created_at, OLD.status, OLD.deadline_at, OLD.countries)
        IS DISTINCT FROM (NEW.created_at, NEW.status, NEW.deadline_at, NEW.countries) THEN
        -- The ticket changes groups: out with the old state, in with the new.
        PERFORM ticket_stats_record(
            ARRAY[ROW(NEW.id, NEW.created_at, NEW.status, NEW.updated_at, NEW.deadline_at,
                      NEW.countries)::ticket_stat_state],
            ARRAY[ROW(OLD.id, OLD.created_at, OLD.status, OLD.updated_at, OLD.deadline_at,
                      OLD.countries)::ticket_stat_state]);
        RETURN NULL;
    END IF;
    -- Only `updated_at` moved: the same groups, each with the age and lateness shifted by
    -- the difference of what `ticket_stats_rows` would add and remove.
    age := (extract(epoch FROM NEW.updated_at - NEW.created_at) * 1000000)::bigint
         - (extract(epoch FROM OLD.updated_at - OLD.created_at) * 1000000)::bigint;
    late := (CASE WHEN NEW.updated_at > NEW.deadline_at THEN 1 ELSE 0 END)
          - (CASE WHEN OLD.updated_at > OLD.deadline_at THEN 1 ELSE 0 END);
    IF age = 0 AND late = 0 THEN
        RETURN NULL;
    END IF;
    INSERT INTO ticket_stats_deltas
        (dimension, month, status, country, responder_id, n, age_us, past_deadline)
    SELECT g.dimension, g.period, NEW.status, g.country, g.responder_id, 0, sum(age), sum(late)
    FROM (SELECT p.month, p.year FROM (SELECT
              date_trunc('month', NEW.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
              date_trunc('year', NEW.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
              AS p (month, year)) t
    CROSS JOIN LATERAL (
        SELECT 0::smallint, t.month, ''::text, 0
        UNION ALL SELECT 1::smallint, t.month, c, 0 FROM unnest(NEW.countries) AS c
        UNION ALL SELECT 3::smallint, t.year, c, 0 FROM unnest(NEW.countries) AS c
        UNION ALL SELECT v.dimension, v.period, '', coalesce(r.user_id, 0)
            FROM (VALUES (2::smallint, t.month), (4::smallint, t.year)) AS v (dimension, period)
            LEFT JOIN responders r ON r.ticket_id = NEW.id
    ) AS g (dimension, period, country, responder_id)
    GROUP BY 1, 2, 4, 5;
    RETURN NULL;
END $$;

CREATE TRIGGER ticket_stats_update AFTER UPDATE ON tickets FOR EACH ROW
    WHEN ((OLD.created_at, OLD.status, OLD.updated_at, OLD.deadline_at, OLD.countries)
          IS DISTINCT FROM (NEW.created_at, NEW.status, NEW.updated_at, NEW.deadline_at,
                            NEW.countries))
    EXECUTE FUNCTION ticket_stats_ticket_updated();
