-- Who takes part in which ticket, kept by the database itself: one row per (profile,
-- ticket) for every profile that is the ticket's requester, one of its responders or a
-- subscriber with its profile (`ways` counts in how many of those ways, so removing one
-- keeps the row while another remains). It is the visibility scope of a participant in one
-- index range (instead of a union of three look-ups), and `profile_ticket_counts` holds
-- the size of each profile's set, the `tickets-count` of BEHAVIOUR §1.1, so rendering a
-- page of profiles reads a few counter rows instead of counting thousands of tickets.
CREATE TABLE ticket_participants (
    profile_id integer NOT NULL,
    ticket_id  integer NOT NULL,
    ways       integer NOT NULL CHECK (ways > 0),
    PRIMARY KEY (profile_id, ticket_id)
);

-- Like `ticket_status_counts`: each change adds to one of 8 slots chosen at random, so
-- concurrent writes for one profile (a requester filing tickets in parallel) rarely wait on
-- the same row; readers sum the slots.
CREATE TABLE profile_ticket_counts (
    profile_id integer NOT NULL,
    slot       smallint NOT NULL CHECK (slot BETWEEN 0 AND 7),
    n          bigint NOT NULL,
    PRIMARY KEY (profile_id, slot)
);

INSERT INTO ticket_participants (profile_id, ticket_id, ways)
SELECT profile_id, ticket_id, count(*) FROM (
    SELECT requester_id AS profile_id, id AS ticket_id FROM tickets
    UNION ALL SELECT user_id, ticket_id FROM responders
    UNION ALL SELECT user_id, ticket_id FROM subscribers WHERE user_id IS NOT NULL
) every_way GROUP BY profile_id, ticket_id;

INSERT INTO profile_ticket_counts (profile_id, slot, n)
SELECT profile_id, 0, count(*) FROM ticket_participants GROUP BY profile_id;

