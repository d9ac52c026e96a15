package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokengate/tokengate/auth"
)

// ListenerName is the application_name the listener's connection carries
// unless its URL sets one, so an operator can find it in pg_stat_activity.
const ListenerName = "tokengate-revocations"

// FeedConfig configures a Feed.
type FeedConfig struct {
	// URL is DATABASE_LISTEN_URL: a direct connection to the server.
	// LISTEN needs a session of its own, which a PgBouncer transaction
	// pool does not give.
	URL string
	// Sink receives every revocation and the confirmations that it is
	// current: the instance's revocation view.
	Sink auth.RevocationSink
	// Window is how far back a catch-up reads: ACCESS_TOKEN_TTL plus leeway.
	Window time.Duration
	// Clock reads the time.
	Clock auth.Clock
	// Heartbeat is the longest the feed goes without confirming the sink is
	// current while connected (default 500ms, so the one-second rule holds
	// with a round trip to spare).
	Heartbeat time.Duration
	// OnReconnect is called after every reconnection's catch-up (not the
	// first connection's). Changes to users that revoke nothing are only
	// announced, not logged, so whatever caches users should drop them
	// here (usercache.Cache.Clear). Optional.
	OnReconnect func()
	// Logger receives connection failures and reconnections. Optional.
	Logger *slog.Logger
}

// Feed keeps a revocation sink current from PostgreSQL: it LISTENs on one
// dedicated connection, catches up from the revocation log at start-up and
// after every reconnect, applies each notification as it arrives, and
// re-reads the log's newest entries at least every Heartbeat to confirm
// that nothing was missed.
type Feed struct {
	cfg    FeedConfig
	conn   *pgx.ConnConfig
	cursor snapshotCursor
	// Counters for metrics and tests.
	connects      atomic.Uint64
	disconnects   atomic.Uint64
	notifications atomic.Uint64
	heartbeats    atomic.Uint64
}

// NewFeed checks cfg and returns a Feed that Run starts.
func NewFeed(cfg FeedConfig) (*Feed, error) {
	if cfg.Sink == nil || cfg.Clock == nil || cfg.Window <= 0 {
		return nil, errors.New("revocation feed: Sink, Clock and a positive Window are required")
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 500 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cc, err := pgx.ParseConfig(cfg.URL)
	if err != nil {
		// pgx's message can quote the URL, password included.
		return nil, errors.New("revocation feed: DATABASE_LISTEN_URL is not a valid PostgreSQL connection string")
	}
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = defaultConnectTimeout
	}
	if _, ok := cc.RuntimeParams["application_name"]; !ok {
		cc.RuntimeParams["application_name"] = ListenerName
	}
	return &Feed{cfg: cfg, conn: cc}, nil
}

// FeedStats are a Feed's counters.
type FeedStats struct {
	// Connects counts connections that caught up; Disconnects, sessions
	// that ended (failed attempts included).
	Connects, Disconnects, Notifications, Heartbeats uint64
}

// Stats returns the Feed's counters.
func (f *Feed) Stats() FeedStats {
	return FeedStats{Connects: f.connects.Load(), Disconnects: f.disconnects.Load(), Notifications: f.notifications.Load(), Heartbeats: f.heartbeats.Load()}
}

