package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/config"
	"github.com/tokengate/tokengate/ratelimit"
	"github.com/tokengate/tokengate/revocation"
	"github.com/tokengate/tokengate/store/postgres"
	"github.com/tokengate/tokengate/usercache"
)

// maxCachedUsers bounds the user cache: at a few hundred bytes a user,
// 100,000 of them are tens of megabytes.
const maxCachedUsers = 100_000

// revocations is the instance's revocation view, what feeds it from the
// store, and the user cache it keeps current.
type revocations struct {
	view  *revocation.View
	users *usercache.Cache
	// follow feeds the view from the store until ctx ends: the LISTEN
	// connection on PostgreSQL, a look at the log every second on SQLite
	// (for what another process, tokengate revoke-user, writes).
	follow func(ctx context.Context)
	// window is how long a revocation can matter: ACCESS_TOKEN_TTL plus
	// the clock leeway.
	window time.Duration
}

// newRevocations builds the view for the store: on PostgreSQL fed by the
// LISTEN connection of DATABASE_LISTEN_URL, and stale past
// REVOCATION_MAX_STALENESS; on SQLite, one instance, fed in process and
// caught up from the store's log before serving.
func newRevocations(ctx context.Context, cfg config.Config, st auth.Store, now auth.Clock, log *slog.Logger) (*revocations, error) {
	r := &revocations{users: usercache.New(maxCachedUsers), window: cfg.AccessTokenTTL + cfg.TokenClockLeeway}
	if pg, ok := st.(*postgres.Store); ok {
		r.view = revocation.New(revocation.Options{
			Window: r.window, MaxStaleness: cfg.RevocationMaxStaleness, Fallback: pg,
			Users: r.users, Clock: now, Logger: log,
		})
		feed, err := postgres.NewFeed(postgres.FeedConfig{
			URL: cfg.ListenURL(), Sink: r.view, Window: r.window, Clock: now,
			OnReconnect: r.users.Clear, Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("revocation feed: %w", err)
		}
		r.follow = func(ctx context.Context) { _ = feed.Run(ctx) }
		return r, nil
	}
	rl, ok := st.(auth.RevocationLog)
	if !ok {
		return nil, fmt.Errorf("the %T store keeps no revocation log", st)
	}
	r.view = revocation.New(revocation.Options{Window: r.window, Users: r.users, Clock: now, Logger: log})
	cursor, err := r.view.CatchUp(ctx, rl)
	if err != nil {
		return nil, fmt.Errorf("revocation view: %w", err)
	}
	r.follow = func(ctx context.Context) { r.view.Follow(ctx, rl, cursor, time.Second) }
	return r, nil
}

// serviceOption hands the view and the cache to the Service.
func (r *revocations) serviceOption() auth.Option {
	return auth.WithRevocation(r.view, r.view, userCache{r.users})
}

// loginBudget is the failed-login budget: on PostgreSQL the one every
// instance shares, behind this instance's own as a first filter.
func loginBudget(cfg config.Config, st auth.Store, now auth.Clock) auth.Limiter {
	local := ratelimit.New(cfg.RateLimitLogin, now)
	pg, ok := st.(*postgres.Store)
	if !ok {
		return local
	}
	return ratelimit.Layered{Local: local, Shared: pg.LoginBudget(postgres.LoginBudgetConfig{
		N: cfg.RateLimitLogin.N, Per: cfg.RateLimitLogin.Per, Clock: now,
	})}
}

// prune drops what can no longer matter: revocations older than the window
// and, on PostgreSQL, spent login budgets.
func (r *revocations) prune(ctx context.Context, st auth.Store, now time.Time, log *slog.Logger) {
	if rl, ok := st.(auth.RevocationLog); ok {
		if _, err := rl.PruneRevocations(ctx, now.Add(-r.window)); err != nil {
			log.Warn("pruning revocations failed", "err", err)
		}
	}
	if pg, ok := st.(*postgres.Store); ok {
		if _, err := pg.PruneLoginBudget(ctx, now); err != nil {
			log.Warn("pruning login budgets failed", "err", err)
		}
	}
}

// userCache adapts usercache.Cache to the domain's UserCache.
type userCache struct{ c *usercache.Cache }

func (u userCache) Ticket() uint64                      { return uint64(u.c.Ticket()) }
func (u userCache) Put(x auth.User, ticket uint64) bool { return u.c.Put(x, usercache.Ticket(ticket)) }
func (u userCache) Get(id string) (auth.User, bool)     { return u.c.Get(id) }
