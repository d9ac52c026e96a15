package tokengatetest_test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tokengate/tokengate/tokengatetest"
)

func TestConformanceOfTokengateItself(t *testing.T) {
	tokengatetest.Conformance(t, nil)
}

func TestConformanceInMemory(t *testing.T) {
	tokengatetest.Conformance(t, nil, tokengatetest.WithInMemoryTransport())
}

func TestAdvanceExpiresTheAccessToken(t *testing.T) {
	s := tokengatetest.NewServer(t)
	tok := s.SignUp(t, "ada@example.com", "correct horse battery", "Ada")
	if res := s.Do(t, http.MethodGet, "/auth/me", nil, "x-access-token", tok.AccessToken); res.StatusCode != http.StatusOK {
		t.Fatalf("fresh token: %d", res.StatusCode)
	}
	s.Advance(15*time.Minute + 31*time.Second) // the TTL and the clock leeway
	res := s.Do(t, http.MethodGet, "/auth/me", nil, "x-access-token", tok.AccessToken)
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(string(res.Body), "TOKEN_EXPIRED") {
		t.Fatalf("after Advance: %d %s", res.StatusCode, res.Body)
	}
	if !strings.Contains(s.Metrics(t), "tokengate_") {
		t.Error("no tokengate metrics")
	}
}

// TestUnderSynctest: with the in-memory transport and the bubble's own
// clock, a whole sign-up, expiry and refresh runs in fake time.
func TestUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := tokengatetest.NewServer(t, tokengatetest.WithInMemoryTransport(), tokengatetest.WithRealClock())
		tok := s.SignUp(t, "sync@example.com", "correct horse battery", "Sync")
		time.Sleep(time.Hour) // fake: no real time passes
		res := s.Do(t, http.MethodGet, "/auth/me", nil, tok.Headers()...)
		if res.StatusCode != http.StatusOK || res.Header.Get("x-refresh-token") == "" {
			t.Fatalf("after an hour of fake time: %d %s", res.StatusCode, res.Body)
		}
	})
}

// exampleTB lets the examples run a Server outside a test: it fails by
// exiting, and cleans up at once on Close.
type exampleTB struct {
	testing.TB
	cleanups []func()
}

func (e *exampleTB) Helper()                         {}
func (e *exampleTB) Cleanup(f func())                { e.cleanups = append(e.cleanups, f) }
func (e *exampleTB) Failed() bool                    { return false }
func (e *exampleTB) Logf(format string, args ...any) {}
func (e *exampleTB) Fatalf(format string, args ...any) {
	fmt.Printf(format+"\n", args...)
	os.Exit(1)
}
func (e *exampleTB) TempDir() string {
	dir, err := os.MkdirTemp("", "tokengatetest-example-")
	if err != nil {
		e.Fatalf("%v", err)
	}
	e.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
func (e *exampleTB) Close() {
	for i := len(e.cleanups) - 1; i >= 0; i-- {
		e.cleanups[i]()
	}
}

// A test signs a user up, calls a protected route, and moves the clock past
// the access token's lifetime without waiting. In a real test, pass the
// test's t instead of tb.
func ExampleNewServer() {
	tb := &exampleTB{}
	defer tb.Close()

	s := tokengatetest.NewServer(tb)
	tok := s.SignUp(tb, "ada@example.com", "correct horse battery", "Ada")
	me := s.Do(tb, http.MethodGet, "/auth/me", nil, "x-access-token", tok.AccessToken)
	fmt.Println(me.StatusCode, tok.User.Email)

	s.Advance(time.Hour)
	me = s.Do(tb, http.MethodGet, "/auth/me", nil, "x-access-token", tok.AccessToken)
	fmt.Println(me.StatusCode)

	// Sent with the refresh token, the request is refreshed on the way in.
	me = s.Do(tb, http.MethodGet, "/auth/me", nil, tok.Headers()...)
	fmt.Println(me.StatusCode, me.Header.Get("x-access-token") != "")
	// Output:
	// 200 ada@example.com
	// 401
	// 200 true
}
