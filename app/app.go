// Package app is tokengate as a library: it builds the whole server (the
// store, the token codec, the domain service, the HTTP handler with every
// route of API.md behind the validate-tokens middleware) and its
// background work from a config.Config, plus what an adopter adds:
//
//   - GraphQL types and fields (WithSchema), served by a root resolver
//     that embeds tokengate's (WithResolver), so the adopter's resolver
//     methods sit beside tokengate's and hold the adopter's own services;
//   - REST routes (WithRoutes), behind the same middleware, handed the
//     error writer tokengate answers its own errors with;
//   - migrations of the adopter's own tables (WithMigrations), applied
//     after tokengate's under a version table of their own;
//   - error codes of the adopter's own with their HTTP status (WithCode).
//
// tokengate's main is a thin user of New, as an adopter's main is:
//
//	cfg, err := config.Load(os.Args[1:], os.Getenv, os.Stdout)
//	...
//	a, err := app.New(ctx, cfg, app.WithSchema(schemaFiles), app.WithResolver(newRoot))
//	...
//	defer a.Close()
//	return a.ListenAndServe(ctx)
//
// A resolver that needs a signed-in caller starts with
// auth.RequireCaller(ctx), which answers UNAUTHENTICATED (with the reason
// the caller is anonymous) on both transports; one that reaches the store
// calls resolvers.StoreField(ctx) first, so aliases cannot multiply its
// cost. examples/notes is a whole adopter's module built this way.
package app

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	chimw "github.com/go-chi/chi/v5/middleware"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/config"
	"github.com/tokengate/tokengate/edge"
	"github.com/tokengate/tokengate/mail"
	"github.com/tokengate/tokengate/metrics"
	"github.com/tokengate/tokengate/ratelimit"
	"github.com/tokengate/tokengate/resolvers"
	"github.com/tokengate/tokengate/schema"
	"github.com/tokengate/tokengate/server"
	"github.com/tokengate/tokengate/signing"
	"github.com/tokengate/tokengate/store/postgres"
	"github.com/tokengate/tokengate/store/sqlite"
	"github.com/tokengate/tokengate/token"
)

// Option adds to or changes what New builds.
type Option func(*options)

type options struct {
	log        *slog.Logger
	now        auth.Clock
	schemas    []fs.FS
	root       func(*resolvers.Resolver, Env) any
	routes     []func(chi.Router, edge.ErrorWriter, Env)
	migrations *Migrations
	codes      map[auth.Code]int
	extra      map[string]http.Handler
}

// WithLogger logs through log instead of a logger made from LOG_LEVEL and
// LOG_FORMAT on standard error.
func WithLogger(log *slog.Logger) Option { return func(o *options) { o.log = log } }

// WithClock makes now the clock of every expiry, token and budget, so a
// test moves time instead of waiting (tokengatetest does).
func WithClock(now auth.Clock) Option { return func(o *options) { o.now = now } }

// WithSchema adds the *.graphql files at the root of fsys to tokengate's
// schema. They extend it (extend type Query { notes: [Note!]! }); every
// field they add needs a method on the root resolver WithResolver makes,
// and New fails if one is missing.
func WithSchema(fsys fs.FS) Option { return func(o *options) { o.schemas = append(o.schemas, fsys) } }

// Env is what an app's additions are built with: tokengate's service, and
// the database tokengate's store uses, where the app's own tables live
// (WithMigrations creates them). Queries written with $1, $2 ...
// placeholders run on both stores.
type Env struct {
	Service *auth.Service
	DB      *sql.DB
	// Postgres tells the two stores' SQL dialects apart.
	Postgres bool
	Logger   *slog.Logger
	Now      auth.Clock
}

// WithResolver makes the root resolver from tokengate's: newRoot returns a
// struct that embeds base, so tokengate's fields resolve as before, with
// the adopter's resolver methods beside them and whatever of env they need.
func WithResolver(newRoot func(base *resolvers.Resolver, env Env) any) Option {
	return func(o *options) { o.root = newRoot }
}

// WithRoutes adds REST routes. add is called with the router, behind the
// validate-tokens middleware, and the error writer that answers errors as
// problem+json; read bodies with edge.ReadJSON and answer with
// edge.WriteJSON, as tokengate's own handlers do.
func WithRoutes(add func(r chi.Router, onError edge.ErrorWriter, env Env)) Option {
	return func(o *options) { o.routes = append(o.routes, add) }
}

// Migrations are an adopter's goose migrations, one folder of SQL files
// for each store, recorded in Table (which must not be tokengate's).
type Migrations struct {
	SQLite   fs.FS
	Postgres fs.FS
	Table    string
}

// WithMigrations applies m after tokengate's migrations, at every start.
func WithMigrations(m Migrations) Option { return func(o *options) { o.migrations = &m } }

