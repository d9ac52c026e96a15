package revocation

import (
	"context"
	"log/slog"
	"time"

	"github.com/tokengate/tokengate/auth"
)

// CatchUp reads every revocation of the last window from log into the
// view and confirms it current as of just before the read. Call it at
// start-up, before serving; it returns the cursor Follow goes on from.
func (v *View) CatchUp(ctx context.Context, log auth.RevocationLog) (auth.RevocationCursor, error) {
	return v.readFrom(ctx, log, 0)
}

func (v *View) readFrom(ctx context.Context, log auth.RevocationLog, cursor auth.RevocationCursor) (auth.RevocationCursor, error) {
	asOf := v.opts.Clock()
	next, err := log.ReadRevocations(ctx, cursor, asOf.Add(-v.opts.Window), v.Apply)
	if err != nil {
		return cursor, err
	}
	v.Confirm(asOf)
	return next, nil
}

// Follow reads the log every interval from cursor on, until ctx ends, and
// prunes the view as it goes. On SQLite it is the feed for what other
// processes write to the same file (the `tokengate revoke-user` command),
// beside the Service's own in-process calls; PostgreSQL has its listener
// instead. A failed read is logged and retried at the next tick.
func (v *View) Follow(ctx context.Context, log auth.RevocationLog, cursor auth.RevocationCursor, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	lastPrune := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next, err := v.readFrom(ctx, log, cursor)
		if err != nil {
			if ctx.Err() == nil {
				v.opts.Logger.Warn("revocation view: reading the revocation log failed", slog.Any("err", err))
			}
			continue
		}
		cursor = next
		// Writes prune as they go; this returns an idle view's memory.
		if time.Since(lastPrune) >= time.Minute {
			v.Prune()
			lastPrune = time.Now()
		}
	}
}
