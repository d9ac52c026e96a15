package middleware_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/edge"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/middleware"
	"github.com/tokengate/tokengate/resolvers"
	"github.com/tokengate/tokengate/server"
	"github.com/tokengate/tokengate/store/sqlite"
	"github.com/tokengate/tokengate/token"
)

// jsonServer serves the real stack with every log line, the service's
// included, written as JSON to logs.
func jsonServer(t *testing.T, logs io.Writer) string {
	t.Helper()
	st, err := sqlite.Open(context.Background(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	codec := token.New(token.Config{
		AccessSecret: testserver.AccessSecret, RefreshSecret: testserver.RefreshSecret,
		Issuer: "tokengate", Audience: "tokengate", AccessTTL: 15 * time.Minute, Now: time.Now,
	})
	policy := auth.DefaultPolicy()
	policy.BcryptCost = bcrypt.MinCost
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := auth.NewService(st, codec, policy, auth.Limits{}, time.Now, log)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(server.New(server.Deps{Service: svc, Logger: log, GraphQL: resolvers.DefaultLimits()}))
	t.Cleanup(hs.Close)
	return hs.URL
}

type tokensBody struct {
	AccessToken  string `json:"accessToken"`
	RefreshToken string `json:"refreshToken"`
	User         struct {
		ID string `json:"id"`
	} `json:"user"`
}

// TestRequestLogsCarryUsersButNoSecrets runs a whole flow with a JSON log
// handler and checks that the logs name the user and the route of each
// request, and that no token, password, secret or query value appears in
// them anywhere.
func TestRequestLogsCarryUsersButNoSecrets(t *testing.T) {
	var logs testserver.LogBuffer
	url := jsonServer(t, &logs)
	const (
		newPassword   = "a whole new passphrase"
		wrongPassword = "wrong-password-sentinel"
		queryValue    = "query-value-sentinel"
	)
	var secrets []string // everything that must not reach the log
	secrets = append(secrets, testserver.Password, newPassword, wrongPassword, queryValue,
		string(testserver.AccessSecret), string(testserver.RefreshSecret))

	do := func(method, path, body string, headers ...string) (*http.Response, []byte) {
		t.Helper()
		res := testserver.Request(t, http.DefaultClient, url+path, method, body, headers...)
		b := res.Body
		for _, h := range []string{"X-Access-Token", "X-Refresh-Token"} {
			if v := res.Header.Get(h); v != "" {
				secrets = append(secrets, v)
			}
		}
		return res.Response, b
	}
	tokensOf := func(b []byte) tokensBody {
		t.Helper()
		var tb tokensBody
		if err := json.Unmarshal(b, &tb); err != nil || tb.AccessToken == "" {
			t.Fatalf("no tokens in %s: %v", b, err)
		}
		secrets = append(secrets, tb.AccessToken, tb.RefreshToken)
		return tb
	}

	_, b := do(http.MethodPost, "/auth/register", `{"email":"ada@example.com","password":"`+testserver.Password+`","name":"Ada"}`)
	reg := tokensOf(b)
	userID := reg.User.ID
	_, b = do(http.MethodPost, "/auth/login", `{"email":"ada@example.com","password":"`+testserver.Password+`"}`)
	login := tokensOf(b)
	// Refresh through the header, as a client with an expired access token.
	res, _ := do(http.MethodGet, "/auth/me", "", "X-Refresh-Token", login.RefreshToken)
	access := res.Header.Get("X-Access-Token")
	if access == "" {
		t.Fatal("no rotation through the header")
	}
	res, b = do(http.MethodPost, "/graphql", `{"query":"{ loggedInUser { id } }"}`, "Authorization", "Bearer "+access)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), userID) {
		t.Fatalf("GraphQL: %d %s", res.StatusCode, b)
	}
	_, b = do(http.MethodPost, "/auth/password", `{"currentPassword":"`+testserver.Password+`","newPassword":"`+newPassword+`"}`, "X-Access-Token", access)
	tokensOf(b)
	res, _ = do(http.MethodPost, "/auth/login", `{"email":"ada@example.com","password":"`+wrongPassword+`"}`)
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", res.StatusCode)
	}
	// A refresh token replayed after the password change, a bad token, and
	// a query string.
	do(http.MethodGet, "/auth/me", "", "X-Refresh-Token", reg.RefreshToken)
	do(http.MethodGet, "/auth/me", "", "X-Access-Token", "eyJhbGciOiJIUzI1NiJ9.bad.token")
	do(http.MethodGet, "/graphql?query="+queryValue, "")
	do(http.MethodDelete, "/auth/sessions/"+reg.User.ID, "", "X-Access-Token", access)

	out := logs.String()
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("the log contains a secret %.12q…", s)
		}
	}
	if jwt := regexp.MustCompile(`eyJ[A-Za-z0-9_-]{5,}`).FindString(out); jwt != "" {
		t.Errorf("the log contains something JWT-shaped: %s", jwt)
	}

	var requests []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("not a JSON log line: %s", sc.Text())
		}
		if rec["msg"] == "request" {
			requests = append(requests, rec)
		}
	}
	if len(requests) != 10 {
		t.Fatalf("%d request records, want 10:\n%s", len(requests), out)
	}
	for _, rec := range requests {
		for _, k := range []string{"request_id", "method", "route", "status", "bytes", "latency"} {
			if _, ok := rec[k]; !ok {
				t.Errorf("request record lacks %s: %v", k, rec)
			}
		}
	}
	want := []struct {
		route  string
		status float64
		user   string
		reason string
	}{
		{"/auth/register", 201, "", ""},
		{"/auth/login", 200, "", ""},
		{"/auth/me", 200, userID, ""},
		{"/graphql", 200, userID, ""},
		{"/auth/password", 200, userID, ""},
		{"/auth/login", 401, "", ""},
		{"/auth/me", 401, "", "SESSION_REVOKED"},
		{"/auth/me", 401, "", "TOKEN_INVALID"},
		{"/graphql", 405, "", ""},
		{"/auth/sessions/{id}", 404, userID, ""},
	}
	for i, w := range want {
		rec := requests[i]
		if rec["route"] != w.route || rec["status"] != w.status {
			t.Errorf("record %d: route %v status %v, want %s %v", i, rec["route"], rec["status"], w.route, w.status)
		}
		if user, _ := rec["user"].(string); user != w.user {
			t.Errorf("record %d (%s): user %q, want %q", i, w.route, user, w.user)
		}
		if reason, _ := rec["auth_reason"].(string); reason != w.reason {
			t.Errorf("record %d (%s): auth_reason %q, want %q", i, w.route, reason, w.reason)
		}
	}
}

func TestLogRequestsGivesEachRequestAnID(t *testing.T) {
	var logs testserver.LogBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	r := chi.NewRouter()
	r.Use(middleware.LogRequests(log))
	var seen []string
	r.Get("/x", func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, edge.RequestIDFromContext(r.Context()))
		edge.SetCaller(r.Context(), auth.Caller{UserID: "user-1"})
	})
	for range 2 {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
		if got := rec.Header().Get(middleware.HeaderRequestID); got == "" || got != seen[len(seen)-1] {
			t.Errorf("response id %q, context id %q", got, seen[len(seen)-1])
		}
	}
	if seen[0] == seen[1] || len(seen[0]) != 16 {
		t.Errorf("ids %q", seen)
	}
	if n := strings.Count(logs.String(), `"user":"user-1"`); n != 2 {
		t.Errorf("SetCaller reached %d of 2 records:\n%s", n, logs.String())
	}
	if edge.RequestIDFromContext(context.Background()) != "" {
		t.Error("an id outside a request")
	}
	edge.SetCaller(context.Background(), auth.Caller{UserID: "nobody"}) // no record: no panic
}