// WithCode gives an error code of the adopter's its HTTP status, so that
// an *auth.Error{Code: code} is answered with it and its message on both
// transports, instead of as INTERNAL.
func WithCode(code auth.Code, status int) Option {
	return func(o *options) {
		if o.codes == nil {
			o.codes = map[auth.Code]int{}
		}
		o.codes[code] = status
	}
}

// WithHandler mounts h at path beside tokengate's routes, behind the same
// middleware (tokengate's main mounts pprof so).
func WithHandler(path string, h http.Handler) Option {
	return func(o *options) {
		if o.extra == nil {
			o.extra = map[string]http.Handler{}
		}
		o.extra[path] = h
	}
}

// App is a built tokengate: its handler, and the background work Run does.
type App struct {
	cfg      config.Config
	log      *slog.Logger
	now      auth.Clock
	store    auth.Store
	service  *auth.Service
	recovery *auth.Recovery
	mailer   *mail.Worker
	// keys is the signing-key schedule; nil under HS256.
	keys    *signing.Manager
	revs    *revocations
	handler http.Handler
}

// New builds tokengate from cfg and opts: it resolves the token secrets
// (generating them beside an SQLite database when none are set), opens the
// store and applies every pending migration, tokengate's and then the
// adopter's. Close releases what it opened.
func New(ctx context.Context, cfg config.Config, opts ...Option) (_ *App, err error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = NewLogger(cfg, os.Stderr)
	}
	log := slog.New(edge.LogHandler(o.log.Handler()))
	for code, status := range o.codes {
		edge.RegisterCode(code, status)
	}

	file, created, err := cfg.ResolveSecrets()
	if err != nil {
		return nil, fmt.Errorf("token secrets: %w", err)
	}
	switch {
	case created && file == "":
		log.Warn("generated new token secrets, kept nowhere: they end with this process, like the in-memory database; set ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET in production")
	case created:
		log.Warn("generated new token secrets; set ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET in production", "kept_in", file)
	}

	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			st.Close()
		}
	}()
	if err := migrateApp(ctx, st, o.migrations); err != nil {
		return nil, err
	}

	codec, keys, err := newCodec(ctx, &cfg, st, o.now, log)
	if err != nil {
		return nil, err
	}
	revs, err := newRevocations(ctx, cfg, st, o.now, log)
	if err != nil {
		return nil, err
	}
	limits := auth.Limits{
		LoginFailures: loginBudget(cfg, st, o.now),
		IP:            ratelimit.New(cfg.RateLimitIP, o.now),
		Refresh:       ratelimit.New(cfg.RateLimitRefresh, o.now),
	}
	var (
		m       *metrics.Metrics
		svcOpts = []auth.Option{revs.serviceOption()}
	)
	if cfg.Metrics {
		m = metrics.New(revs.view.Collectors()...)
		svcOpts = append(svcOpts, auth.WithObserver(m))
	}
	svc, err := auth.NewService(st, codec, cfg.Policy(), limits, o.now, log, svcOpts...)
	if err != nil {
		return nil, err
	}

	rec, mailer, err := newRecovery(cfg, st, svc, o.now, log)
	if err != nil {
		return nil, err
	}

	env := Env{Service: svc, Logger: log, Now: o.now}
	if db, ok := st.(interface{ DB() *sql.DB }); ok {
		env.DB = db.DB()
	}
	_, env.Postgres = st.(*postgres.Store)
	deps := server.Deps{
		Service:            svc,
		Recovery:           rec,
		Logger:             log,
		CORSAllowedOrigins: cfg.CORSAllowedOrigins,
		TrustedProxies:     cfg.TrustedProxies,
		GraphQL:            resolvers.DefaultLimits(),
		Metrics:            m,
		JWKS:               token.JWKSHandler(codec),
		Extra:              o.extra,
		Routes: func(r chi.Router, onError edge.ErrorWriter) {
			for _, add := range o.routes {
				add(r, onError, env)
			}
		},
	}
	if cfg.PProf {
		if deps.Extra == nil {
			deps.Extra = map[string]http.Handler{}
		}
		deps.Extra["/debug"] = chimw.Profiler()
	}
	if len(o.schemas) > 0 || o.root != nil {
		if deps.Schema, err = schema.Compose(o.schemas...); err != nil {
			return nil, err
		}
		base := resolvers.New(svc, rec)
		deps.Root = base
		if o.root != nil {
			deps.Root = o.root(base, env)
		}
	}
	handler, err := newHandler(deps)
	if err != nil {
		return nil, err
	}
	return &App{cfg: cfg, log: log, now: o.now, store: st, service: svc, recovery: rec, mailer: mailer, keys: keys, revs: revs, handler: handler}, nil
}

// newHandler builds the server, turning the panic of a schema that does not
// match its resolvers into an error New returns.
func newHandler(d server.Deps) (h http.Handler, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("graphql schema: %v", v)
		}
	}()
	return server.New(d), nil
}

