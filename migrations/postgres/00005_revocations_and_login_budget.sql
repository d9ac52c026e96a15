-- +goose Up

-- The revocation log (docs/revocation.md): every session that ends and every
-- rise of a user's token counter, written by triggers in the transaction of
-- the change and announced with NOTIFY in it, so no code path can forget it
-- and no instance hears of a change that was rolled back. Rows older than
-- ACCESS_TOKEN_TTL + leeway cannot matter and are pruned.
CREATE TABLE revocations (
    seq         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The writing transaction: a reader catching up asks for every row of a
    -- transaction not yet finished when it last read (the xmin of its
    -- snapshot), which a sequence number cannot give, since transactions
    -- commit in another order than they draw numbers.
    txid        xid8        NOT NULL DEFAULT pg_current_xact_id(),
    -- NULL for a user revocation.
    session_id  text,
    user_id     text        NOT NULL,
    -- A user revocation: tokens with a counter below it are refused
    -- (9223372036854775807: the user was deleted). 0 for a session.
    min_version bigint      NOT NULL DEFAULT 0,
    at          timestamptz NOT NULL
);

CREATE INDEX revocations_txid_idx ON revocations (txid);
CREATE INDEX revocations_at_idx ON revocations (at);

-- +goose StatementBegin
CREATE FUNCTION tokengate_notify_revocation(r revocations) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tokengate_revocations', json_build_object(
        's', r.session_id, 'u', r.user_id, 'v', r.min_version,
        't', (extract(epoch FROM r.at) * 1000000)::bigint)::text);
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION tokengate_session_revoked() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r revocations;
BEGIN
    INSERT INTO revocations (session_id, user_id, at)
    VALUES (NEW.id, NEW.user_id, NEW.revoked_at)
    RETURNING * INTO r;
    PERFORM tokengate_notify_revocation(r);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER sessions_revoked AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION tokengate_session_revoked();

-- +goose StatementBegin
CREATE FUNCTION tokengate_user_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    r revocations;
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO revocations (user_id, min_version, at)
        VALUES (OLD.id, 9223372036854775807, now())
        RETURNING * INTO r;
    ELSIF NEW.token_version > OLD.token_version THEN
        INSERT INTO revocations (user_id, min_version, at)
        VALUES (NEW.id, NEW.token_version, now())
        RETURNING * INTO r;
    ELSE
        -- Nothing to revoke, but copies of the user held in memory are out
        -- of date. Not logged: the copies only serve while the store is
        -- down, and an instance drops them all when it reconnects.
        PERFORM pg_notify('tokengate_revocations', json_build_object('c', NEW.id)::text);
        RETURN NULL;
    END IF;
    PERFORM tokengate_notify_revocation(r);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER users_changed AFTER UPDATE ON users
    FOR EACH ROW WHEN (OLD IS DISTINCT FROM NEW)
    EXECUTE FUNCTION tokengate_user_changed();

CREATE TRIGGER users_deleted AFTER DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION tokengate_user_changed();

-- The failed-login budget every instance shares (store/postgres/loginbudget.go):
-- one row per account that failed recently, keyed by a hash of the account
-- key so no address is stored here. UNLOGGED: a budget is cheap to lose
-- in a crash (it starts full again) and must be cheap to write.
CREATE UNLOGGED TABLE login_budget (
    key     bytea       PRIMARY KEY,
    -- GCRA's theoretical arrival time: the budget is full again at tat.
    tat     timestamptz NOT NULL,
    -- Failures in a row since the budget was last full; the delay rises with it.
    streak  integer     NOT NULL,
    -- No attempt before next_at.
    next_at timestamptz NOT NULL,
    -- Whether the last attempt was let through.
    granted boolean     NOT NULL
);
