-- Server-side sessions (only a hash of the cookie token is stored) and pending OIDC logins.
CREATE TABLE sessions (
    id               serial PRIMARY KEY,
    token_hash       bytea NOT NULL UNIQUE,
    profile_id       integer NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    idle_expires_at  timestamptz NOT NULL,
    oidc_sid         text NULL,
    oidc_subject     text NULL
);
CREATE INDEX sessions_profile_id_idx ON sessions (profile_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
CREATE INDEX sessions_oidc_sid_idx ON sessions (oidc_sid) WHERE oidc_sid IS NOT NULL;

CREATE TABLE login_attempts (
    state_hash     bytea PRIMARY KEY,
    nonce          text NOT NULL,
    pkce_verifier  text NOT NULL,
    next_path      text NOT NULL DEFAULT '/',
    created_at     timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL
);
CREATE INDEX login_attempts_expires_at_idx ON login_attempts (expires_at);
