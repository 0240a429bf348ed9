-- People known to the desk (contract §1.1) and the identity-provider accounts linked to them.
CREATE TABLE profiles (
    id            serial PRIMARY KEY,
    -- Machine accounts may have no e-mail: '' is allowed and not unique.
    email         varchar(254) NOT NULL DEFAULT '',
    first_name    varchar(150) NOT NULL DEFAULT '',
    last_name     varchar(150) NOT NULL DEFAULT '',
    is_staff      boolean NOT NULL DEFAULT false,
    is_superuser  boolean NOT NULL DEFAULT false,
    is_active     boolean NOT NULL DEFAULT true,
    bio           text NULL,
    locale        varchar(16) NOT NULL DEFAULT '',
    country       varchar(32) NOT NULL DEFAULT '',
    phone_number  varchar(255) NOT NULL DEFAULT '',
    organization  varchar(1024) NULL DEFAULT '',
    date_joined   timestamptz NOT NULL DEFAULT now(),
    last_login    timestamptz NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- E-mail matching is case-insensitive (W15).
CREATE UNIQUE INDEX profiles_email_lower_key ON profiles (lower(email)) WHERE email <> '';
CREATE INDEX profiles_is_active_idx ON profiles (is_active);

CREATE TABLE profile_identities (
    id          serial PRIMARY KEY,
    profile_id  integer NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    issuer      text NOT NULL,
    subject     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT profile_identities_issuer_subject_key UNIQUE (issuer, subject)
);
CREATE INDEX profile_identities_profile_id_idx ON profile_identities (profile_id);