-- Adds (delta = 1) or removes (delta = -1) one way of taking part for each pair
-- (profile_ids[i], ticket_ids[i]); pairs without a profile are skipped. A pair that gains
-- its first way, or loses its last, moves its profile's count.
CREATE FUNCTION ticket_participants_change(profile_ids integer[], ticket_ids integer[], delta integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF delta > 0 THEN
        WITH pairs AS (
            SELECT p AS profile_id, t AS ticket_id, count(*)::integer AS n
            FROM unnest(profile_ids, ticket_ids) AS u (p, t)
            WHERE p IS NOT NULL AND t IS NOT NULL GROUP BY p, t
        ), upserted AS (
            INSERT INTO ticket_participants AS tp (profile_id, ticket_id, ways)
            SELECT profile_id, ticket_id, n FROM pairs
            ON CONFLICT (profile_id, ticket_id) DO UPDATE SET ways = tp.ways + EXCLUDED.ways
            -- xmax is 0 on a row this statement inserted, not on one it updated.
            RETURNING tp.profile_id, (tp.xmax = 0) AS fresh
        )
        INSERT INTO profile_ticket_counts AS c (profile_id, slot, n)
        SELECT profile_id, floor(random() * 8)::smallint, count(*) FROM upserted
        WHERE fresh GROUP BY profile_id
        ON CONFLICT (profile_id, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSE
        -- Pairs losing their last way first, then the rest (the other order would see
        -- the decremented rows and delete some that still have a way left).
        WITH gone AS (
            DELETE FROM ticket_participants tp
            USING (
                SELECT p AS profile_id, t AS ticket_id, count(*)::integer AS n
                FROM unnest(profile_ids, ticket_ids) AS u (p, t)
                WHERE p IS NOT NULL AND t IS NOT NULL GROUP BY p, t
            ) pairs
            WHERE tp.profile_id = pairs.profile_id AND tp.ticket_id = pairs.ticket_id
              AND tp.ways <= pairs.n
            RETURNING tp.profile_id
        )
        INSERT INTO profile_ticket_counts AS c (profile_id, slot, n)
        SELECT profile_id, floor(random() * 8)::smallint, -count(*) FROM gone GROUP BY profile_id
        ON CONFLICT (profile_id, slot) DO UPDATE SET n = c.n + EXCLUDED.n;
        UPDATE ticket_participants tp SET ways = tp.ways - pairs.n
        FROM (
            SELECT p AS profile_id, t AS ticket_id, count(*)::integer AS n
            FROM unnest(profile_ids, ticket_ids) AS u (p, t)
            WHERE p IS NOT NULL AND t IS NOT NULL GROUP BY p, t
        ) pairs
        WHERE tp.profile_id = pairs.profile_id AND tp.ticket_id = pairs.ticket_id
          AND tp.ways > pairs.n;
    END IF;
END $$;

-- Tickets: the requester.
CREATE FUNCTION ticket_participants_tickets_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_participants_change(array_agg(requester_id), array_agg(id), 1) FROM inserted;
    RETURN NULL;
END $$;
CREATE FUNCTION ticket_participants_tickets_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_participants_change(array_agg(requester_id), array_agg(id), -1) FROM deleted;
    RETURN NULL;
END $$;
CREATE FUNCTION ticket_participants_requester_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_participants_change(ARRAY[OLD.requester_id], ARRAY[OLD.id], -1);
    PERFORM ticket_participants_change(ARRAY[NEW.requester_id], ARRAY[NEW.id], 1);
    RETURN NULL;
END $$;
CREATE TRIGGER ticket_participants_insert AFTER INSERT ON tickets
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
    EXECUTE FUNCTION ticket_participants_tickets_inserted();
CREATE TRIGGER ticket_participants_delete AFTER DELETE ON tickets
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT
    EXECUTE FUNCTION ticket_participants_tickets_deleted();
-- A row trigger with a WHEN clause: ordinary ticket updates (status, `updated_at` bumps on
-- every comment) never enter PL/pgSQL.
CREATE TRIGGER ticket_participants_requester AFTER UPDATE OF requester_id ON tickets
    FOR EACH ROW WHEN (OLD.requester_id IS DISTINCT FROM NEW.requester_id)
    EXECUTE FUNCTION ticket_participants_requester_changed();

-- Responders and subscribers (a subscription by bare e-mail has no profile and is skipped).
CREATE FUNCTION ticket_participants_members_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_participants_change(array_agg(user_id), array_agg(ticket_id), 1) FROM inserted;
    RETURN NULL;
END $$;
CREATE FUNCTION ticket_participants_members_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_participants_change(array_agg(user_id), array_agg(ticket_id), -1) FROM deleted;
    RETURN NULL;
END $$;
CREATE FUNCTION ticket_participants_members_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ticket_participants_change(array_agg(user_id), array_agg(ticket_id), -1) FROM updated_old;
    PERFORM ticket_participants_change(array_agg(user_id), array_agg(ticket_id), 1) FROM updated_new;
    RETURN NULL;
END $$;

CREATE TRIGGER ticket_participants_insert AFTER INSERT ON responders
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
    EXECUTE FUNCTION ticket_participants_members_inserted();
CREATE TRIGGER ticket_participants_delete AFTER DELETE ON responders
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT
    EXECUTE FUNCTION ticket_participants_members_deleted();
CREATE TRIGGER ticket_participants_update AFTER UPDATE ON responders
    REFERENCING OLD TABLE AS updated_old NEW TABLE AS updated_new FOR EACH STATEMENT
    EXECUTE FUNCTION ticket_participants_members_updated();

CREATE TRIGGER ticket_participants_insert AFTER INSERT ON subscribers
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
    EXECUTE FUNCTION ticket_participants_members_inserted();
CREATE TRIGGER ticket_participants_delete AFTER DELETE ON subscribers
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT
    EXECUTE FUNCTION ticket_participants_members_deleted();
CREATE TRIGGER ticket_participants_update AFTER UPDATE ON subscribers
    REFERENCING OLD TABLE AS updated_old NEW TABLE AS updated_new FOR EACH STATEMENT
    EXECUTE FUNCTION ticket_participants_members_updated();
