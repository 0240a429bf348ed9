-- Background jobs (§5). Only the table; the queue code lives elsewhere.
CREATE TABLE jobs (
    id               bigserial PRIMARY KEY,
    kind             text NOT NULL,
    payload          jsonb NOT NULL DEFAULT '{}',
    state            text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
    priority         smallint NOT NULL DEFAULT 0,
    run_at           timestamptz NOT NULL DEFAULT now(),
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL DEFAULT 1,
    last_error       text NULL,
    idempotency_key  text NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    locked_until     timestamptz NULL
);
-- A key may be reused once its earlier job has finished.
CREATE UNIQUE INDEX jobs_idempotency_key_active_key ON jobs (idempotency_key)
    WHERE state IN ('pending', 'running');
CREATE INDEX jobs_state_run_at_priority_idx ON jobs (state, run_at, priority);
