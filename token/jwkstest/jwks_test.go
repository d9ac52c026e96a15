package jwkstest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tokengate/tokengate/internal/pgtest"
)

// The server's fixed settings. PostgreSQL, so that `tokengate keys`
// reaches the running server at once through NOTIFY.
var baseEnv = []string{
	"ADDR=127.0.0.1:0",
	"BCRYPT_COST=4",
	"LOG_FORMAT=text",
	"ACCESS_TOKEN_SECRET=jwkstest-access-secret-0123456789abcdef",
	"REFRESH_TOKEN_SECRET=jwkstest-refresh-secret-0123456789abcdef",
	"KEY_ENCRYPTION_KEY=jwkstest-key-encryption-key-0123456789",
	"PUBLIC_URL=http://localhost:8080",
	"SMTP_URL=file:" + os.TempDir(),
}

// TestJoseVerifiesAcrossARotation: jose, fetching the JWKS from the real
// binary, verifies an access token it issued; after `tokengate keys
// rotate` it verifies a new token under the new kid while the old token
// still verifies until it expires; after `tokengate keys retire` of the
// old key neither jose nor tokengate accept the old token.
func TestJoseVerifiesAcrossARotation(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary and node")
	}
	node := need(t, "node")
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jose", "package.json")); err != nil {
		run(t, dir, nil, need(t, "npm"), "ci", "--no-audit", "--no-fund")
	}
	pgtest.Require(t)
	env := append(os.Environ(), baseEnv...)
	env = append(env, "DATABASE_URL="+pgtest.URL(t))

	bin := filepath.Join(t.TempDir(), "tokengate")
	run(t, filepath.Join(dir, "..", ".."), nil, "go", "build", "-o", bin, ".")
	srv := start(t, bin, env)
	jwksURL := srv.url + "/.well-known/jwks.json"
	verify := func(tok string, now ...int64) (map[string]any, bool) {
		t.Helper()
		args := []string{"verify.mjs", jwksURL, tok, "tokengate", "tokengate"}
		for _, n := range now {
			args = append(args, strconv.FormatInt(n, 10))
		}
		cmd := exec.Command(node, args...)
		cmd.Dir = dir
		out, err := cmd.Output()
		var res map[string]any
		if jerr := json.Unmarshal(out, &res); jerr != nil {
			t.Fatalf("verify.mjs printed %q (%v)", out, err)
		}
		return res, err == nil
	}

	// The first token: jose verifies it with the key its kid names.
	first := signIn(t, srv.url, "/auth/register", `{"email":"jose@example.com","password":"password-1","name":"Jose"}`)
	firstKid := kid(t, first)
	res, ok := verify(first)
	if !ok || res["kid"] != firstKid || res["alg"] != "ES256" || res["sub"] == "" {
		t.Fatalf("jose on the first token: %v", res)
	}
	if res, ok := verify(first[:len(first)-4] + "AAAA"); ok {
		t.Fatalf("jose accepted a token with a changed signature: %v", res)
	}

	// Rotate: the next key signs at once; the running server hears of it.
	out := run(t, dir, env, bin, "keys", "rotate")
	m := regexp.MustCompile(`rotated: (\S+) signs`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("keys rotate printed %q", out)
	}
	newKid := m[1]
	srv.waitLog(t, "signing_kid="+newKid)
	second := signIn(t, srv.url, "/auth/login", `{"email":"jose@example.com","password":"password-1"}`)
	if kid(t, second) != newKid || newKid == firstKid {
		t.Fatalf("after the rotation a token has kid %s, want %s", kid(t, second), newKid)
	}
	if res, ok := verify(second); !ok || res["kid"] != newKid {
		t.Fatalf("jose on the new token: %v", res)
	}
	if res, ok := verify(first); !ok || res["kid"] != firstKid {
		t.Fatalf("jose on the old token after the rotation: %v", res)
	}
	// ... until it expires (ACCESS_TOKEN_TTL 15m, with jose's 30s tolerance).
	exp := int64(claims(t, first)["exp"].(float64))
	if res, ok := verify(first, exp+31); ok || res["refused"] != "ERR_JWT_EXPIRED" {
		t.Fatalf("jose on the old token after its expiry: %v", res)
	}
	if status(t, srv.url, first) != http.StatusOK {
		t.Fatal("tokengate refused the old token after the rotation")
	}

	// Retire the old key: gone from the set, its token refused everywhere.
	run(t, dir, env, bin, "keys", "retire", firstKid)
	srv.waitLog(t, "published=2")
	if res, ok := verify(first); ok {
		t.Fatalf("jose accepted a retired key's token: %v", res)
	}
	if got := status(t, srv.url, first); got != http.StatusUnauthorized {
		t.Fatalf("tokengate answered %d to a retired key's token, want 401", got)
	}
	if res, ok := verify(second); !ok {
		t.Fatalf("jose on the current token after the retirement: %v", res)
	}
}

func need(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found: it is required for the JWKS verifier test under CI (make test installs it)", name)
	}
	t.Skipf("%s not found: the jose verifier test is skipped; install Node.js and npm, or run make test", name)
	return ""
}

// run runs a command to completion and returns its output, failing the
// test with it if the command fails.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

type server struct {
	url   string
	lines chan string
}

// start runs the binary and waits for its "listening" line.
func start(t *testing.T, bin string, env []string) *server {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	})
	s := &server{lines: make(chan string, 1024)}
	var (
		mu   sync.Mutex
		logs bytes.Buffer
	)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			mu.Lock()
			logs.WriteString(sc.Text() + "\n")
			mu.Unlock()
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			defer mu.Unlock()
			t.Logf("server log:\n%s", logs.String())
		}
	})
	addr := regexp.MustCompile(`msg=listening addr=(\S+)`)
	deadline := time.After(time.Minute)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				t.Fatal("the server exited before listening")
			}
			if m := addr.FindStringSubmatch(line); m != nil {
				s.url = "http://" + m[1]
				return s
			}
		case <-deadline:
			t.Fatal("the server did not listen within a minute")
		}
	}
}

// waitLog waits for a log line containing want.
func (s *server) waitLog(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				t.Fatalf("the server exited before logging %q", want)
			}
			if strings.Contains(line, want) {
				return
			}
		case <-deadline:
			t.Fatalf("no log line with %q within 30s", want)
		}
	}
}

func signIn(t *testing.T, base, path, body string) string {
	t.Helper()
	res, err := http.Post(base+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var tokens struct {
		AccessToken string `json:"accessToken"`
	}
	if err := json.Unmarshal(raw, &tokens); err != nil || tokens.AccessToken == "" {
		t.Fatalf("%s: %s %s", path, res.Status, raw)
	}
	return tokens.AccessToken
}

func status(t *testing.T, base, access string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func segment(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func kid(t *testing.T, tok string) string {
	t.Helper()
	k, _ := segment(t, tok, 0)["kid"].(string)
	return k
}

func claims(t *testing.T, tok string) map[string]any { return segment(t, tok, 1) }
