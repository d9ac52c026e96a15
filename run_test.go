package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tokengate/tokengate/config"
	"github.com/tokengate/tokengate/internal/pgtest"
)

// env is a getenv over a map, so each test states its whole environment.
func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// process is one run of the real program, serving on a free port.
type process struct {
	addr string
	done chan struct{} // closed when run returns
	err  error         // run's result, valid once done is closed
	stop context.CancelFunc

	mu  sync.Mutex
	log strings.Builder // what the program wrote to stderr so far
}

// logs returns what the program has logged so far: at least everything up
// to its "listening" line once start has returned.
func (p *process) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

// start runs the program until the test ends or stop is called. It learns
// the address from the program's own "listening" log line.
func start(t *testing.T, getenv func(string) string) *process {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	p := &process{done: make(chan struct{}), stop: cancel}
	go func() {
		p.err = run(ctx, []string{"tokengate"}, getenv, io.Discard, pw)
		pw.Close()
		close(p.done)
	}()
	addr := make(chan string, 1)
	logs := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		logs <- p.logs()
	}()
	select {
	case p.addr = <-addr:
	case <-p.done:
		t.Fatalf("tokengate exited before listening: %v\n%s", p.err, <-logs)
	}
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p
}

// shutdown stops the program as SIGTERM would and returns run's error.
func (p *process) shutdown() error {
	p.stop()
	<-p.done
	return p.err
}

func postJSON(t *testing.T, url, body string, headers ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res, out
}

func TestEmbeddedDefaultPersistsAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	getenv := env("ADDR", "127.0.0.1:0", "DATABASE_URL", "sqlite:"+filepath.Join(dir, "tokengate.db"), "BCRYPT_COST", "4")

	p := start(t, getenv)
	res, tokens := postJSON(t, "http://"+p.addr+"/auth/register", `{"email":"ada@example.com","password":"correct horse battery","name":"Ada"}`)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %v", res.StatusCode, tokens)
	}
	if err := p.shutdown(); err != nil {
		t.Fatalf("graceful shutdown returned %v", err)
	}

	info, err := os.Stat(filepath.Join(dir, "tokengate.secrets"))
	if err != nil {
		t.Fatalf("secrets were not kept beside the database: %v", err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("secrets file mode = %v, want 0600", info.Mode().Perm())
	}

	p = start(t, getenv)
	// The refresh token from before the restart still rotates: the user,
	// the session and the secrets all survived.
	res, body := postJSON(t, "http://"+p.addr+"/auth/refresh", `{"refreshToken":"`+tokens["refreshToken"].(string)+`"}`)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("refresh after restart: %d %v", res.StatusCode, body)
	}
	res, body = postJSON(t, "http://"+p.addr+"/auth/login", `{"email":"ADA@example.com","password":"correct horse battery"}`)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("login after restart: %d %v", res.StatusCode, body)
	}
}

func TestRevokeUserCommandEndsEveryRefresh(t *testing.T) {
	dir := t.TempDir()
	getenv := env("ADDR", "127.0.0.1:0", "DATABASE_URL", "sqlite:"+filepath.Join(dir, "tokengate.db"), "BCRYPT_COST", "4")
	p := start(t, getenv)
	_, tokens := postJSON(t, "http://"+p.addr+"/auth/register", `{"email":"ada@example.com","password":"correct horse battery","name":"Ada"}`)

	var out strings.Builder
	if err := run(context.Background(), []string{"tokengate", "revoke-user", "Ada@Example.com"}, getenv, &out, io.Discard); err != nil {
		t.Fatalf("revoke-user: %v", err)
	}
	res, body := postJSON(t, "http://"+p.addr+"/auth/refresh", `{"refreshToken":"`+tokens["refreshToken"].(string)+`"}`)
	if res.StatusCode != http.StatusUnauthorized || body["reason"] != "SESSION_REVOKED" {
		t.Fatalf("refresh after revoke-user: %d %v", res.StatusCode, body)
	}
}

