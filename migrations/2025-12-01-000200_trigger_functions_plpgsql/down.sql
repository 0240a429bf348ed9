-- Back to the LANGUAGE sql bodies of the migrations that created these functions.

CREATE OR REPLACE FUNCTION ticket_status_counts_add(changes jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO ticket_status_counts AS c (status, slot, n)
    SELECT key, floor(random() * 8)::smallint, value::bigint FROM jsonb_each_text(changes)
    WHERE value::bigint <> 0
    ON CONFLICT (status, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
$$;

CREATE OR REPLACE FUNCTION ticket_stats_record(added ticket_stat_state[], removed ticket_stat_state[])
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

CREATE OR REPLACE FUNCTION ticket_activity_counts_add(ticket_ids integer[], delta integer)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO ticket_activity_counts AS c (ticket_id, slot, n)
    SELECT t, floor(random() * 8)::smallint, delta * count(*)
    FROM unnest(ticket_ids) AS u (t) GROUP BY t
    ON CONFLICT (ticket_id, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
$$;

CREATE OR REPLACE FUNCTION ticket_stats_fold() RETURNS bigint LANGUAGE sql AS $$
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
