// Command floor is tokengate's performance floor: the smallest honest
// program of the same stack (chi, golang-jwt, pgx, bcrypt, at the versions
// of this module) that answers the load harness's three scenarios exactly
// as tokengate does, and does nothing else: no GraphQL engine, no rate
// limits, no request coalescing, no logging, JSON written by hand.
//
// Its answers match tokengate's byte for byte apart from the token values
// and times: the same status, headers (Cache-Control, Vary,
// Access-Control-Expose-Headers, the token headers) and bodies; tokens with
// the same JOSE header, claims and HS256 signing; the same SQL effect: one
// compare-and-swap UPDATE per rotation, a bcrypt comparison and a new
// session (with tokengate's per-user cap) per login, a primary-key lookup
// per loggedInUser. bench/load's check subcommand holds both servers to
// that before any load runs.
//
// The three GraphQL documents it answers are fixed (queryMe, queryLogin in
// bench/load); anything else is a 400. It is a measuring instrument, not a
// server to deploy: it trusts its configuration and answers only the
// happy path of each scenario the way tokengate would.
//
// Configuration is tokengate's own environment variables, so the harness
// starts both the same way: ADDR, DATABASE_URL (PostgreSQL, already
// migrated by tokengate), ACCESS_TOKEN_SECRET, REFRESH_TOKEN_SECRET,
// ACCESS_TOKEN_TTL, REFRESH_TOKEN_TTL, SESSION_MAX_AGE, TOKEN_ISSUER,
// TOKEN_AUDIENCE, DATABASE_MAX_CONNS (the pool's size, with tokengate's
// default). GET /healthz answers 200.
//
// FLOOR_ROTATION chooses what a refresh does to the database: "async"
// (the default) is tokengate's rotation, the compare-and-swap committed
// without waiting for the disk unless the session rotated within the last
// second or was recovered by the lost-rotation rule; "sync" is the same
// compare-and-swap waiting for the WAL flush every time; "read" only reads
// the session and the user, rotating nothing: the floor a server that does
// not rotate refresh tokens would have.
//
// ACCESS_TOKEN_ALG is HS256 unless set (tokengate's default is ES256): the
// floor signs and checks access tokens with golang-jwt directly. Set to an
// asymmetric algorithm, it pays for access tokens what tokengate pays
// instead: they are signed and verified by tokengate's own codec with the
// current key in DATABASE_URL (unsealed with KEY_ENCRYPTION_KEY), and an
// access token past its expiry is not signature-checked when a refresh
// token decides, as tokengate's validate-tokens does. The signature is then
// the same work on both sides, so what is left to compare is the rotation.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/golang-jwt/jwt/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/tokengate/tokengate/bench/internal/signingkeys"
	"github.com/tokengate/tokengate/store/postgres"
	"github.com/tokengate/tokengate/token"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

// config is what the floor reads from the environment.
type config struct {
	addr          string
	databaseURL   string
	accessSecret  []byte
	refreshSecret []byte
	accessTTL     time.Duration
	refreshTTL    time.Duration
	sessionMaxAge time.Duration
	issuer        string
	audience      string
	maxConns      int
	rotation      rotationMode
	accessAlg     string
}

// rotationMode is FLOOR_ROTATION.
type rotationMode string

const (
	rotateAsync rotationMode = "async"
	rotateSync  rotationMode = "sync"
	rotateRead  rotationMode = "read"
)