// Run feeds the sink until ctx ends, reconnecting after any failure with a
// backoff from 100ms to 2s. It returns ctx's error. Run must not be called
// twice at once.
func (f *Feed) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for {
		before := f.connects.Load()
		err := f.session(ctx)
		f.disconnects.Add(1)
		if f.connects.Load() > before {
			// It was connected and caught up: start the backoff over.
			backoff = 100 * time.Millisecond
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f.cfg.Logger.Warn("revocation listener disconnected; reconnecting", "err", err, "retry_in", backoff.String())
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// session is one connection's life: connect, LISTEN, catch up, then wait
// for notifications with a heartbeat read whenever one is due. It returns
// the error that ended it.
func (f *Feed) session(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, f.conn)
	if err != nil {
		return classify("revocation listener: connect", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, "LISTEN "+revocationChannel); err != nil {
		return classify("revocation listener: listen", err)
	}
	// LISTEN first, catch up second: a revocation committed in between is
	// both notified and read, never neither.
	if err := f.heartbeat(ctx, conn); err != nil {
		return err
	}
	if f.connects.Add(1) > 1 {
		f.cfg.Logger.Info("revocation listener reconnected and caught up")
		if f.cfg.OnReconnect != nil {
			f.cfg.OnReconnect()
		}
	}
	// Scheduling uses the monotonic clock; Clock only stamps what the sink
	// is told, so a test's fake clock decides staleness, not timers.
	last := time.Now()
	for {
		if wait := f.cfg.Heartbeat - time.Since(last); wait > 0 {
			wctx, cancel := context.WithTimeout(ctx, wait)
			n, err := conn.WaitForNotification(wctx)
			cancel()
			switch {
			case err == nil:
				f.notifications.Add(1)
				f.apply(n.Payload)
				continue
			case ctx.Err() != nil:
				return ctx.Err()
			case !errors.Is(err, context.DeadlineExceeded) && !pgconnTimeout(err):
				return classify("revocation listener: wait", err)
			}
		}
		if err := f.heartbeat(ctx, conn); err != nil {
			return err
		}
		last = time.Now()
	}
}

// heartbeat reads the log past the cursor on the listening connection and
// confirms the sink current as of just before the read.
func (f *Feed) heartbeat(ctx context.Context, conn *pgx.Conn) error {
	asOf := f.cfg.Clock()
	hctx, cancel := context.WithTimeout(ctx, max(f.cfg.Heartbeat, time.Second))
	defer cancel()
	next, err := readSince(hctx, conn, f.cursor, asOf.Add(-f.cfg.Window), f.applyRevocation)
	if err != nil {
		return fmt.Errorf("revocation listener: catch up: %w", err)
	}
	f.cursor = next
	f.heartbeats.Add(1)
	f.cfg.Sink.Confirm(asOf)
	return nil
}

// snapshotCursor is where the feed stopped, precisely: the xmax of its last
// read's snapshot and the transactions that snapshot saw in progress. Every
// other transaction below xmax had finished, so its rows were read then;
// the next read asks only for rows of later transactions or of those. (The
// Store's ReadRevocations keeps only the xmin in its int64 cursor and so
// may read rows again; the heartbeat runs twice a second on every
// instance, where a transaction left open elsewhere on the server would
// hold the xmin back and make each heartbeat read the whole window again.)
type snapshotCursor struct {
	xmax       int64
	inProgress []string
}

// readSinceSQL is readRevocationsSQL with the precise cursor: a first row
// holding the statement's snapshot (xmax and in-progress ids), then the
// rows of transactions at or after the last xmax or in progress then.
const readSinceSQL = `
	WITH snap AS (SELECT pg_current_snapshot() AS s)
	SELECT NULL::text, NULL::text, NULL::bigint, NULL::timestamptz,
		pg_snapshot_xmax(s)::text::bigint, ARRAY(SELECT x::text FROM pg_snapshot_xip(s) AS x)
	FROM snap
	UNION ALL
	(SELECT session_id, user_id, min_version, at, NULL::bigint, NULL::text[] FROM revocations
	 WHERE (txid >= $1::text::xid8 OR txid = ANY($2::text[]::xid8[])) AND at >= $3
	 ORDER BY seq)`

func readSince(ctx context.Context, conn *pgx.Conn, c snapshotCursor, since time.Time, fn func(auth.Revocation)) (snapshotCursor, error) {
	inProgress := c.inProgress
	if inProgress == nil {
		inProgress = []string{}
	}
	rows, err := conn.Query(ctx, readSinceSQL, strconv.FormatInt(c.xmax, 10), inProgress, ts(since))
	if err != nil {
		return c, classify("read revocations", err)
	}
	defer rows.Close()
	var next snapshotCursor
	gotSnapshot := false
	for rows.Next() {
		var (
			sessionID, userID *string
			minVersion, xmax  *int64
			at                *time.Time
			xip               []string
		)
		if err := rows.Scan(&sessionID, &userID, &minVersion, &at, &xmax, &xip); err != nil {
			return c, classify("read revocations", err)
		}
		if xmax != nil {
			next, gotSnapshot = snapshotCursor{xmax: *xmax, inProgress: xip}, true
			continue
		}
		r := auth.Revocation{UserID: *userID, MinVersion: *minVersion, At: at.UTC()}
		if sessionID != nil {
			r.SessionID = *sessionID
		}
		fn(r)
	}
	if err := rows.Err(); err != nil {
		return c, classify("read revocations", err)
	}
	if !gotSnapshot {
		return c, errors.New("read revocations: no snapshot row")
	}
	return next, nil
}

func (f *Feed) applyRevocation(r auth.Revocation) {
	if r.SessionID != "" {
		f.cfg.Sink.RevokeSession(r.SessionID, r.At)
		return
	}
	f.cfg.Sink.RevokeUser(r.UserID, r.MinVersion, r.At)
}

// notice is a notification's payload (tokengate_notify_revocation).
type notice struct {
	Session *string `json:"s"`
	User    string  `json:"u"`
	Version int64   `json:"v"`
	Micros  int64   `json:"t"`
	Changed string  `json:"c"`
}

// apply acts on one payload. One it cannot read is dropped with a log
// line: the next heartbeat reads the entry from the log anyway.
func (f *Feed) apply(payload string) {
	var n notice
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		f.cfg.Logger.Warn("revocation listener: unreadable notification", "err", err)
		return
	}
	switch {
	case n.Changed != "":
		f.cfg.Sink.UserChanged(n.Changed)
	case n.Session != nil:
		f.cfg.Sink.RevokeSession(*n.Session, time.UnixMicro(n.Micros).UTC())
	case n.User != "":
		f.cfg.Sink.RevokeUser(n.User, n.Version, time.UnixMicro(n.Micros).UTC())
	}
}

// pgconnTimeout reports a read that ran into the deadline pgx set for a
// context: the connection is still good.
func pgconnTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}