func TestHelpListsEveryVariable(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"tokengate", "-h"}, env(), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"ADDR", "DATABASE_URL", "ACCESS_TOKEN_SECRET", "REFRESH_TOKEN_SECRET",
		"ACCESS_TOKEN_TTL", "REFRESH_TOKEN_TTL", "SESSION_MAX_AGE", "REFRESH_REUSE_GRACE", "TOKEN_ISSUER",
		"TOKEN_AUDIENCE", "BCRYPT_COST", "CORS_ALLOWED_ORIGINS", "RATE_LIMIT_LOGIN", "RATE_LIMIT_IP",
		"RATE_LIMIT_REFRESH", "TRUSTED_PROXIES", "LOG_LEVEL", "LOG_FORMAT", "SHUTDOWN_TIMEOUT"} {
		if !strings.Contains(out.String(), name) {
			t.Errorf("-h does not list %s", name)
		}
	}
}

func TestBadValueStopsStartupWithOneLine(t *testing.T) {
	err := run(context.Background(), []string{"tokengate"}, env("ACCESS_TOKEN_TTL", "soon"), io.Discard, io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), "ACCESS_TOKEN_TTL") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("err = %q, want one line naming ACCESS_TOKEN_TTL", err)
	}
	err = run(context.Background(), []string{"tokengate"}, env("DATABASE_URL", "postgres://u:hunter2@localhost/db"), io.Discard, io.Discard)
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err = %v: PostgreSQL without secrets must stop start-up without echoing the password", err)
	}
}

func TestUnknownCommand(t *testing.T) {
	err := run(context.Background(), []string{"tokengate", "frobnicate"}, env(), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "frobnicate") {
		t.Fatalf("err = %v", err)
	}
}

func TestGCDefaultYieldsToGOGC(t *testing.T) {
	before := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(before) })

	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	applyGCDefault(getenv)
	if got := debug.SetGCPercent(150); got != config.DefaultGCPercent {
		t.Errorf("GOGC unset: runtime target %d, want %d", got, config.DefaultGCPercent)
	}
	// The runtime read GOGC=150 at start-up (set above in its stead);
	// tokengate must leave it alone.
	env["GOGC"] = "150"
	applyGCDefault(getenv)
	if got := debug.SetGCPercent(100); got != 150 {
		t.Errorf("GOGC=150: runtime target %d, want it left at 150", got)
	}
}

// runCmd runs one command of the program to its end and returns what it
// wrote to stdout and its error.
func runCmd(t *testing.T, getenv func(string) string, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := run(context.Background(), append([]string{"tokengate"}, args...), getenv, &out, io.Discard)
	return out.String(), err
}

// onePlainLine fails the test unless err is a single line that says want
// and none of the store's internals.
func onePlainLine(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one saying %q", want)
	}
	msg := err.Error()
	if !strings.Contains(msg, want) {
		t.Errorf("error %q does not say %q", msg, want)
	}
	for _, internal := range []string{"\n", "NOT_FOUND", "STORE_UNAVAILABLE", "try again", "sql:", "tls error", "failed to connect"} {
		if strings.Contains(msg, internal) {
			t.Errorf("error %q contains %q; want one plain line", msg, internal)
		}
	}
}

func TestRevokeUserExplainsAMissInOneLine(t *testing.T) {
	getenv := env("DATABASE_URL", "sqlite:"+filepath.Join(t.TempDir(), "tokengate.db"))
	_, err := runCmd(t, getenv, "revoke-user", "nobody@example.com")
	onePlainLine(t, err, `revoke-user: no account has the e-mail address "nobody@example.com"`)
	_, err = runCmd(t, getenv, "revoke-user", "not an address")
	onePlainLine(t, err, `revoke-user: "not an address": email is not a valid address`)
}

