-- Review statistics by responder (BEHAVIOUR §6.3) summed per calendar month of the review,
-- kept by the database: the grouping joins every review of the window with its ticket's
-- responders (13 ms at 20,000 reviews, on every request); the summary has one row per
-- month and responder (`responder_id` 0 = the ticket has none).
--
-- A row whose reviews are all gone stays, with n = 0; readers leave such groups out.
--
-- Unlike `ticket_stats`, writers update these rows directly: reviews arrive one at a time
-- and responders rarely change on a reviewed ticket, so two writers seldom want one row.
-- Rows are written in key order, so two writers never deadlock on them.
CREATE TABLE review_stats (
    month        timestamptz NOT NULL,
    responder_id integer     NOT NULL,
    n            bigint      NOT NULL,
    ratings      bigint      NOT NULL,
    PRIMARY KEY (month, responder_id)
);

-- The columns of a review that the summary counts.
CREATE TYPE review_stat_review AS (ticket_id integer, created_at timestamptz, rating integer);

-- Adds the reviews `added` and subtracts `removed`, once per responder each review's ticket
-- has now, in one upsert in key order. Reviews of tickets that no longer exist are left
-- out: a ticket's delete subtracts its reviews before the row goes
-- (`review_stats_ticket_deleting`), because the reviews and responders its delete cascades
-- to are both gone by the time their own triggers run (the cascades' AFTER triggers wait
-- for the end of the outer statement).
CREATE FUNCTION review_stats_count(added review_stat_review[], removed review_stat_review[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO review_stats AS s (month, responder_id, n, ratings)
    SELECT date_trunc('month', c.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
           coalesce(r.user_id, 0), sum(c.sign), sum(c.sign * c.rating)
    FROM (SELECT a.*, 1 AS sign FROM unnest(added) AS a
          UNION ALL SELECT d.*, -1 FROM unnest(removed) AS d) AS c
    JOIN tickets t ON t.id = c.ticket_id
    LEFT JOIN responders r ON r.ticket_id = c.ticket_id
    GROUP BY 1, 2 HAVING sum(c.sign) <> 0 OR sum(c.sign * c.rating) <> 0 ORDER BY 1, 2
    ON CONFLICT (month, responder_id) DO UPDATE
    SET n = s.n + EXCLUDED.n, ratings = s.ratings + EXCLUDED.ratings;
END $$;

-- The same for changed reviews, with their tickets locked first, as the responders' side
-- does (`review_stats_responders_changed`): a review and a responder of the same ticket
-- written at the same moment would otherwise each miss the other, and the sums drift.
-- (One statement that changes both reviews and responders, a data-modifying CTE, would
-- still see each side after the other; no writer does that.)
CREATE FUNCTION review_stats_add(added review_stat_review[], removed review_stat_review[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM tickets t
    WHERE t.id IN (SELECT c.ticket_id FROM unnest(added || removed) AS c)
    ORDER BY t.id FOR NO KEY UPDATE;
    PERFORM review_stats_count(added, removed);
END $$;

-- Before the row goes, while its reviews and responders are still there. The delete holds
-- the ticket's row lock already.
CREATE FUNCTION review_stats_ticket_deleting() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM review_stats_count('{}', ARRAY(
        SELECT ROW(v.ticket_id, v.created_at, v.rating)::review_stat_review
        FROM reviews v WHERE v.ticket_id = OLD.id));
    RETURN OLD;
END $$;

CREATE FUNCTION review_stats_reviews_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM review_stats_add(ARRAY(
        SELECT ROW(i.ticket_id, i.created_at, i.rating)::review_stat_review FROM inserted i), '{}');
    RETURN NULL;
END $$;

CREATE FUNCTION review_stats_reviews_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM review_stats_add('{}', ARRAY(
        SELECT ROW(d.ticket_id, d.created_at, d.rating)::review_stat_review FROM deleted d));
    RETURN NULL;
END $$;

-- Only rows whose counted columns changed (an edit of the text changes none).
CREATE FUNCTION review_stats_reviews_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM review_stats_add(
        ARRAY(SELECT ROW(n.ticket_id, n.created_at, n.rating)::review_stat_review
              FROM updated_new n
              WHERE NOT EXISTS (SELECT 1 FROM updated_old o WHERE o.id = n.id
                  AND (o.ticket_id, o.created_at, o.rating) = (n.ticket_id, n.created_at, n.rating))),
        ARRAY(SELECT ROW(o.ticket_id, o.created_at, o.rating)::review_stat_review
              FROM updated_old o
              WHERE NOT EXISTS (SELECT 1 FROM updated_new n WHERE n.id = o.id
                  AND (o.ticket_id, o.created_at, o.rating) = (n.ticket_id, n.created_at, n.rating))));
    RETURN NULL;
END $$;

-- Responder rows went from (current - added + removed) to current: the reviews of the
-- affected tickets move between responder groups.
CREATE FUNCTION review_stats_responders_changed(added ticket_stat_responder[], removed ticket_stat_responder[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM tickets t
    WHERE t.id IN (SELECT x.ticket_id FROM unnest(added || removed) AS x)
    ORDER BY t.id FOR NO KEY UPDATE;

    INSERT INTO review_stats AS s (month, responder_id, n, ratings)
    WITH v AS (
        SELECT v.ticket_id, v.rating,
               date_trunc('month', v.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS month
        FROM reviews v
        WHERE v.ticket_id IN (SELECT x.ticket_id FROM unnest(added || removed) AS x)),
    now_r AS (
        SELECT r.ticket_id, r.user_id FROM responders r
        WHERE r.ticket_id IN (SELECT v.ticket_id FROM v)),
    before_r AS (
        (SELECT ticket_id, user_id FROM now_r
         EXCEPT ALL SELECT a.ticket_id, a.user_id FROM unnest(added) AS a)
        UNION ALL SELECT d.ticket_id, d.user_id FROM unnest(removed) AS d),
    d AS (
        SELECT v.month, coalesce(r.user_id, 0) AS responder_id, 1 AS n, v.rating
        FROM v LEFT JOIN now_r r ON r.ticket_id = v.ticket_id
        UNION ALL
        SELECT v.month, coalesce(r.user_id, 0), -1, -v.rating
        FROM v LEFT JOIN before_r r ON r.ticket_id = v.ticket_id)
    SELECT d.month, d.responder_id, sum(d.n), sum(d.rating) FROM d
    GROUP BY 1, 2 HAVING sum(d.n) <> 0 OR sum(d.rating) <> 0 ORDER BY 1, 2
    ON CONFLICT (month, responder_id) DO UPDATE
    SET n = s.n + EXCLUDED.n, ratings = s.ratings + EXCLUDED.ratings;
END $$;

CREATE FUNCTION review_stats_responders_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM review_stats_responders_changed(
        ARRAY(SELECT ROW(i.ticket_id, i.user_id)::ticket_stat_responder FROM inserted i), '{}');
    RETURN NULL;
END $$;

CREATE FUNCTION review_stats_responders_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM review_stats_responders_changed('{}',
        ARRAY(SELECT ROW(d.ticket_id, d.user_id)::ticket_stat_responder FROM deleted d));
    RETURN NULL;
END $$;

CREATE FUNCTION review_stats_responders_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM review_stats_responders_changed(
        ARRAY(SELECT ROW(n.ticket_id, n.user_id)::ticket_stat_responder FROM updated_new n),
        ARRAY(SELECT ROW(o.ticket_id, o.user_id)::ticket_stat_responder FROM updated_old o));
    RETURN NULL;
END $$;

-- No ticket, review or responder changes while the summary is filled from them and the
-- triggers are created.
LOCK TABLE tickets, reviews, responders IN SHARE ROW EXCLUSIVE MODE;

INSERT INTO review_stats (month, responder_id, n, ratings)
SELECT date_trunc('month', v.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
       coalesce(r.user_id, 0), count(*), sum(v.rating)
FROM reviews v LEFT JOIN responders r ON r.ticket_id = v.ticket_id
GROUP BY 1, 2;

CREATE TRIGGER review_stats_delete BEFORE DELETE ON tickets
    FOR EACH ROW EXECUTE FUNCTION review_stats_ticket_deleting();
CREATE TRIGGER review_stats_insert AFTER INSERT ON reviews
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION review_stats_reviews_inserted();
CREATE TRIGGER review_stats_delete AFTER DELETE ON reviews
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION review_stats_reviews_deleted();
CREATE TRIGGER review_stats_update AFTER UPDATE ON reviews
    REFERENCING OLD TABLE AS updated_old NEW TABLE AS updated_new
    FOR EACH STATEMENT EXECUTE FUNCTION review_stats_reviews_updated();
-- PostgreSQL fires a table's triggers in name order. On `responders` these come after
-- `ticket_participants_*`: a responder change then writes the participants before it locks
-- the ticket, the order of every subscriber change (participants, then the ticket's
-- `updated_at`). Named `review_stats_*`, they took the ticket first, and a responder and a
-- subscriber added at once for the same person and ticket deadlocked.
CREATE TRIGGER ticket_review_stats_insert AFTER INSERT ON responders
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION review_stats_responders_inserted();
CREATE TRIGGER ticket_review_stats_delete AFTER DELETE ON responders
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION review_stats_responders_deleted();
CREATE TRIGGER ticket_review_stats_update AFTER UPDATE ON responders
    REFERENCING OLD TABLE AS updated_old NEW TABLE AS updated_new
    FOR EACH STATEMENT EXECUTE FUNCTION review_stats_responders_updated();
