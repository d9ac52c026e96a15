-- +goose Up
-- created_at is unix microseconds, as in the SQLite migration, so one set
-- of queries serves both stores.
CREATE TABLE notes (
    id         text   PRIMARY KEY,
    user_id    text   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    text       text   NOT NULL,
    created_at bigint NOT NULL
);
CREATE INDEX notes_user_created_idx ON notes (user_id, created_at DESC);
