-- How many activities each ticket has, kept by the database itself. The timeline's
-- pagination links need the number of a ticket's activities (`links.last`, and a 404 for a
-- page past the end); counting them is a scan of the ticket's whole index range (5–13 ms
-- for 100,000 activities), while summing these rows is a few index look-ups whatever the
-- size. Like `profile_ticket_counts`, each statement adds to one of 8 slots chosen at
-- random and readers sum the slots. Lock order: whoever records an activity locks the
-- ticket's row first (the `updated_at` bump, see `record_activity`), then a slot here; a
-- writer taking a slot before the ticket row would deadlock with a status change.

-- No activity may be written between the count below and the triggers that follow it (a
-- still-running older instance, during a rolling deploy).
LOCK TABLE activities IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE ticket_activity_counts (
    ticket_id integer NOT NULL,
    slot      smallint NOT NULL CHECK (slot BETWEEN 0 AND 7),
    n         integer NOT NULL,
    PRIMARY KEY (ticket_id, slot)
);

INSERT INTO ticket_activity_counts (ticket_id, slot, n)
SELECT ticket_id, 0, count(*) FROM activities GROUP BY ticket_id;

-- Adds `delta` per element of `ticket_ids` to each ticket's count (one row per ticket).
CREATE FUNCTION ticket_activity_counts_add(ticket_ids integer[], delta integer)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO ticket_activity_counts AS c (ticket_id, slot, n)
    SELECT t, floor(random() * 8)::smallint, delta * count(*)
    FROM unnest(ticket_ids) AS u (t) GROUP BY t
    ON CONFLICT (ticket_id, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
$$;

CREATE FUNCTION ticket_activity_counts_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_activity_counts_add(array_agg(ticket_id), 1) FROM inserted;
    RETURN NULL;
END $$;
CREATE FUNCTION ticket_activity_counts_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_activity_counts_add(array_agg(ticket_id), -1) FROM deleted;
    RETURN NULL;
END $$;
CREATE FUNCTION ticket_activity_counts_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_activity_counts_add(ARRAY[OLD.ticket_id], -1);
    PERFORM ticket_activity_counts_add(ARRAY[NEW.ticket_id], 1);
    RETURN NULL;
END $$;

-- "Load older" counts the ticket's activities at or above its cursor: a short range here.
CREATE INDEX activities_ticket_id_id_idx ON activities (ticket_id, id);

CREATE TRIGGER ticket_activity_counts_insert AFTER INSERT ON activities
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
    EXECUTE FUNCTION ticket_activity_counts_inserted();
-- Also fires for the rows a ticket's deletion cascades to; the counter rows of a deleted
-- ticket then sum to 0, and no request can name that ticket again.
CREATE TRIGGER ticket_activity_counts_delete AFTER DELETE ON activities
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT
    EXECUTE FUNCTION ticket_activity_counts_deleted();
-- Nothing moves an activity to another ticket today; if anything ever does, it is counted.
-- A row trigger with a WHEN clause (transition tables cannot go with a column list), so
-- other updates (an actor set to NULL when a profile goes) never enter PL/pgSQL.
CREATE TRIGGER ticket_activity_counts_update AFTER UPDATE OF ticket_id ON activities
    FOR EACH ROW WHEN (OLD.ticket_id IS DISTINCT FROM NEW.ticket_id)
    EXECUTE FUNCTION ticket_activity_counts_moved();
