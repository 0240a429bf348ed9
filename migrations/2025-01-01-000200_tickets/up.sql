-- Research requests (contract §1.2) with the people attached to them (§1.3, §1.4).
CREATE TABLE tickets (
    id                    serial PRIMARY KEY,
    requester_id          integer NOT NULL REFERENCES profiles (id),
    kind                  text NOT NULL DEFAULT 'other'
        CHECK (kind IN ('person_ownership', 'company_ownership', 'vehicle_tracking', 'data_request', 'other')),
    request_type          text NOT NULL DEFAULT 'subs'
        CHECK (request_type IN ('subs', 'cost', 'cost_plus')),
    status                text NOT NULL DEFAULT 'new'
        CHECK (status IN ('new', 'in-progress', 'pending', 'closed', 'cancelled')),
    priority              text NOT NULL DEFAULT 'default'
        CHECK (priority IN ('low', 'default', 'high')),
    sensitive             boolean NOT NULL DEFAULT false,
    whysensitive          varchar(150) NULL,
    deadline_at           timestamptz NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    sent_notifications_at timestamptz NULL,
    member_center         varchar(512) NULL,
    identifier            varchar(512) NULL,
    countries             text[] NOT NULL DEFAULT '{}',
    tags                  text[] NOT NULL DEFAULT '{}',
    background            text NOT NULL,
    first_name            varchar(512) NULL,
    last_name             varchar(512) NULL,
    born_at               timestamptz NULL,
    connections           text NULL,
    sources               text NULL,
    business_activities   text NULL,
    initial_information   text NULL,
    company_name          varchar(512) NULL,
    country               varchar(100) NULL,
    -- The weighted search document of §1.2, kept by the database so it can never go stale.
    -- The configuration is named explicitly: generated columns need immutable expressions.
    search_vector         tsvector GENERATED ALWAYS AS (
          setweight(to_tsvector('english'::regconfig, coalesce(first_name, '')), 'A')
       || setweight(to_tsvector('english'::regconfig, coalesce(last_name, '')), 'A')
       || setweight(to_tsvector('english'::regconfig, coalesce(company_name, '')), 'A')
       || setweight(to_tsvector('english'::regconfig, coalesce(background, '')), 'B')
       || setweight(to_tsvector('english'::regconfig, coalesce(connections, '')), 'C')
       || setweight(to_tsvector('english'::regconfig, coalesce(sources, '')), 'C')
       || setweight(to_tsvector('english'::regconfig, coalesce(business_activities, '')), 'C')
       || setweight(to_tsvector('english'::regconfig, coalesce(initial_information, '')), 'C')
       || setweight(to_tsvector('english'::regconfig, coalesce(whysensitive, '')), 'C')
    ) STORED
);

CREATE INDEX tickets_search_vector_idx ON tickets USING gin (search_vector);
CREATE INDEX tickets_requester_id_idx ON tickets (requester_id);
CREATE INDEX tickets_status_idx ON tickets (status);
CREATE INDEX tickets_kind_idx ON tickets (kind);
CREATE INDEX tickets_request_type_idx ON tickets (request_type);
CREATE INDEX tickets_priority_idx ON tickets (priority);
CREATE INDEX tickets_country_idx ON tickets (country);
CREATE INDEX tickets_created_at_idx ON tickets (created_at);
CREATE INDEX tickets_deadline_at_idx ON tickets (deadline_at);
CREATE INDEX tickets_updated_at_idx ON tickets (updated_at);
CREATE INDEX tickets_countries_idx ON tickets USING gin (countries);

CREATE TABLE responders (
    id          serial PRIMARY KEY,
    ticket_id   integer NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    user_id     integer NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Also serves lookups by ticket_id (leading column).
    CONSTRAINT responders_ticket_id_user_id_key UNIQUE (ticket_id, user_id)
);
CREATE INDEX responders_user_id_idx ON responders (user_id);

CREATE TABLE subscribers (
    id          serial PRIMARY KEY,
    ticket_id   integer NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    user_id     integer NULL REFERENCES profiles (id) ON DELETE CASCADE,
    email       varchar(254) NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subscribers_user_or_email CHECK (user_id IS NOT NULL OR email IS NOT NULL)
);
-- The real uniqueness rules (W15): one row per (ticket, user) and per (ticket, e-mail in any case).
CREATE UNIQUE INDEX subscribers_ticket_user_key ON subscribers (ticket_id, user_id) WHERE user_id IS NOT NULL;
CREATE UNIQUE INDEX subscribers_ticket_email_key ON subscribers (ticket_id, lower(email)) WHERE email IS NOT NULL;
CREATE INDEX subscribers_ticket_id_idx ON subscribers (ticket_id);
CREATE INDEX subscribers_user_id_idx ON subscribers (user_id);
CREATE INDEX subscribers_email_lower_idx ON subscribers (lower(email));
