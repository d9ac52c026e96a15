package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
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
	// reads names the variables the command uses, for its -h; empty for
	// serve, which uses them all and lists the whole table.
	reads []string
	// opts relax what config.Load requires, for a command that issues and
	// verifies no token.
	opts []config.Option
	run  func(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error
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
		reads: []string{"DATABASE_URL"},
		opts:  []config.Option{config.WithoutTokenSecrets()},
		run:   migrate,
	},
	"revoke-user": {
		usage: "tokengate revoke-user EMAIL",
		help:  "Increment a user's token counter: every refresh token issued to them stops working at once.",
		reads: []string{"DATABASE_URL"},
		opts:  []config.Option{config.WithoutTokenSecrets()},
		run:   revokeUser,
	},
	"healthcheck": {
		usage: "tokengate healthcheck",
		help:  "Ask the server on ADDR (on this host) whether it is ready; exit 0 if so. For container health checks.",
		reads: []string{"ADDR"},
		opts:  []config.Option{config.WithoutTokenSecrets()},
		run:   healthcheck,
	},
	"keys": keysCommand,
}

// Commands that need no configuration at all, answered before it is read.
const (
	helpUsage    = "tokengate help [COMMAND]"
	helpHelp     = "Describe COMMAND, or every command and environment variable."
	versionUsage = "tokengate version"
	versionHelp  = "Print the module version, the VCS revision and the Go version the binary was built from."
)

// run is the whole program; main only supplies the process's environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	name, rest := "", args[1:]
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		name, rest = rest[0], rest[1:]
	}
	switch name {
	case "help":
		if len(rest) == 0 {
			writeHelp(stdout)
			return nil
		}
		if len(rest) == 1 && isHelpFlag(rest[0]) {
			writeCommandHelp(stdout, name)
			return nil
		}
		if len(rest) > 1 || !isCommand(rest[0]) {
			return fmt.Errorf("usage: %s; commands: %s", helpUsage, strings.Join(commandNames(), ", "))
		}
		writeCommandHelp(stdout, rest[0])
		return nil
	case "version":
		if len(rest) > 0 {
			if len(rest) > 1 || !isHelpFlag(rest[0]) {
				return fmt.Errorf("usage: %s", versionUsage)
			}
			writeCommandHelp(stdout, name)
			return nil
		}
		info, ok := debug.ReadBuildInfo()
		fmt.Fprint(stdout, versionText(info, ok))
		return nil
	}
	cmd, ok := commands[cmp.Or(name, "serve")]
	if !ok {
		return fmt.Errorf("unknown command %q; commands: %s (tokengate help describes them)", name, strings.Join(commandNames(), ", "))
	}
	// Load writes the variable table itself on -h; each command's help is
	// written here instead, so the table is discarded.
	cfg, err := config.Load(rest, getenv, io.Discard, cmd.opts...)
	if errors.Is(err, flag.ErrHelp) {
		if name == "" {
			writeHelp(stdout)
		} else {
			writeCommandHelp(stdout, name)
		}
		return nil
	}
	if err != nil {
		return err
	}
	return cmd.run(ctx, cfg, stdout, stderr)
}

// isHelpFlag reports the spellings of -h that the flag package accepts.
func isHelpFlag(arg string) bool {
	return slices.Contains([]string{"-h", "--h", "-help", "--help"}, arg)
}

func isCommand(name string) bool {
	return slices.Contains(commandNames(), name)
}

// commandNames lists every command, those answered without configuration
// included, in order.
func commandNames() []string {
	names := make([]string, 0, len(commands)+2)
	for n := range commands {
		names = append(names, n)
	}
	names = append(names, "help", "version")
	slices.Sort(names)
	return names
}

// usageOf returns a command's usage line and description.
func usageOf(name string) (usage, help string) {
	switch name {
	case "help":
		return helpUsage, helpHelp
	case "version":
		return versionUsage, versionHelp
	}
	return commands[name].usage, commands[name].help
}

// writeHelp is `tokengate -h` and `tokengate help`: every command, then
// every variable.
func writeHelp(w io.Writer) {
	fmt.Fprint(w, "Usage: tokengate [COMMAND] [-h]\n\nCommands:\n")
	width := 0
	for _, n := range commandNames() {
		u, _ := usageOf(n)
		width = max(width, len(u))
	}
	for _, n := range commandNames() {
		u, h := usageOf(n)
		fmt.Fprintf(w, "  %-*s  %s\n", width, u, h)
	}
	fmt.Fprintln(w)
	config.WriteUsage(w)
}

// writeCommandHelp is `tokengate COMMAND -h` and `tokengate help COMMAND`:
// that command's usage and the variables it reads; serve's, which reads
// every one, ends with the whole table.
func writeCommandHelp(w io.Writer, name string) {
	usage, help := usageOf(name)
	fmt.Fprintf(w, "Usage: %s\n\n%s\n", usage, help)
	if name == "serve" {
		fmt.Fprintln(w)
		config.WriteUsage(w)
		return
	}
	if reads := commands[name].reads; len(reads) > 0 {
		fmt.Fprintf(w, "\nIt reads %s; tokengate -h lists every variable.\n", strings.Join(reads, ", "))
	}
}

// versionText describes the build: the module's version (a tag, a
// pseudo-version from the VCS, or "(devel)"), the VCS revision when the
// build recorded one, and the Go version and platform.
func versionText(info *debug.BuildInfo, ok bool) string {
	if !ok {
		return "tokengate: no build information (a binary built without module support)\n"
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	var b strings.Builder
	fmt.Fprintf(&b, "tokengate %s\n", cmp.Or(info.Main.Version, "(devel)"))
	fmt.Fprintf(&b, "module    %s\n", cmp.Or(info.Main.Path, info.Path))
	if rev := settings["vcs.revision"]; rev != "" {
		var notes []string
		if t := settings["vcs.time"]; t != "" {
			notes = append(notes, "committed "+t)
		}
		if settings["vcs.modified"] == "true" {
			notes = append(notes, "with uncommitted changes")
		}
		if len(notes) > 0 {
			rev += " (" + strings.Join(notes, ", ") + ")"
		}
		fmt.Fprintf(&b, "revision  %s\n", rev)
	} else {
		// go run, -buildvcs=false and a copy without .git build without
		// it; so did go1.26's go build in a git worktree, here.
		fmt.Fprintf(&b, "revision  not recorded: built without VCS stamping (go run, -buildvcs=false, or outside a git clone); go build in a clone records it\n")
	}
	platform := settings["GOOS"] + "/" + settings["GOARCH"]
	if platform == "/" {
		platform = runtime.GOOS + "/" + runtime.GOARCH
	}
	fmt.Fprintf(&b, "go        %s %s\n", cmp.Or(info.GoVersion, runtime.Version()), platform)
	return b.String()
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
	err = auth.RevokeUser(ctx, st, cfg.Args[0], time.Now())
	switch {
	case errors.Is(err, auth.ErrNotFound):
		// The operator can read the database anyway: naming the miss is
		// no enumeration, and the store's error chain is no help.
		return fmt.Errorf("revoke-user: no account has the e-mail address %q", cfg.Args[0])
	case auth.ErrorOf(err).Code == auth.CodeBadUserInput:
		return fmt.Errorf("revoke-user: %q: %s", cfg.Args[0], auth.ErrorOf(err).Message)
	case err != nil:
		return fmt.Errorf("revoke-user: %w", err)
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
