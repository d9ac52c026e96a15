-- +goose Up

-- (The failed-login budget of the PostgreSQL file is shared by instances;
-- one SQLite instance keeps it in process, so it has no table here.)

-- The revocation log, as in PostgreSQL (docs/revocation.md): every session
-- that ends and every rise of a user's token counter, written by triggers
-- in the transaction of the change. One writer connection commits in order,
-- so seq alone tells a reader where it stopped. Times are unix microseconds.
CREATE TABLE revocations (
    seq         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    -- NULL for a user revocation.
    session_id  TEXT,
    user_id     TEXT    NOT NULL,
    -- A user revocation: tokens with a counter below it are refused
    -- (9223372036854775807: the user was deleted). 0 for a session.
    min_version INTEGER NOT NULL DEFAULT 0,
    at          INTEGER NOT NULL
) STRICT;

CREATE INDEX revocations_at_idx ON revocations (at);

-- +goose StatementBegin
CREATE TRIGGER sessions_revoked AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
BEGIN
    INSERT INTO revocations (session_id, user_id, at) VALUES (NEW.id, NEW.user_id, NEW.revoked_at);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER users_version_raised AFTER UPDATE OF token_version ON users
    FOR EACH ROW WHEN NEW.token_version > OLD.token_version
BEGIN
    INSERT INTO revocations (user_id, min_version, at)
    VALUES (NEW.id, NEW.token_version, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER users_deleted AFTER DELETE ON users
    FOR EACH ROW
BEGIN
    INSERT INTO revocations (user_id, min_version, at)
    VALUES (OLD.id, 9223372036854775807, CAST(unixepoch('subsec') * 1000000 AS INTEGER));
END;
-- +goose StatementEnd
