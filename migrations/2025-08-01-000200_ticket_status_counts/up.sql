-- Exact ticket counts per status, kept by the database itself, so the unfiltered totals
-- (a superuser's `meta.total`, a superuser's `tickets-count`) cost a few rows instead of a
-- count over every ticket. Each statement adds to one of 8 slots chosen at random, so
-- concurrent ticket writes rarely wait on the same counter row; readers sum the slots.
CREATE TABLE ticket_status_counts (
    status varchar(70) NOT NULL,
    slot smallint NOT NULL CHECK (slot BETWEEN 0 AND 7),
    n bigint NOT NULL,
    PRIMARY KEY (status, slot)
);

INSERT INTO ticket_status_counts (status, slot, n)
SELECT status, 0, count(*) FROM tickets GROUP BY status;

CREATE FUNCTION ticket_status_counts_add(changes jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO ticket_status_counts AS c (status, slot, n)
    SELECT key, floor(random() * 8)::smallint, value::bigint FROM jsonb_each_text(changes)
    WHERE value::bigint <> 0
    ON CONFLICT (status, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
$$;

CREATE FUNCTION ticket_status_counts_on_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_status_counts_add(
        (SELECT jsonb_object_agg(status, n) FROM (SELECT status, count(*) AS n FROM inserted GROUP BY status) s));
    RETURN NULL;
END $$;

CREATE FUNCTION ticket_status_counts_on_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_status_counts_add(
        (SELECT jsonb_object_agg(status, -n) FROM (SELECT status, count(*) AS n FROM deleted GROUP BY status) s));
    RETURN NULL;
END $$;

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

CREATE TRIGGER ticket_status_counts_insert AFTER INSERT ON tickets
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ticket_status_counts_on_insert();
CREATE TRIGGER ticket_status_counts_delete AFTER DELETE ON tickets
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION ticket_status_counts_on_delete();
CREATE TRIGGER ticket_status_counts_update AFTER UPDATE ON tickets
    REFERENCING OLD TABLE AS updated_old NEW TABLE AS updated_new
    FOR EACH STATEMENT EXECUTE FUNCTION ticket_status_counts_on_update();
