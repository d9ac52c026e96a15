package integration

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/tokengate/tokengate/internal/testserver"
)

// TestDefaultSessionCapThroughTheRealServer signs one account in 101 times
// against the real binary with its default cap of 100 live sessions: the
// first sign-in's session ends, the other hundred stay.
func TestDefaultSessionCapThroughTheRealServer(t *testing.T) {
	t.Parallel()
	const defaultCap = 100
	srv := startServer(t, "tokengate", Env{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "tokengate.db")})
	c := newClient(t)
	signIns := []testserver.Tokens{c.register(srv, "many@example.com")}
	for range defaultCap {
		signIns = append(signIns, c.login(srv, "many@example.com"))
	}
	newest := signIns[len(signIns)-1]
	var sessions []testserver.Session
	r := c.do(http.MethodGet, srv.URL+"/auth/sessions", "", "x-access-token", newest.AccessToken)
	if err := json.Unmarshal(r.Body, &sessions); err != nil || len(sessions) != defaultCap {
		t.Fatalf("%d live sessions (%v), want %d", len(sessions), err, defaultCap)
	}
	r, err := c.refresh(srv, signIns[0].RefreshToken)
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, r, http.StatusUnauthorized, "UNAUTHENTICATED", "SESSION_REVOKED")
	for _, tok := range []testserver.Tokens{signIns[1], newest} {
		r, err := c.refresh(srv, tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		c.tokens(r, http.StatusOK)
	}
}
