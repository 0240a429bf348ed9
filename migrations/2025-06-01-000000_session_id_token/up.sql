-- The provider's ID token of a browser session: the `id_token_hint` of RP-initiated logout.
ALTER TABLE sessions ADD COLUMN id_token text NULL;
