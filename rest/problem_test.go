package rest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/edge"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/rest"
)

func TestErrorWriterMapsEachCodeToItsStatus(t *testing.T) {
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		code       auth.Code
		reason     auth.Reason
		detail     string
		retryAfter string
	}{
		{"bad user input", auth.BadUserInput("email is required"), 400, auth.CodeBadUserInput, "", "email is required", ""},
		{"bad request", auth.BadRequest("conflicting credentials"), 400, auth.CodeBadRequest, "", "conflicting credentials", ""},
		{"unauthenticated", auth.Unauthenticated(auth.ReasonTokenExpired), 401, auth.CodeUnauthenticated, auth.ReasonTokenExpired, "the token has expired", ""},
		{"invalid credentials", auth.ErrInvalidCredentials, 401, auth.CodeInvalidCredentials, "", "wrong e-mail or password", ""},
		{"email taken, wrapped", fmt.Errorf("register: %w", auth.ErrEmailTaken), 409, auth.CodeEmailTaken, "", auth.ErrEmailTaken.Message, ""},
		{"not found", auth.ErrNotFound, 404, auth.CodeNotFound, "", "not found", ""},
		{"rate limited, rounded up", auth.RateLimited(1500 * time.Millisecond), 429, auth.CodeRateLimited, "", "too many attempts; try again later", "2"},
		{"rate limited, never 0", auth.RateLimited(0), 429, auth.CodeRateLimited, "", "too many attempts; try again later", "1"},
		{"store unavailable", auth.Unavailable(errors.New("dial tcp: connection refused")), 503, auth.CodeStoreUnavailable, "", auth.ErrStoreUnavailable.Message, "2"},
		{"internal", errors.New("disk on fire"), 500, auth.CodeInternal, "", "internal error", ""},
		{"internal with a message", &auth.Error{Code: auth.CodeInternal, Message: "pq: password authentication failed"}, 500, auth.CodeInternal, "", "internal error", ""},
		{"unknown code", &auth.Error{Code: "SOMETHING_NEW", Message: "not meant for clients"}, 500, auth.CodeInternal, "", "internal error", ""},
		{"nil", nil, 500, auth.CodeInternal, "", "internal error", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := writeError(t, discardLogger(), httptest.NewRequest(http.MethodPost, "/auth/login", nil), tc.err)
			p := wantProblem(t, res, tc.status, tc.code)
			if p.Reason != tc.reason || p.Detail != tc.detail {
				t.Errorf("reason %q detail %q, want %q %q", p.Reason, p.Detail, tc.reason, tc.detail)
			}
			if got := res.Header.Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After %q, want %q", got, tc.retryAfter)
			}
			if got := res.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			if got := res.Header.Get("WWW-Authenticate"); (tc.status == 401) != (got != "") {
				t.Errorf("WWW-Authenticate %q on a %d", got, tc.status)
			}
		})
	}
}

func TestErrorWriterChallengesWithInvalidTokenOnlyWhenATokenWasSent(t *testing.T) {
	for _, tc := range []struct {
		name    string
		headers []string
		err     error
		want    string
	}{
		{"nothing sent", nil, auth.Unauthenticated(auth.ReasonTokenMissing), "Bearer"},
		{"nothing sent, bad login", nil, auth.ErrInvalidCredentials, "Bearer"},
		{"x-access-token", []string{"X-Access-Token", "t"}, auth.Unauthenticated(auth.ReasonTokenInvalid), `Bearer error="invalid_token"`},
		{"x-refresh-token", []string{"X-Refresh-Token", "t"}, auth.Unauthenticated(auth.ReasonSessionRevoked), `Bearer error="invalid_token"`},
		{"authorization", []string{"Authorization", "Bearer t"}, auth.Unauthenticated(auth.ReasonTokenExpired), `Bearer error="invalid_token"`},
		{"token in the body", nil, auth.Unauthenticated(auth.ReasonRefreshReused), `Bearer error="invalid_token"`},
		// A token that was not what failed is not called invalid, or the
		// client would drop a good token.
		{"good token, wrong password", []string{"X-Access-Token", "t"}, auth.ErrInvalidCredentials, "Bearer"},
		{"basic credentials", []string{"Authorization", "Basic dTpw"}, auth.Unauthenticated(auth.ReasonTokenMissing), "Bearer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/auth/me", nil)
			for i := 0; i+1 < len(tc.headers); i += 2 {
				r.Header.Set(tc.headers[i], tc.headers[i+1])
			}
			res := writeError(t, discardLogger(), r, tc.err)
			wantStatus(t, res, http.StatusUnauthorized)
			if got := res.Header.Get("WWW-Authenticate"); got != tc.want {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.want)
			}
		})
	}
}

