-- The ticket timeline (§1.9) with typed references instead of generic (type, text id) pairs:
-- the target is always a ticket, and the action object names its kind explicitly (W8).
CREATE TABLE activities (
    id           serial PRIMARY KEY,
    ticket_id    integer NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    actor_id     integer NULL REFERENCES profiles (id) ON DELETE SET NULL,
    verb         varchar(500) NOT NULL,
    action_type  text NULL CHECK (action_type IN ('comment', 'attachment', 'expense', 'review', 'profile')),
    action_id    integer NULL,
    "timestamp"  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT activities_action_complete CHECK ((action_type IS NULL) = (action_id IS NULL))
);
CREATE INDEX activities_ticket_timeline_idx ON activities (ticket_id, "timestamp" DESC, id DESC);
CREATE INDEX activities_actor_id_idx ON activities (actor_id);
CREATE INDEX activities_verb_idx ON activities (verb);
CREATE INDEX activities_timeline_idx ON activities ("timestamp" DESC, id DESC);