func TestCommandsWithoutTokensNeedNoSecrets(t *testing.T) {
	// No secret is set, and PostgreSQL would require both for serve: the
	// commands get as far as connecting, which fails for its own reason.
	getenv := env("DATABASE_URL", "postgres://tokengate@"+closedPort(t)+"/tokengate?sslmode=disable")
	for _, args := range [][]string{{"migrate"}, {"revoke-user", "ada@example.com"}} {
		_, err := runCmd(t, getenv, args...)
		onePlainLine(t, err, "connection refused")
		if strings.Contains(fmt.Sprint(err), "SECRET") {
			t.Errorf("%s: %v; want no token secret required", args[0], err)
		}
	}
	_, err := runCmd(t, env("DATABASE_URL", "postgres://tokengate@db.invalid/tokengate", "ADDR", closedPort(t)), "healthcheck")
	if err == nil || !strings.HasPrefix(err.Error(), "healthcheck: ") {
		t.Errorf("healthcheck: %v; want it to try the server, no token secret required", err)
	}
	if _, err := runCmd(t, getenv); err == nil || !strings.Contains(err.Error(), "ACCESS_TOKEN_SECRET") {
		t.Errorf("serve without secrets on PostgreSQL: %v; want them required", err)
	}

	// With SQLite they leave no generated secrets behind either.
	dir := t.TempDir()
	getenv = env("DATABASE_URL", "sqlite:"+filepath.Join(dir, "tokengate.db"))
	if out, err := runCmd(t, getenv, "migrate"); err != nil || out != "sqlite store is up to date\n" {
		t.Fatalf("migrate: %q, %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(dir, config.SecretsFileName)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("migrate made a secrets file (stat: %v)", err)
	}
}

func TestHelp(t *testing.T) {
	full, err := runCmd(t, env(), "help")
	if err != nil {
		t.Fatal(err)
	}
	dashH, _ := runCmd(t, env(), "-h")
	if full != dashH {
		t.Errorf("tokengate help and tokengate -h differ:\n%s\n---\n%s", full, dashH)
	}
	for _, want := range []string{"Usage: tokengate [COMMAND] [-h]", "tokengate revoke-user EMAIL", "tokengate migrate",
		"tokengate healthcheck", "tokengate version", "tokengate help [COMMAND]", "RATE_LIMIT_LOGIN"} {
		if !strings.Contains(full, want) {
			t.Errorf("tokengate help lacks %q:\n%s", want, full)
		}
	}

	for _, name := range []string{"revoke-user", "migrate", "healthcheck", "version", "help"} {
		byFlag, err := runCmd(t, env(), name, "-h")
		if err != nil {
			t.Fatalf("%s -h: %v", name, err)
		}
		byHelp, err := runCmd(t, env(), "help", name)
		if err != nil {
			t.Fatalf("help %s: %v", name, err)
		}
		if byFlag != byHelp {
			t.Errorf("%s -h and help %s differ:\n%s\n---\n%s", name, name, byFlag, byHelp)
		}
		usage, _ := usageOf(name)
		if !strings.HasPrefix(byFlag, "Usage: "+usage+"\n") {
			t.Errorf("%s -h = %q; want it to start with its usage", name, byFlag)
		}
		// Its own usage, not the table of every variable.
		if strings.Contains(byFlag, "RATE_LIMIT_LOGIN") || strings.Count(byFlag, "\n") > 6 {
			t.Errorf("%s -h prints more than its own usage:\n%s", name, byFlag)
		}
	}
	if out, _ := runCmd(t, env(), "revoke-user", "-h"); !strings.Contains(out, "It reads DATABASE_URL") {
		t.Errorf("revoke-user -h does not say what it reads:\n%s", out)
	}
	if out, _ := runCmd(t, env(), "serve", "-h"); !strings.HasPrefix(out, "Usage: tokengate [serve]\n") || !strings.Contains(out, "RATE_LIMIT_LOGIN") {
		t.Errorf("serve -h: want its usage and every variable:\n%s", out)
	}
	if _, err := runCmd(t, env(), "help", "frobnicate"); err == nil || !strings.Contains(err.Error(), "usage: tokengate help [COMMAND]") {
		t.Errorf("help frobnicate: %v", err)
	}
}

func TestVersion(t *testing.T) {
	stamped := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Path:      "github.com/tokengate/tokengate",
		Main:      debug.Module{Path: "github.com/tokengate/tokengate", Version: "v0.0.0-20261202001457-ffb22052fb56+dirty"},
		Settings: []debug.BuildSetting{
			{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "arm64"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "ffb22052fb564fc669c4fb4314a8d340e8d4ad39"},
			{Key: "vcs.time", Value: "2026-12-02T00:14:57Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	want := "tokengate v0.0.0-20261202001457-ffb22052fb56+dirty\n" +
		"module    github.com/tokengate/tokengate\n" +
		"revision  ffb22052fb564fc669c4fb4314a8d340e8d4ad39 (committed 2026-12-02T00:14:57Z, with uncommitted changes)\n" +
		"go        go1.26.8 linux/arm64\n"
	if got := versionText(stamped, true); got != want {
		t.Errorf("stamped build:\n%s\nwant\n%s", got, want)
	}

	// A tagged release installed with go install has a version but no VCS
	// stamp; go run has neither.
	unstamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/tokengate/tokengate", Version: "v1.4.0"}}
	got := versionText(unstamped, true)
	if !strings.HasPrefix(got, "tokengate v1.4.0\nmodule    github.com/tokengate/tokengate\nrevision  not recorded: ") {
		t.Errorf("unstamped build:\n%s", got)
	}

	// The test binary's own build information, through the command.
	out, err := runCmd(t, env(), "version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "tokengate ") || !strings.Contains(out, "\nrevision  ") || !strings.Contains(out, "\ngo        "+runtime.Version()) {
		t.Errorf("tokengate version:\n%s", out)
	}
}

func TestInMemorySecretsAreKeptNowhere(t *testing.T) {
	p := start(t, env("ADDR", "127.0.0.1:0", "DATABASE_URL", "sqlite::memory:", "BCRYPT_COST", "4"))
	logs := p.logs()
	if !strings.Contains(logs, "generated new token secrets, kept nowhere") || strings.Contains(logs, "kept_in") {
		t.Errorf("want the secrets warning to say they are kept nowhere, without kept_in:\n%s", logs)
	}

	dir := t.TempDir()
	p = start(t, env("ADDR", "127.0.0.1:0", "DATABASE_URL", "sqlite:"+filepath.Join(dir, "tg.db"), "BCRYPT_COST", "4"))
	if want := "kept_in=" + filepath.Join(dir, config.SecretsFileName); !strings.Contains(p.logs(), want) {
		t.Errorf("a file database: want the warning to say %s:\n%s", want, p.logs())
	}
}

func TestAccessTTLLongerThanRefreshTTLStopsStartup(t *testing.T) {
	_, err := runCmd(t, env("DATABASE_URL", "sqlite::memory:", "ACCESS_TOKEN_TTL", "2h", "REFRESH_TOKEN_TTL", "1h"))
	if err == nil || !strings.HasPrefix(err.Error(), "ACCESS_TOKEN_TTL: 2h0m0s is longer than REFRESH_TOKEN_TTL") {
		t.Fatalf("err = %v", err)
	}
}

// closedPort returns an address nothing listens on: a port just freed.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// testSecrets are what serve needs with PostgreSQL besides DATABASE_URL:
// the token secrets, the key encryption key and the mail settings.
var testSecrets = []string{
	"ACCESS_TOKEN_SECRET", "access-secret-for-run-tests-0123456789",
	"REFRESH_TOKEN_SECRET", "refresh-secret-for-run-tests-0123456789",
	"KEY_ENCRYPTION_KEY", "key-encryption-key-for-run-tests-0123456789",
	"PUBLIC_URL", "http://localhost:8080",
	"SMTP_URL", "file:" + filepath.Join(os.TempDir(), "tokengate-run-tests-outbox"),
}

// pgServer is the test PostgreSQL server as a base URL without database,
// user or options, so that each case can name its own. sslmode is left at
// its default (prefer), under which pgx first tries TLS, as an operator's
// URL usually does.
func pgServer(t *testing.T) (hostPort string, admin string) {
	t.Helper()
	pgtest.Require(t)
	admin = os.Getenv(pgtest.EnvURL)
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		t.Fatalf("parse %s: %v", pgtest.EnvURL, err)
	}
	if strings.HasPrefix(cfg.Host, "/") {
		t.Skipf("%s names a Unix socket; these cases need TCP", pgtest.EnvURL)
	}
	return net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))), admin
}

