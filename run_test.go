package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/tokengate/tokengate/config"
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
		var all strings.Builder
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		logs <- all.String()
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
