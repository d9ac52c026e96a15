package integration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/pgtest"
	"github.com/tokengate/tokengate/store/postgres"
	"github.com/tokengate/tokengate/store/sqlite"
)

// TestSIGKILLMidLoadLosesNoSession kills tokengate with SIGKILL while
// clients sign in and rotate refresh tokens as fast as they can, then
// restarts it on the same database. Every session a client was told about
// must still exist, and the last refresh token the client received for it
// must still work: it names either the current generation (its rotation
// was the last) or the one before (a rotation committed, but the process
// died before its answer left). Nothing in between is possible, because a
// rotation is one statement that commits before its tokens are written.
func TestSIGKILLMidLoadLosesNoSession(t *testing.T) {
	t.Parallel()
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "tokengate.db")
		crashUnderLoad(t, "sqlite:"+path, func(ctx context.Context) (auth.Store, error) { return sqlite.Open(ctx, path) })
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		url := pgtest.URL(t)
		crashUnderLoad(t, url, func(ctx context.Context) (auth.Store, error) { return postgres.Open(ctx, url) })
	})
}

// crashLoad sizes the load: workers each sign up, then rotate their
// sessions round-robin, opening a new session every tenth request, until
// the server dies; it is killed once killAfter rotations have been
// answered.
const (
	crashWorkers        = 8
	crashSessionsPerRun = 12
	crashKillAfter      = 400
)

// trackedSession is what a client knows of one session: the last refresh
// token it received for it.
type trackedSession struct {
	email   string
	id      string
	refresh string
}

func crashUnderLoad(t *testing.T, databaseURL string, open func(context.Context) (auth.Store, error)) {
	env := Env{
		"DATABASE_URL": databaseURL,
		// Budgets and the grace window are not what is tested here; a
		// restart must not outlast the grace window on a slow machine.
		"RATE_LIMIT_IP":       "100000/1m",
		"RATE_LIMIT_REFRESH":  "100000/1m",
		"REFRESH_REUSE_GRACE": "5m",
	}
	srv := startServer(t, "tokengate", env)
	c := newClient(t)

	sessions := make([][]*trackedSession, crashWorkers)
	for w := range sessions {
		email := fmt.Sprintf("crash%d@example.com", w)
		tok := c.register(srv, email)
		sessions[w] = []*trackedSession{{email: email, id: claimsOf(t, tok.RefreshToken).Sid, refresh: tok.RefreshToken}}
	}

	var rotations atomic.Int64
	killNow := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	failures := make(chan error, crashWorkers)
	for w := range sessions {
		wg.Go(func() {
			mine := sessions[w]
			email := mine[0].email
			for i := 0; ; i++ {
				if i%10 == 9 && len(mine) < crashSessionsPerRun {
					r, err := c.send(http.MethodPost, srv.URL+"/auth/login", `{"email":"`+email+`","password":"`+password+`"}`)
					if err != nil {
						break // the server is gone
					}
					if r.Status == http.StatusTooManyRequests {
						// bcrypt slots are bounded on purpose; under this load
						// (and -race) a sign-in may be told to come back later,
						// as a real client would. Rotations go on meanwhile.
						continue
					}
					tok, err := tokensOf(r, http.StatusOK)
					if err != nil {
						failures <- fmt.Errorf("login under load: %w", err)
						break
					}
					sid, err := sessionIDOf(tok.RefreshToken)
					if err != nil {
						failures <- err
						break
					}
					mine = append(mine, &trackedSession{email: email, id: sid, refresh: tok.RefreshToken})
					continue
				}
				s := mine[i%len(mine)]
				r, err := c.refresh(srv, s.refresh)
				if err != nil {
					break // the server is gone
				}
				tok, err := tokensOf(r, http.StatusOK)
				if err != nil {
					failures <- fmt.Errorf("refresh under load: %w", err)
					break
				}
				s.refresh = tok.RefreshToken
				if rotations.Add(1) == crashKillAfter {
					once.Do(func() { close(killNow) })
				}
			}
			sessions[w] = mine
		})
	}
	select {
	case <-killNow:
	case err := <-failures:
		t.Fatal(err)
	}
	srv.Kill()
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	// Straight from the database, before any restart: every session is
	// there, live, and at the client's generation or one past it.
	ctx := context.Background()
	st, err := open(ctx)
	if err != nil {
		t.Fatalf("open the store after the kill: %v", err)
	}
	total, unanswered := 0, 0
	for _, mine := range sessions {
		for _, s := range mine {
			total++
			cl := claimsOf(t, s.refresh)
			sess, u, err := st.SessionState(ctx, s.id)
			if err != nil {
				t.Errorf("session %s the client holds tokens for: %v", s.id, err)
				continue
			}
			switch {
			case !sess.RevokedAt.IsZero():
				t.Errorf("session %s revoked by the crash", s.id)
			case u.TokenVersion != cl.Ver:
				t.Errorf("session %s: token counter %d, the client's token says %d", s.id, u.TokenVersion, cl.Ver)
			case sess.Generation == cl.Gen+1:
				unanswered++
			case sess.Generation != cl.Gen:
				t.Errorf("session %s at generation %d; the client's last token is for %d", s.id, sess.Generation, cl.Gen)
			}
		}
	}
	st.Close()

	// Restarted on the same database, with the same secrets: each client
	// goes on with the last token it received.
	srv = startServer(t, "tokengate restarted", env)
	for _, mine := range sessions {
		c.login(srv, mine[0].email)
		for _, s := range mine {
			want := claimsOf(t, s.refresh).Gen + 1
			for step := range 2 {
				r, err := c.refresh(srv, s.refresh)
				if err != nil {
					t.Fatal(err)
				}
				tok, err := tokensOf(r, http.StatusOK)
				if err != nil {
					t.Errorf("session %s after the restart, refresh %d: %v", s.id, step+1, err)
					break
				}
				if got := claimsOf(t, tok.RefreshToken).Gen; got != want {
					t.Errorf("session %s after the restart, refresh %d: generation %d, want %d", s.id, step+1, got, want)
				}
				s.refresh = tok.RefreshToken
				want++
			}
		}
	}
	t.Logf("killed after %d rotations: %d sessions, all kept; %d had a committed rotation whose answer was lost, recovered through the grace window",
		rotations.Load(), total, unanswered)
}

// sessionIDOf reads the sid claim without verifying the token.
func sessionIDOf(raw string) (string, error) {
	var c claims
	if err := decodePayload(raw, &c); err != nil {
		return "", err
	}
	if c.Sid == "" {
		return "", errors.New("token without sid")
	}
	return c.Sid, nil
}
