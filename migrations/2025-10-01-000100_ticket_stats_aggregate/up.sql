-- Ticket statistics (BEHAVIOUR §6.2) summed per calendar month, kept by the database, so a
-- statistic reads a few hundred summary rows instead of every ticket of its window.
--
-- `dimension` says which grouping a row serves: 0 = month, 1 = one element of `countries`,
-- 2 = one responder (`responder_id` 0 = the ticket has none), each per calendar month of
-- `created_at` (`month`); 3 and 4 are 1 and 2 per calendar year (`month` = 1 January), so
-- a window of many years reads one row per year and group instead of twelve. A ticket
-- counts in the rows of its `created_at` period and current status; `age_us` sums `updated_at -
-- created_at` in microseconds, `past_deadline` counts `updated_at > deadline_at`.
--
-- Writers never update these rows: every change appends its difference to
-- `ticket_stats_deltas` (no row that two transactions both need, so no waiting), and
-- `ticket_stats_fold()` moves the differences into `ticket_stats`. Readers sum both tables.
CREATE TABLE ticket_stats (
    dimension     smallint    NOT NULL CHECK (dimension BETWEEN 0 AND 4),
    month         timestamptz NOT NULL,
    status        text        NOT NULL,
    country       text        NOT NULL DEFAULT '',
    responder_id  integer     NOT NULL DEFAULT 0,
    n             bigint      NOT NULL,
    age_us        bigint      NOT NULL,
    past_deadline bigint      NOT NULL,
    PRIMARY KEY (dimension, month, status, country, responder_id)
);

CREATE TABLE ticket_stats_deltas (
    dimension     smallint    NOT NULL,
    month         timestamptz NOT NULL,
    status        text        NOT NULL,
    country       text        NOT NULL,
    responder_id  integer     NOT NULL,
    n             bigint      NOT NULL,
    age_us        bigint      NOT NULL,
    past_deadline bigint      NOT NULL
);
CREATE INDEX ticket_stats_deltas_dimension_month_idx ON ticket_stats_deltas (dimension, month);
-- Every row is deleted by the next fold: vacuum after every thousand of them rather than
-- after a fifth of the table, so readers do not wade through dead rows.
ALTER TABLE ticket_stats_deltas SET (autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_insert_threshold = 1000);

-- The columns of a ticket that statistics read (not the wide text columns).
CREATE TYPE ticket_stat_state AS (
    id integer, created_at timestamptz, status text, updated_at timestamptz,
    deadline_at timestamptz, countries text[]
);
CREATE TYPE ticket_stat_responder AS (ticket_id integer, user_id integer);

-- The summary rows of some ticket states, each counted `sign` (1 or -1) times; the responder
-- dimension takes the responders as they are now. Ages are whole microseconds, exact (the
-- resolution of timestamptz).
CREATE FUNCTION ticket_stats_rows(states ticket_stat_state[], sign integer)
RETURNS TABLE (dimension smallint, month timestamptz, status text, country text,
               responder_id integer, n bigint, age_us bigint, past_deadline bigint)
