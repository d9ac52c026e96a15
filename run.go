package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	chimw "github.com/go-chi/chi/v5/middleware"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/config"
	"github.com/tokengate/tokengate/metrics"
	"github.com/tokengate/tokengate/ratelimit"
	"github.com/tokengate/tokengate/resolvers"
	"github.com/tokengate/tokengate/server"
	"github.com/tokengate/tokengate/store/postgres"
	"github.com/tokengate/tokengate/store/sqlite"
	"github.com/tokengate/tokengate/token"
)

// command is one subcommand of the binary.
type command struct {
	usage string
	help  string
	run   func(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error
}

var commands = map[string]command{
	"serve": {
		usage: "tokengate [serve]",
		help:  "Serve the API (the default). Applies pending migrations first.",
		run:   serve,
	},
	"migrate": {
		usage: "tokengate migrate",
		help:  "Apply pending database migrations and exit.",
		run:   migrate,
	},
	"revoke-user": {
		usage: "tokengate revoke-user EMAIL",
		help:  "Increment a user's token counter: every refresh token issued to them stops working at once.",
		run:   revokeUser,
	},
	"healthcheck": {
		usage: "tokengate healthcheck",
		help:  "Ask the server on ADDR (on this host) whether it is ready; exit 0 if so. For container health checks.",
		run:   healthcheck,
	},
	"keys": keysCommand,
}

// run is the whole program; main only supplies the process's environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	name, rest := "serve", args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		name, rest = rest[0], rest[1:]
	}
	if name == "version" {
		fmt.Fprintln(stdout, "tokengate", version())
		return nil
	}
	cmd, ok := commands[name]
	if !ok {
		return fmt.Errorf("unknown command %q; commands: %s, version", name, strings.Join(commandNames(), ", "))
	}
	cfg, err := config.Load(rest, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(stdout, "\n%s\n  %s\n\nCommands: %s, version\n", cmd.usage, cmd.help, strings.Join(commandNames(), ", "))
		return nil
	}
	if err != nil {
		return err
	}
	return cmd.run(ctx, cfg, stdout, stderr)
}

func commandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			v += " " + s.Value
		}
	}
	return v
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == config.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// openStore opens the configured store, applying pending migrations.
func openStore(ctx context.Context, cfg config.Config) (auth.Store, error) {
	switch cfg.Database {
	case config.Postgres:
		return postgres.Open(ctx, cfg.PostgresURL)
	default:
		return sqlite.Open(ctx, cfg.SQLitePath)
	}
}

// Background pruning: sessions that ended more than pruneRetention ago are
// deleted every pruneInterval. The retention keeps recently ended sessions
// long enough to explain a late refresh as SESSION_REVOKED, not unknown.
const (
	pruneInterval  = 10 * time.Minute
	pruneRetention = 24 * time.Hour
)

func serve(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	file, created, err := cfg.ResolveSecrets()
	if err != nil {
		return fmt.Errorf("token secrets: %w", err)
	}
	if created {
		log.Warn("generated new token secrets; set ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET in production", "kept_in", file)
	}

	st, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open %s store: %w", cfg.Database, err)
	}
	defer st.Close()

	codec, keyManager, err := newCodec(ctx, &cfg, st, log)
	if err != nil {
		return err
	}
	limits := auth.Limits{
		LoginFailures: ratelimit.New(cfg.RateLimitLogin, time.Now),
		IP:            ratelimit.New(cfg.RateLimitIP, time.Now),
		Refresh:       ratelimit.New(cfg.RateLimitRefresh, time.Now),
	}
	var (
		m    *metrics.Metrics
		opts []auth.Option
	)
	if cfg.Metrics {
		m = metrics.New()
		opts = append(opts, auth.WithObserver(m))
	}
	svc, err := auth.NewService(st, codec, cfg.Policy(), limits, time.Now, log, opts...)
	if err != nil {
		return err
	}

	extra := map[string]http.Handler{}
	if cfg.PProf {
		extra["/debug"] = chimw.Profiler()
	}
	srv := &http.Server{
		Handler: server.New(server.Deps{
			Service:            svc,
			Logger:             log,
			CORSAllowedOrigins: cfg.CORSAllowedOrigins,
			TrustedProxies:     cfg.TrustedProxies,
			GraphQL:            resolvers.DefaultLimits(),
			Metrics:            m,
			JWKS:               token.JWKSHandler(codec),
			Extra:              extra,
		}),
		// Bounded everywhere so a slow or hostile client holds a connection
		// for seconds, not forever.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on ADDR %s: %w", cfg.Addr, err)
	}
	log.Info("listening", "addr", ln.Addr().String(), "store", cfg.Database.String())

	pruneCtx, stopPruning := context.WithCancel(context.WithoutCancel(ctx))
	defer stopPruning()
	go pruneSessions(pruneCtx, svc, log)
	if keyManager != nil {
		go keyManager.Run(pruneCtx)
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

func pruneSessions(ctx context.Context, svc *auth.Service, log *slog.Logger) {
	tick := time.NewTicker(pruneInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			n, err := svc.PruneSessions(ctx, pruneRetention)
			if err != nil {
				log.Warn("pruning sessions failed", "err", err)
				continue
			}
			log.Debug("pruned sessions", "deleted", n)
		}
	}
}

func migrate(ctx context.Context, cfg config.Config, stdout, _ io.Writer) error {
	st, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("migrate %s store: %w", cfg.Database, err)
	}
	fmt.Fprintf(stdout, "%s store is up to date\n", cfg.Database)
	return st.Close()
}

func revokeUser(ctx context.Context, cfg config.Config, stdout, _ io.Writer) error {
	if len(cfg.Args) != 1 {
		return errors.New("usage: tokengate revoke-user EMAIL")
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open %s store: %w", cfg.Database, err)
	}
	defer st.Close()
	if err := auth.RevokeUser(ctx, st, cfg.Args[0], time.Now()); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "revoked every refresh token of %s\n", cfg.Args[0])
	return nil
}

func healthcheck(ctx context.Context, cfg config.Config, stdout, _ io.Writer) error {
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return fmt.Errorf("ADDR: %w", err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/readyz", nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /readyz answered %s", res.Status)
	}
	fmt.Fprintln(stdout, "ready")
	return nil
}
