-- +goose Up

-- Times are INTEGER unix microseconds in UTC: comparisons are numeric and the
-- precision matches PostgreSQL's timestamptz. STRICT keeps every column the
-- declared type.

CREATE TABLE users (
    id            TEXT    NOT NULL PRIMARY KEY,
    email         TEXT    NOT NULL,
    -- auth.EmailKey(email): the case-folded form, so uniqueness and lookup
    -- fold case the same way in both stores.
    email_key     TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL,
    password_hash BLOB    NOT NULL,
    token_version INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    id             TEXT    NOT NULL PRIMARY KEY,
    user_id        TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    generation     INTEGER NOT NULL,
    created_at     INTEGER NOT NULL,
    last_used_at   INTEGER NOT NULL,
    rotated_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    max_expires_at INTEGER NOT NULL,
    revoked_at     INTEGER,
    user_agent     TEXT    NOT NULL DEFAULT '',
    ip             TEXT    NOT NULL DEFAULT '',
    -- The sliding expiry never passes the absolute one, so "expires_at > now"
    -- alone decides whether a session has expired, and pruning needs one
    -- expiry index.
    CONSTRAINT sessions_expiry_within_max CHECK (expires_at <= max_expires_at)
) STRICT;

-- A user's sessions newest first: listing the live ones, the per-user cap,
-- revoking them all, and the foreign key's cascade.
CREATE INDEX sessions_user_created_idx ON sessions (user_id, created_at DESC, id DESC);

-- Pruning: sessions that expired, or were revoked, before a cutoff.
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
