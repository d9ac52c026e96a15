-- +goose Up

CREATE TABLE users (
    id            text        PRIMARY KEY,
    email         text        NOT NULL,
    -- auth.EmailKey(email): the case-folded form, so uniqueness and lookup
    -- fold case the same way in both stores.
    email_key     text        NOT NULL CONSTRAINT users_email_key_unique UNIQUE,
    name          text        NOT NULL,
    password_hash bytea       NOT NULL,
    token_version bigint      NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL
);

CREATE TABLE sessions (
    id             text        PRIMARY KEY,
    user_id        text        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    generation     bigint      NOT NULL,
    created_at     timestamptz NOT NULL,
    last_used_at   timestamptz NOT NULL,
    rotated_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    max_expires_at timestamptz NOT NULL,
    revoked_at     timestamptz,
    user_agent     text        NOT NULL DEFAULT '',
    ip             text        NOT NULL DEFAULT '',
    -- The sliding expiry never passes the absolute one, so "expires_at > now"
    -- alone decides whether a session has expired, and pruning needs one
    -- expiry index.
    CONSTRAINT sessions_expiry_within_max CHECK (expires_at <= max_expires_at)
);

-- A user's sessions newest first: listing the live ones, the per-user cap,
-- revoking them all, and the foreign key's cascade.
CREATE INDEX sessions_user_created_idx ON sessions (user_id, created_at DESC, id DESC);

-- Pruning: sessions that expired, or were revoked, before a cutoff.
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
CREATE INDEX sessions_revoked_at_idx ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