// adminExec runs statements as the test server's administrator.
func adminExec(t *testing.T, admin string, stmts ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// requirePassword makes the test server ask role for its password, which
// the test cluster (trust authentication) otherwise never does: lines for
// that role alone go first in pg_hba.conf, and are removed when the test
// ends. It reports false, changing nothing, on a server whose data
// directory it does not know.
func requirePassword(t *testing.T, admin, role string) bool {
	t.Helper()
	data := os.Getenv("TOKENGATE_TEST_PGDATA")
	if data == "" {
		t.Log("TOKENGATE_TEST_PGDATA is not set (scripts/with-postgres.sh sets it): the server's password checks are left as they are")
		return false
	}
	hba := filepath.Join(data, "pg_hba.conf")
	before, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	lines := "host all " + role + " 127.0.0.1/32 scram-sha-256\nhost all " + role + " ::1/128 scram-sha-256\n"
	if err := os.WriteFile(hba, append([]byte(lines), before...), 0o600); err != nil {
		t.Fatal(err)
	}
	adminExec(t, admin, "SELECT pg_reload_conf()")
	t.Cleanup(func() {
		if err := os.WriteFile(hba, before, 0o600); err != nil {
			t.Error(err)
		}
		adminExec(t, admin, "SELECT pg_reload_conf()")
	})
	return true
}

// uniqueName returns a role or database name no other test uses.
func uniqueName(prefix string) string {
	return prefix + strconv.FormatInt(time.Now().UnixNano(), 36)
}

func TestPostgresStartupSaysWhatIsWrong(t *testing.T) {
	hostPort, admin := pgServer(t)
	db := pgtest.URL(t) // a database that exists, migrations applied by no one yet
	cfg, err := pgx.ParseConfig(db)
	if err != nil {
		t.Fatal(err)
	}
	role := uniqueName("tg_password_")
	adminExec(t, admin, "CREATE ROLE "+role+" LOGIN PASSWORD 'right-pa55word'")
	t.Cleanup(func() { adminExec(t, admin, "DROP ROLE "+role) })
	passwords := requirePassword(t, admin, role)

	for _, tc := range []struct {
		name, url, want string
	}{
		{"wrong password", "postgres://" + role + ":wrong-pa55word@" + hostPort + "/" + cfg.Database,
			`refused the password of user "` + role + `" (password authentication failed)`},
		{"missing database", "postgres://" + cfg.User + "@" + hostPort + "/tokengate_no_such_db",
			`has no database "tokengate_no_such_db": create it (CREATE DATABASE tokengate_no_such_db OWNER ` + cfg.User + `)`},
		{"unknown role", "postgres://tg_no_such_role@" + hostPort + "/" + cfg.Database,
			`refused user "tg_no_such_role" (authentication failed: role "tg_no_such_role" does not exist)`},
		{"closed port", "postgres://" + cfg.User + "@" + closedPort(t) + "/" + cfg.Database,
			"connection refused (is PostgreSQL running, on this host and port?)"},
		// Signed in, but in a database it does not own (PostgreSQL 15).
		{"not the owner", "postgres://" + role + ":right-pa55word@" + hostPort + "/" + cfg.Database,
			"PostgreSQL refused the user of DATABASE_URL what the migrations need (permission denied for schema public): make that user the owner of the database"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "wrong password" && !passwords {
				t.Skip("the server does not check passwords")
			}
			for _, cmd := range []string{"serve", "migrate"} {
				_, err := runCmd(t, env(append([]string{"ADDR", "127.0.0.1:0", "DATABASE_URL", tc.url}, testSecrets...)...), cmd)
				onePlainLine(t, err, tc.want)
				if strings.Contains(fmt.Sprint(err), "wrong-pa55word") {
					t.Errorf("%s: %q shows the password", cmd, err)
				}
			}
		})
	}

	// Where the server is right, migrate and revoke-user run without any
	// token secret.
	right := env("DATABASE_URL", db)
	if out, err := runCmd(t, right, "migrate"); err != nil || out != "postgres store is up to date\n" {
		t.Fatalf("migrate: %q, %v", out, err)
	}
	_, err = runCmd(t, right, "revoke-user", "nobody@example.com")
	onePlainLine(t, err, `revoke-user: no account has the e-mail address "nobody@example.com"`)
}

