-- +goose Up

-- A rotation rewrites its session's sliding expiry; while expires_at was
-- indexed, every rotation also deleted and inserted an index entry, more
-- pages to write to the WAL and to sync at its commit. Pruning ended
-- sessions (every ten minutes, a day's retention) scans the table instead.
-- The PostgreSQL migration of the same number says the rest.
DROP INDEX sessions_expires_at_idx;

-- +goose Down
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
