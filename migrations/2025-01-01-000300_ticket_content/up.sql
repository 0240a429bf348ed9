-- What is attached to a ticket: comments (§1.5), attachments (§1.6), expenses (§1.7), reviews (§1.8).
CREATE TABLE comments (
    id          serial PRIMARY KEY,
    ticket_id   integer NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    user_id     integer NOT NULL REFERENCES profiles (id),
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comments_ticket_id_idx ON comments (ticket_id);
CREATE INDEX comments_user_id_idx ON comments (user_id);

CREATE TABLE attachments (
    id           serial PRIMARY KEY,
    ticket_id    integer NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    user_id      integer NOT NULL REFERENCES profiles (id),
    storage_key  varchar(255) NOT NULL,
    file_name    text NOT NULL,
    file_size    bigint NOT NULL DEFAULT 0,
    mime_type    text NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_ticket_id_idx ON attachments (ticket_id);
CREATE INDEX attachments_user_id_idx ON attachments (user_id);

CREATE TABLE expenses (
    id               serial PRIMARY KEY,
    ticket_id        integer NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    user_id          integer NOT NULL REFERENCES profiles (id),
    amount           numeric(19, 4) NULL,
    amount_currency  varchar(3) NOT NULL DEFAULT 'USD',
    rating           integer NOT NULL DEFAULT 0,
    scope            varchar(255) NOT NULL,
    payment_method   varchar(255) NULL,
    notes            text NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX expenses_ticket_id_idx ON expenses (ticket_id);
CREATE INDEX expenses_created_at_idx ON expenses (created_at);

CREATE TABLE reviews (
    id          serial PRIMARY KEY,
    ticket_id   integer NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    rating      smallint NOT NULL DEFAULT 1 CHECK (rating BETWEEN 0 AND 3),
    link        varchar(255) NULL,
    body        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- Who was asked, and the id of the single-use token that was spent on this review.
    recipient   text NULL,
    token_id    text NULL UNIQUE
);
CREATE INDEX reviews_ticket_id_idx ON reviews (ticket_id);
CREATE INDEX reviews_rating_idx ON reviews (rating);