LANGUAGE sql STABLE AS $$
    WITH t AS (
        SELECT s.id, s.status, s.countries,
               date_trunc('month', s.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS month,
               date_trunc('year', s.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS year,
               sign * (extract(epoch FROM s.updated_at - s.created_at) * 1000000)::bigint AS age,
               (CASE WHEN s.updated_at > s.deadline_at THEN sign ELSE 0 END)::bigint AS late
        FROM unnest(states) AS s),
    by_country AS (
        SELECT t.*, c.country FROM t CROSS JOIN LATERAL unnest(t.countries) AS c(country)),
    by_responder AS (
        SELECT t.*, coalesce(r.user_id, 0) AS responder_id
        FROM t LEFT JOIN responders r ON r.ticket_id = t.id)
    SELECT 0::smallint, t.month, t.status, ''::text, 0, sign::bigint, t.age, t.late FROM t
    UNION ALL
    SELECT 1::smallint, c.month, c.status, c.country, 0, sign::bigint, c.age, c.late FROM by_country c
    UNION ALL
    SELECT 3::smallint, c.year, c.status, c.country, 0, sign::bigint, c.age, c.late FROM by_country c
    UNION ALL
    SELECT 2::smallint, r.month, r.status, ''::text, r.responder_id, sign::bigint, r.age, r.late
    FROM by_responder r
    UNION ALL
    SELECT 4::smallint, r.year, r.status, ''::text, r.responder_id, sign::bigint, r.age, r.late
    FROM by_responder r
$$;

-- Appends the difference between the ticket states `added` and `removed`, one row per
-- summary row that changes.
CREATE FUNCTION ticket_stats_record(added ticket_stat_state[], removed ticket_stat_state[])
RETURNS void LANGUAGE sql AS $$
    INSERT INTO ticket_stats_deltas
        (dimension, month, status, country, responder_id, n, age_us, past_deadline)
    SELECT d.dimension, d.month, d.status, d.country, d.responder_id,
           sum(d.n), sum(d.age_us), sum(d.past_deadline)
    FROM (SELECT * FROM ticket_stats_rows(added, 1)
          UNION ALL SELECT * FROM ticket_stats_rows(removed, -1)) d
    GROUP BY 1, 2, 3, 4, 5
    HAVING sum(d.n) <> 0 OR sum(d.age_us) <> 0 OR sum(d.past_deadline) <> 0;
$$;

INSERT INTO ticket_stats
SELECT dimension, month, status, country, responder_id,
       sum(n), sum(age_us), sum(past_deadline)
FROM ticket_stats_rows(ARRAY(
         SELECT ROW(id, created_at, status, updated_at, deadline_at, countries)::ticket_stat_state
         FROM tickets), 1)
GROUP BY 1, 2, 3, 4, 5;

CREATE FUNCTION ticket_stats_tickets_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_stats_record(ARRAY(
        SELECT ROW(i.id, i.created_at, i.status, i.updated_at, i.deadline_at, i.countries)::ticket_stat_state
        FROM inserted i), '{}');
    RETURN NULL;
END $$;

-- Only rows whose counted columns changed (the digest's bookkeeping changes none of them).
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

-- Before the row goes: its responders are still there (a cascade removes them first thing
-- after, and the responders' trigger skips tickets that no longer exist).
CREATE FUNCTION ticket_stats_ticket_deleting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_stats_record('{}', ARRAY[
        ROW(OLD.id, OLD.created_at, OLD.status, OLD.updated_at, OLD.deadline_at, OLD.countries)::ticket_stat_state]);
    RETURN OLD;
END $$;

-- Responder rows went from (current - added + removed) to current: the affected tickets
-- move between responder groups. The ticket rows are locked first so that a concurrent
-- update of the same ticket (whose trigger reads the responders) is either seen complete
-- or waits for us: otherwise each side would record its change against the other's old
-- state and the sum would drift.
CREATE FUNCTION ticket_stats_responders_changed(added ticket_stat_responder[], removed ticket_stat_responder[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM tickets t
    WHERE t.id IN (SELECT (x).ticket_id FROM unnest(added || removed) AS x)
    ORDER BY t.id FOR NO KEY UPDATE;

    INSERT INTO ticket_stats_deltas
        (dimension, month, status, country, responder_id, n, age_us, past_deadline)
    WITH t AS (
        SELECT t.id, t.status,
               date_trunc('month', t.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS month,
               date_trunc('year', t.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS year,
               (extract(epoch FROM t.updated_at - t.created_at) * 1000000)::bigint AS age,
               (CASE WHEN t.updated_at > t.deadline_at THEN 1 ELSE 0 END)::bigint AS late
        FROM tickets t
        WHERE t.id IN (SELECT (x).ticket_id FROM unnest(added || removed) AS x)),
    now_r AS (
        SELECT r.ticket_id, r.user_id FROM responders r WHERE r.ticket_id IN (SELECT id FROM t)),
    before_r AS (
        (SELECT ticket_id, user_id FROM now_r
         EXCEPT ALL SELECT a.ticket_id, a.user_id FROM unnest(added) AS a)
        UNION ALL SELECT d.ticket_id, d.user_id FROM unnest(removed) AS d),
    d AS (
        SELECT t.month, t.year, t.status, coalesce(r.user_id, 0) AS responder_id,
               1 AS n, t.age, t.late
        FROM t LEFT JOIN now_r r ON r.ticket_id = t.id
        UNION ALL
        SELECT t.month, t.year, t.status, coalesce(r.user_id, 0), -1, -t.age, -t.late
        FROM t LEFT JOIN before_r r ON r.ticket_id = t.id)
    SELECT p.dimension, CASE WHEN p.dimension = 4 THEN d.year ELSE d.month END, d.status, '',
           d.responder_id, sum(d.n), sum(d.age), sum(d.late)
    FROM d CROSS JOIN (VALUES (2::smallint), (4::smallint)) AS p(dimension)
    GROUP BY 1, 2, 3, 5
    HAVING sum(d.n) <> 0 OR sum(d.age) <> 0 OR sum(d.late) <> 0;
END $$;

CREATE FUNCTION ticket_stats_responders_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_stats_responders_changed(
        ARRAY(SELECT ROW(i.ticket_id, i.user_id)::ticket_stat_responder FROM inserted i), '{}');
    RETURN NULL;
END $$;

CREATE FUNCTION ticket_stats_responders_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_stats_responders_changed('{}',
        ARRAY(SELECT ROW(d.ticket_id, d.user_id)::ticket_stat_responder FROM deleted d));
    RETURN NULL;
END $$;

CREATE FUNCTION ticket_stats_responders_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_stats_responders_changed(
        ARRAY(SELECT ROW(n.ticket_id, n.user_id)::ticket_stat_responder FROM updated_new n),
        ARRAY(SELECT ROW(o.ticket_id, o.user_id)::ticket_stat_responder FROM updated_old o));
    RETURN NULL;
END $$;

CREATE TRIGGER ticket_stats_insert AFTER INSERT ON tickets
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ticket_stats_tickets_inserted();
CREATE TRIGGER ticket_stats_update AFTER UPDATE ON tickets
    REFERENCING OLD TABLE AS updated_old NEW TABLE AS updated_new
    FOR EACH STATEMENT EXECUTE FUNCTION ticket_stats_tickets_updated();
CREATE TRIGGER ticket_stats_delete BEFORE DELETE ON tickets
    FOR EACH ROW EXECUTE FUNCTION ticket_stats_ticket_deleting();
CREATE TRIGGER ticket_stats_insert AFTER INSERT ON responders
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION ticket_stats_responders_inserted();
CREATE TRIGGER ticket_stats_delete AFTER DELETE ON responders
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION ticket_stats_responders_deleted();
CREATE TRIGGER ticket_stats_update AFTER UPDATE ON responders
    REFERENCING OLD TABLE AS updated_old NEW TABLE AS updated_new
    FOR EACH STATEMENT EXECUTE FUNCTION ticket_stats_responders_updated();

-- Moves the appended differences into `ticket_stats`; returns how many summary rows changed.
-- Rows another fold is taking are skipped, not waited for; summary rows are written in key
-- order, so two folds never deadlock.
CREATE FUNCTION ticket_stats_fold() RETURNS bigint LANGUAGE sql AS $$
    WITH taken AS (
        DELETE FROM ticket_stats_deltas d
        WHERE d.ctid = ANY (ARRAY(SELECT ctid FROM ticket_stats_deltas FOR UPDATE SKIP LOCKED))
        RETURNING d.*),
    summed AS (
        SELECT dimension, month, status, country, responder_id,
               sum(n) AS n, sum(age_us) AS age_us, sum(past_deadline) AS past_deadline
        FROM taken GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5),
    folded AS (
        INSERT INTO ticket_stats AS s SELECT * FROM summed
        ON CONFLICT (dimension, month, status, country, responder_id) DO UPDATE
        SET n = s.n + EXCLUDED.n, age_us = s.age_us + EXCLUDED.age_us,
            past_deadline = s.past_deadline + EXCLUDED.past_deadline
        RETURNING 1)
    SELECT count(*) FROM folded;
$$;
