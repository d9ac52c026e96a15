-- +goose Up

-- A rotation rewrites its session's sliding expiry, and while expires_at was
-- indexed every rotation was a non-HOT update: a new row version wherever
-- there was room, and a new entry in each of the table's four indexes, all
-- of it WAL. Without that index, and with room kept on every page for the
-- next version of its rows, a rotation is a heap-only update: nothing
-- indexed changes, and the old version is pruned from the page in passing.
-- Pruning ended sessions (every ten minutes, a day's retention) scans the
-- table instead; it needs no precision and runs in the background.
-- fillfactor applies to pages written from now on; the existing ones gain
-- room as their rows are updated and pruned.
DROP INDEX sessions_expires_at_idx;
ALTER TABLE sessions SET (fillfactor = 70);

-- +goose Down
ALTER TABLE sessions RESET (fillfactor);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