func loadConfig() (config, error) {
	c := config{
		addr:          env("ADDR", ":8080"),
		databaseURL:   os.Getenv("DATABASE_URL"),
		accessSecret:  []byte(os.Getenv("ACCESS_TOKEN_SECRET")),
		refreshSecret: []byte(os.Getenv("REFRESH_TOKEN_SECRET")),
		issuer:        env("TOKEN_ISSUER", "tokengate"),
		audience:      env("TOKEN_AUDIENCE", "tokengate"),
		accessAlg:     env("ACCESS_TOKEN_ALG", token.HS256),
	}
	switch c.rotation = rotationMode(env("FLOOR_ROTATION", string(rotateAsync))); c.rotation {
	case rotateAsync, rotateSync, rotateRead:
	default:
		return c, fmt.Errorf("FLOOR_ROTATION %q: want async, sync or read", c.rotation)
	}
	c.maxConns = postgres.DefaultMaxConns
	if v := os.Getenv("DATABASE_MAX_CONNS"); v != "" && v != "0" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return c, fmt.Errorf("DATABASE_MAX_CONNS %q: want a whole number", v)
		}
		c.maxConns = n
	}
	if c.databaseURL == "" || len(c.accessSecret) < 32 || len(c.refreshSecret) < 32 {
		return c, errors.New("DATABASE_URL and both token secrets (32 bytes or more) are required")
	}
	for _, d := range []struct {
		name, def string
		to        *time.Duration
	}{
		{"ACCESS_TOKEN_TTL", "15m", &c.accessTTL},
		{"REFRESH_TOKEN_TTL", "168h", &c.refreshTTL},
		{"SESSION_MAX_AGE", "720h", &c.sessionMaxAge},
	} {
		v, err := time.ParseDuration(env(d.name, d.def))
		if err != nil {
			return c, fmt.Errorf("%s: %w", d.name, err)
		}
		*d.to = v
	}
	return c, nil
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// floor holds everything a request needs.
type floor struct {
	cfg      config
	pool     *pgxpool.Pool
	rotation rotationMode
	// durableCommit is the server's synchronous_commit, what the async
	// rotation commits with when it must be durable (as tokengate's store).
	durableCommit string
	accessParser  *jwt.Parser
	refreshParser *jwt.Parser
	accessKey     jwt.Keyfunc
	refreshKey    jwt.Keyfunc
	// accessCodec signs and checks access tokens under an asymmetric
	// ACCESS_TOKEN_ALG; nil under HS256.
	accessCodec *token.Codec
	// maxSessionsPerUser is tokengate's default cap (auth.DefaultPolicy),
	// applied at login the same way.
	maxSessionsPerUser int
}

func run() error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	// pgxpool's defaults but for the size, which is tokengate's
	// (DATABASE_MAX_CONNS, else postgres.DefaultMaxConns).
	poolCfg, err := pgxpool.ParseConfig(cfg.databaseURL)
	if err != nil {
		return err
	}
	poolCfg.MaxConns = int32(cfg.maxConns)
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	var durable string
	if err := pool.QueryRow(ctx, `SELECT current_setting('synchronous_commit')`).Scan(&durable); err != nil {
		return err
	}
	f := &floor{
		cfg:                cfg,
		pool:               pool,
		rotation:           cfg.rotation,
		durableCommit:      durable,
		accessKey:          keyFor("at+jwt", cfg.accessSecret),
		refreshKey:         keyFor("rt+jwt", cfg.refreshSecret),
		maxSessionsPerUser: 100,
	}
	f.accessParser, f.refreshParser = f.newParser(), f.newParser()
	if cfg.accessAlg != token.HS256 {
		f.accessCodec = token.New(token.Config{
			AccessAlg:     cfg.accessAlg,
			AccessSecret:  cfg.accessSecret,
			RefreshSecret: cfg.refreshSecret,
			Issuer:        cfg.issuer,
			Audience:      cfg.audience,
			AccessTTL:     cfg.accessTTL,
			Now:           time.Now,
		})
		if err := signingkeys.Install(ctx, cfg.databaseURL, cfg.accessAlg, f.accessCodec); err != nil {
			return err
		}
	}

	r := chi.NewRouter()
	r.Use(f.validateTokens)
	r.Post("/graphql", f.graphql)
	r.Get("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	// The same server timeouts as tokengate's, since they shape how
	// connections are handled.
	srv := &http.Server{
		Handler:           r,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	fmt.Fprintln(os.Stderr, "floor: listening on", ln.Addr(), "rotation", cfg.rotation, "access tokens", cfg.accessAlg, "pool", cfg.maxConns)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
