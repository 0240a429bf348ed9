ALTER TABLE sessions DROP COLUMN id_token;