// Handler serves every route: tokengate's and the adopter's.
func (a *App) Handler() http.Handler { return a.handler }

// Service is the domain service the handler serves, for an adopter's own
// code (a worker, a command) that acts on accounts and sessions.
func (a *App) Service() *auth.Service { return a.service }

// Store is the store the app opened.
func (a *App) Store() auth.Store { return a.store }

// Logger is the app's logger; lines logged with a request's context carry
// its request id, route and user.
func (a *App) Logger() *slog.Logger { return a.log }

// Background pruning: sessions that ended more than pruneRetention ago are
// deleted every pruneInterval. The retention keeps recently ended sessions
// long enough to explain a late refresh as SESSION_REVOKED, not unknown.
const (
	pruneInterval  = 10 * time.Minute
	pruneRetention = 24 * time.Hour
)

// Run does the background work until ctx ends: the outbox worker that
// delivers queued mail, the signing-key schedule, the revocation feed, and
// pruning ended sessions, old revocations, spent links and sent mail. It
// returns once every one of them has stopped (a mail being sent marked).
func (a *App) Run(ctx context.Context) {
	// Every worker ends with ctx; Run waits for them all, so Close never
	// pulls the store from under one.
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { a.mailer.Run(ctx) })
	wg.Go(func() { pruneLinks(ctx, a.recovery, a.log) })
	if a.keys != nil {
		wg.Go(func() { a.keys.Run(ctx) })
	}
	wg.Go(func() { a.revs.follow(ctx) })
	tick := time.NewTicker(pruneInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			a.revs.prune(ctx, a.store, a.now(), a.log)
			n, err := a.service.PruneSessions(ctx, pruneRetention)
			if err != nil {
				a.log.Warn("pruning sessions failed", "err", err)
				continue
			}
			a.log.Debug("pruned sessions", "deleted", n)
		}
	}
}

// DeliverMail sends the mail queued so far, now, instead of at the outbox
// worker's next look at the queue, and reports how many were handled; a
// test reads the outbox after it (tokengatetest does).
func (a *App) DeliverMail(ctx context.Context) (int, error) { return a.mailer.RunOnce(ctx) }

// Recovery is the account-recovery service: password reset, e-mail
// verification, account deletion.
func (a *App) Recovery() *auth.Recovery { return a.recovery }

// ListenAndServe serves on the config's ADDR with the background work
// running, until ctx ends; then it stops taking connections and waits up
// to SHUTDOWN_TIMEOUT for requests in flight.
func (a *App) ListenAndServe(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on ADDR %s: %w", a.cfg.Addr, err)
	}
	return a.Serve(ctx, ln)
}

// Serve is ListenAndServe on a listener of the caller's.
func (a *App) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler: a.handler,
		// Bounded everywhere so a slow or hostile client holds a connection
		// for seconds, not forever.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	a.log.Info("listening", "addr", ln.Addr().String(), "store", a.cfg.Database.String())

	background, stop := context.WithCancel(context.WithoutCancel(ctx))
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		a.Run(background)
	}()
	defer func() { stop(); <-ran }()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down", "timeout", a.cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	a.log.Info("stopped")
	return nil
}

// Close releases the store.
func (a *App) Close() error { return a.store.Close() }

// NewLogger is the logger LOG_LEVEL and LOG_FORMAT describe, writing to w,
// adding a request's id, route and user to every line logged with its
// context.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == config.LogJSON {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(edge.LogHandler(h))
}

// OpenStore opens the store cfg names and applies tokengate's pending
// migrations.
func OpenStore(ctx context.Context, cfg config.Config) (auth.Store, error) {
	var (
		st  auth.Store
		err error
	)
	switch cfg.Database {
	case config.Postgres:
		st, err = postgres.OpenMaxConns(ctx, cfg.PostgresURL, cfg.DatabaseMaxConns)
		if err != nil {
			// At start-up a refused password or a missing database is not
			// "try again shortly": say which, in one line.
			err = postgres.DescribeConnectError(err)
		}
	default:
		st, err = sqlite.Open(ctx, cfg.SQLitePath)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", cfg.Database, err)
	}
	return st, nil
}

// appMigrator is a store that can apply an adopter's migrations; both of
// tokengate's are.
type appMigrator interface {
	MigrateApp(ctx context.Context, fsys fs.FS, table string) error
}

func migrateApp(ctx context.Context, st auth.Store, m *Migrations) error {
	if m == nil {
		return nil
	}
	mig, ok := st.(appMigrator)
	if !ok {
		return errors.New("migrations: this store cannot apply an app's migrations")
	}
	fsys := m.SQLite
	if _, pg := st.(*postgres.Store); pg {
		fsys = m.Postgres
	}
	if fsys == nil {
		return errors.New("migrations: none given for this store")
	}
	if err := mig.MigrateApp(ctx, fsys, m.Table); err != nil {
		return fmt.Errorf("app migrations: %w", err)
	}
	return nil
}
