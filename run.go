package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/tokengate/tokengate/app"
	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/config"
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

func serve(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error {
	a, err := app.New(ctx, cfg, app.WithLogger(app.NewLogger(cfg, stderr)))
	if err != nil {
		return err
	}
	defer a.Close()
	return a.ListenAndServe(ctx)
}

func migrate(ctx context.Context, cfg config.Config, stdout, _ io.Writer) error {
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s store is up to date\n", cfg.Database)
	return st.Close()
}

func revokeUser(ctx context.Context, cfg config.Config, stdout, _ io.Writer) error {
	if len(cfg.Args) != 1 {
		return errors.New("usage: tokengate revoke-user EMAIL")
	}
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
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