// TestReadmePostgresSetupWorksAsPrinted runs the README's PostgreSQL
// set-up against the test server: its SQL creates the role and the
// database (under names of this test's own), its shell lines make the
// secrets file and read it back, and tokengate then serves with them, the
// role's password checked.
func TestReadmePostgresSetupWorksAsPrinted(t *testing.T) {
	hostPort, admin := pgServer(t)
	blocks := shBlocks(t, "### PostgreSQL")
	if len(blocks) != 3 {
		t.Fatalf("want the README's three PostgreSQL blocks (role and database, secrets, start), got %d", len(blocks))
	}
	name := uniqueName("tg_readme_")
	rename := strings.NewReplacer("tokengate", name).Replace

	// 1. The superuser's SQL.
	psql := regexp.MustCompile(`^sudo -u postgres psql -c "(.*)"$`)
	var stmts []string
	for line := range strings.Lines(blocks[0]) {
		m := psql.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			t.Fatalf("unexpected line in the README's role and database block: %q", line)
		}
		stmts = append(stmts, rename(m[1]))
	}
	t.Cleanup(func() {
		adminExec(t, admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)", "DROP ROLE IF EXISTS "+name)
	})
	adminExec(t, admin, stmts...)
	passwords := requirePassword(t, admin, name)

	// 2. and 3. The secrets, made once into a file and read back, and the
	// URL; the program runs here rather than through go run.
	start3, _, ok := strings.Cut(blocks[2], "go run .")
	if !ok {
		t.Fatal("the README's last PostgreSQL block does not run go run .")
	}
	dir := t.TempDir()
	script := blocks[1] + strings.ReplaceAll(start3, "localhost:5432", hostPort) +
		"env | grep -E '^(ACCESS_TOKEN_SECRET|REFRESH_TOKEN_SECRET|KEY_ENCRYPTION_KEY|DATABASE_URL|PUBLIC_URL|SMTP_URL)=' | sort\n"
	script = strings.ReplaceAll(script, "@"+hostPort+"/tokengate", "@"+hostPort+"/"+name)
	script = strings.ReplaceAll(script, "postgres://tokengate:", "postgres://"+name+":")
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's PostgreSQL lines failed: %v\n%s", err, out)
	}
	vars := map[string]string{}
	for line := range strings.Lines(strings.TrimSpace(string(out))) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), "=")
		vars[k] = v
	}
	for _, secret := range []string{"ACCESS_TOKEN_SECRET", "REFRESH_TOKEN_SECRET", "KEY_ENCRYPTION_KEY"} {
		if len(vars[secret]) < config.MinSecretBytes {
			t.Fatalf("%s: want a secret of at least %d bytes, got %d", secret, config.MinSecretBytes, len(vars[secret]))
		}
	}
	if vars["ACCESS_TOKEN_SECRET"] == vars["REFRESH_TOKEN_SECRET"] || len(vars) != 6 {
		t.Fatalf("want three different secrets, DATABASE_URL, PUBLIC_URL and SMTP_URL, got %d variables", len(vars))
	}
	if info, err := os.Stat(filepath.Join(dir, "tokengate.env")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("tokengate.env: %v, %v; want mode 0600", info, err)
	}

	kv := []string{"ADDR", "127.0.0.1:0", "BCRYPT_COST", "4"}
	for k, v := range vars {
		if k == "SMTP_URL" && strings.HasPrefix(v, "file:") && !filepath.IsAbs(strings.TrimPrefix(v, "file:")) {
			v = "file:" + filepath.Join(dir, strings.TrimPrefix(v, "file:"))
		}
		kv = append(kv, k, v)
	}
	p := start(t, env(kv...))
	res, body := postJSON(t, "http://"+p.addr+"/auth/register", `{"email":"ada@example.com","password":"correct horse battery","name":"Ada"}`)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %v", res.StatusCode, body)
	}

	// The same URL with another password is refused, in one line.
	if !passwords {
		return
	}
	wrong := strings.Replace(vars["DATABASE_URL"], ":change-me@", ":not-the-password@", 1)
	if wrong == vars["DATABASE_URL"] {
		t.Fatal("the README's DATABASE_URL no longer has the password change-me")
	}
	_, err = runCmd(t, env("DATABASE_URL", wrong), "migrate")
	onePlainLine(t, err, "password authentication failed")
}