func TestErrorWriterLogsInternalCauseButNeverSecrets(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(edge.LogHandler(slog.NewJSONHandler(&logs, nil)))
	r := httptest.NewRequest(http.MethodPost, "/auth/password", strings.NewReader(`{"currentPassword":"hunter2hunter2"}`))
	r.Header.Set("X-Access-Token", "secret-access-token")
	r.Header.Set("X-Refresh-Token", "secret-refresh-token")
	r.Header.Set("Authorization", "Bearer secret-access-token")
	r.Header.Set("Cookie", "session=secret-cookie")
	r = r.WithContext(auth.NewContextWithCaller(r.Context(), auth.Caller{UserID: "user-42", SessionID: "session-7"}))

	res := writeError(t, log, r, fmt.Errorf("change password: %w", errors.New("disk on fire")))
	wantProblem(t, res, http.StatusInternalServerError, auth.CodeInternal)
	if bytes.Contains(res.Body, []byte("disk on fire")) {
		t.Errorf("response shows the cause: %s", res.Body)
	}
	line := logs.String()
	for _, want := range []string{`"level":"ERROR"`, `"method":"POST"`, `"user":"user-42"`, "disk on fire"} {
		if !strings.Contains(line, want) {
			t.Errorf("log lacks %s: %s", want, line)
		}
	}
	for _, secret := range []string{"secret-access-token", "secret-refresh-token", "secret-cookie", "hunter2", "/auth/password"} {
		if strings.Contains(line, secret) {
			t.Errorf("log contains %q: %s", secret, line)
		}
	}
}

func TestErrorWriterLogsOnlyInternalAndStoreUnavailable(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	for _, err := range []error{
		auth.BadUserInput("x"), auth.BadRequest("x"), auth.Unauthenticated(auth.ReasonTokenExpired),
		auth.ErrInvalidCredentials, auth.ErrEmailTaken, auth.ErrNotFound, auth.RateLimited(time.Second),
	} {
		writeError(t, log, httptest.NewRequest(http.MethodGet, "/auth/me", nil), err)
	}
	if logs.Len() != 0 {
		t.Errorf("client errors were logged: %s", logs.String())
	}
	writeError(t, log, httptest.NewRequest(http.MethodGet, "/readyz", nil), auth.Unavailable(errors.New("connection refused")))
	if !strings.Contains(logs.String(), `"level":"WARN"`) || !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("store outage not logged as a warning with its cause: %s", logs.String())
	}
}

func TestNewErrorWriterPanicsWithoutALogger(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	rest.NewErrorWriter(nil)
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func writeError(t testing.TB, log *slog.Logger, r *http.Request, err error) *testserver.Response {
	t.Helper()
	onError := rest.NewErrorWriter(log)
	return serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { onError(w, r, err) }), r)
}

// serve runs one request through h in process.
func serve(t testing.TB, h http.Handler, r *http.Request) *testserver.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	res := rec.Result()
	res.Request = r
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &testserver.Response{Response: res, Body: body}
}

func newReadyz(t testing.TB, ready func(context.Context) error) http.Handler {
	t.Helper()
	return rest.HandleReadyz(ready, rest.NewErrorWriter(discardLogger()))
}
