package integration

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tokengate/tokengate/internal/pgtest"
	"github.com/tokengate/tokengate/internal/testserver"
)

// eachStore starts the real binary once on a SQLite file and once on a
// fresh PostgreSQL database, and runs fn against each.
func eachStore(t *testing.T, fn func(t *testing.T, srv *Server)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fn(t, startServer(t, "tokengate on sqlite", Env{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "tokengate.db")}))
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		fn(t, startServer(t, "tokengate on postgres", Env{"DATABASE_URL": pgtest.URL(t)}))
	})
}

// TestHostileTokensThroughTheRealServer sends forged, tampered and
// misplaced tokens to the real binary. None gets anyone in, and none costs
// the real owner their session.
func TestHostileTokensThroughTheRealServer(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, srv *Server) {
		c := newClient(t)
		tok := c.register(srv, "target@example.com")
		sid := claimsOf(t, tok.RefreshToken).Sid

		t.Run("tokens in the query string are ignored", func(t *testing.T) {
			for _, param := range []string{"token", "access_token", "x-access-token", "refresh_token", "x-refresh-token"} {
				r := c.do(http.MethodGet, srv.URL+"/auth/me?"+param+"="+tok.AccessToken+"&"+param+"2="+tok.RefreshToken, "")
				wantProblem(t, r, http.StatusUnauthorized, "UNAUTHENTICATED", "TOKEN_MISSING")
				if r.Header.Get("X-Access-Token") != "" {
					t.Errorf("?%s=: tokens issued", param)
				}
				r = c.do(http.MethodPost, srv.URL+"/auth/refresh?"+param+"="+tok.RefreshToken, "")
				wantProblem(t, r, http.StatusUnauthorized, "UNAUTHENTICATED", "TOKEN_MISSING")
				r = c.do(http.MethodPost, srv.URL+"/graphql?"+param+"="+tok.AccessToken, `{"query":"{ loggedInUser { id } }"}`)
				if !strings.Contains(string(r.Body), `"TOKEN_MISSING"`) {
					t.Errorf("GraphQL with ?%s=: %s", param, r)
				}
			}
		})

		t.Run("a refresh token with a flipped signature bit", func(t *testing.T) {
			tampered := flipSignatureBit(tok.RefreshToken)
			for name, r := range map[string]*reply{
				"header": c.do(http.MethodPost, srv.URL+"/auth/refresh", "", "x-refresh-token", tampered),
				"body":   c.do(http.MethodPost, srv.URL+"/auth/refresh", `{"refreshToken":"`+tampered+`"}`),
				"middleware": c.do(http.MethodGet, srv.URL+"/auth/me", "",
					"x-refresh-token", tampered),
			} {
				wantProblem(t, r, http.StatusUnauthorized, "UNAUTHENTICATED", "TOKEN_INVALID")
				if r.Header.Get("X-Refresh-Token") != "" {
					t.Errorf("%s: tokens issued to a tampered token", name)
				}
			}
			// The forgery names the real session; it must not end it.
			r, err := c.refresh(srv, tok.RefreshToken)
			if err != nil {
				t.Fatal(err)
			}
			next := c.tokens(r, http.StatusOK)
			if got := claimsOf(t, next.RefreshToken); got.Sid != sid || got.Gen != 2 {
				t.Errorf("the real token after the forgeries rotated to %+v, want session %s generation 2", got, sid)
			}
			tok = next
		})

		t.Run("forged and misplaced tokens", func(t *testing.T) {
			header, payload := splitToken(t, tok.AccessToken)
			for name, forged := range map[string]string{
				"alg none":           b64url(`{"alg":"none","typ":"at+jwt"}`) + "." + payload + ".",
				"alg NoNe":           b64url(`{"alg":"NoNe","typ":"at+jwt"}`) + "." + payload + ".",
				"empty signature":    header + "." + payload + ".",
				"duplicate alg keys": b64url(`{"alg":"none","alg":"HS256","typ":"at+jwt"}`) + "." + payload + ".",
				"refresh as access":  tok.RefreshToken,
				"non-UTF-8":          "\xff\xfe." + payload + ".x",
			} {
				r := c.do(http.MethodGet, srv.URL+"/auth/me", "", "x-access-token", forged)
				wantProblem(t, r, http.StatusUnauthorized, "UNAUTHENTICATED", "TOKEN_INVALID")
				if r.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: 401 without WWW-Authenticate", name)
				}
			}
			r := c.do(http.MethodPost, srv.URL+"/auth/refresh", "", "x-refresh-token", tok.AccessToken)
			wantProblem(t, r, http.StatusUnauthorized, "UNAUTHENTICATED", "TOKEN_INVALID")
			r = c.do(http.MethodPost, srv.URL+"/auth/refresh", `{"refreshToken":"`+strings.Repeat(".", 100_000)+`"}`)
			wantProblem(t, r, http.StatusUnauthorized, "UNAUTHENTICATED", "TOKEN_INVALID")
		})

		t.Run("duplicate token headers", func(t *testing.T) {
			other := c.login(srv, "target@example.com")
			for name, headers := range map[string][]string{
				"x-access-token twice":      {"x-access-token", tok.AccessToken, "x-access-token", other.AccessToken},
				"x-access-token same twice": {"x-access-token", tok.AccessToken, "x-access-token", tok.AccessToken},
				"x-refresh-token twice":     {"x-refresh-token", tok.RefreshToken, "x-refresh-token", other.RefreshToken},
				"Authorization twice":       {"Authorization", "Bearer " + tok.AccessToken, "Authorization", "Bearer " + other.AccessToken},
				"header and bearer differ":  {"x-access-token", tok.AccessToken, "Authorization", "Bearer " + other.AccessToken},
			} {
				r := c.do(http.MethodGet, srv.URL+"/auth/me", "", headers...)
				if p := r.problem(); r.Status != http.StatusBadRequest || p.Code != "BAD_REQUEST" {
					t.Errorf("%s: %s, want 400 BAD_REQUEST", name, r)
				}
			}
		})
	})
}

