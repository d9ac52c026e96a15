-- +goose Up

-- Account recovery and e-mail verification (API.md section 10).

-- Set by verifyEmail, or by a password reset (the link proved the mailbox).
ALTER TABLE users ADD COLUMN email_verified boolean NOT NULL DEFAULT false;

-- Pending password-reset and e-mail-verification links. Only the keyed hash
-- (HMAC-SHA256 under the server's link key) of a link's secret is kept. A
-- link is deleted when it is used and when a newer one of its kind is made
-- for the user, so a row that exists and has not expired is a valid link.
CREATE TABLE links (
    -- The token's public half, to find the row; the secret half is only
    -- ever compared, in constant time, through token_hash.
    id         text        PRIMARY KEY,
    token_hash bytea       NOT NULL,
    -- NULL for a void link: a reset asked for an address with no account
    -- writes one all the same (see outbox), and it is never found.
    user_id    text        REFERENCES users (id) ON DELETE CASCADE,
    kind       text        NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX links_user_kind_idx ON links (user_id, kind);
CREATE INDEX links_expires_at_idx ON links (expires_at);

-- E-mails to send, queued in the transaction of the request that causes
-- them. state: queued (due at next_attempt_at), sending (claimed by a
-- worker, which marks it before it sends), sent, failed (gave up), unknown
-- (a worker stopped between claiming and marking: it may or may not have
-- gone, and is never sent again), void (a reset asked for an address with
-- no account: written all the same, so that request costs what one for an
-- account does; never sent). payload is sealed under the link key,
-- since it carries the link's token; it and to_addr are wiped when the
-- mail leaves the queue.
CREATE TABLE outbox (
    id              text        PRIMARY KEY,
    -- Deleting an account deletes its mail, queued or not (NULL: void).
    user_id         text        REFERENCES users (id) ON DELETE CASCADE,
    template        text        NOT NULL,
    to_addr         text        NOT NULL,
    payload         bytea       NOT NULL,
    state           text        NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'unknown', 'void')),
    attempts        integer     NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    claimed_at      timestamptz,
    done_at         timestamptz,
    last_error      text        NOT NULL DEFAULT ''
);
CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE state = 'queued';
CREATE INDEX outbox_claimed_idx ON outbox (claimed_at) WHERE state = 'sending';
CREATE INDEX outbox_user_idx ON outbox (user_id);

-- The e-mail budget per address (RATE_LIMIT_EMAIL), in fixed windows.
-- Keyed by a keyed hash of the e-mail key, so the table names no address,
-- and written by every request for an address whether or not it has an
-- account, so the two cost the same.
CREATE TABLE email_budget (
    key_hash     bytea       PRIMARY KEY,
    window_start timestamptz NOT NULL,
    spent        integer     NOT NULL
);