// TestSQLMetacharactersSurviveEveryTextField stores text made of SQL and
// LIKE metacharacters, quotes and Unicode in every field a client controls
// (e-mail, name, password, User-Agent) through the real binary on both
// stores, and reads it back byte for byte.
func TestSQLMetacharactersSurviveEveryTextField(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, srv *Server) {
		c := newClient(t)
		email := `o'brien%_*/=?#{|}~-x@example.com`
		name := `Robert'); DROP TABLE users;-- "quoted" \ %_ $1 :name ? Zoë 🔐`
		pw := `' OR '1'='1'; --\%_"密码`
		agent := `Mozilla/5.0'); DELETE FROM sessions;-- %_ \x00 $$ ? 🔐`
		body := jsonString(t, map[string]string{"email": email, "password": pw, "name": name})
		reg := c.tokens(c.do(http.MethodPost, srv.URL+"/auth/register", body, "User-Agent", agent), http.StatusCreated)
		if reg.User.Email != email || reg.User.Name != name {
			t.Fatalf("registered %q %q", reg.User.Email, reg.User.Name)
		}
		li := c.tokens(c.do(http.MethodPost, srv.URL+"/auth/login", jsonString(t, map[string]string{"email": email, "password": pw}), "User-Agent", agent), http.StatusOK)

		var me testserver.User
		r := c.do(http.MethodGet, srv.URL+"/auth/me", "", "x-access-token", li.AccessToken)
		if err := json.Unmarshal(r.Body, &me); err != nil || me.Email != email || me.Name != name {
			t.Fatalf("/auth/me: %s", r)
		}
		var sessions []testserver.Session
		r = c.do(http.MethodGet, srv.URL+"/auth/sessions", "", "x-access-token", li.AccessToken)
		if err := json.Unmarshal(r.Body, &sessions); err != nil || len(sessions) != 2 {
			t.Fatalf("/auth/sessions: %s", r)
		}
		for _, s := range sessions {
			if s.UserAgent == nil || *s.UserAgent != agent {
				t.Errorf("stored user agent %v, want %q", s.UserAgent, agent)
			}
		}
		// Wildcards in the stored address match nothing else.
		for _, other := range []string{`o'brienXY*/=?#{|}~-x@example.com`, `o'brien%_*/=?#{|}~-x@example.co`, `%@example.com`} {
			r := c.do(http.MethodPost, srv.URL+"/auth/login", jsonString(t, map[string]string{"email": other, "password": pw}))
			wantProblem(t, r, http.StatusUnauthorized, "INVALID_CREDENTIALS", "")
		}
	})
}

func splitToken(t testing.TB, raw string) (header, payload string) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	return parts[0], parts[1]
}

// flipSignatureBit flips one bit in the middle of a token's signature,
// leaving it valid base64url.
func flipSignatureBit(raw string) string {
	i := strings.LastIndexByte(raw, '.') + 10
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	j := strings.IndexByte(alphabet, raw[i])
	return raw[:i] + string(alphabet[j^1]) + raw[i+1:]
}

func b64url(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
