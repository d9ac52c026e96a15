package main

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/bench/internal/signingkeys"
	"github.com/tokengate/tokengate/token"
)

// The seeded data is a function of two counts: user i and session i have
// ids derived from their index, and session i belongs to user i % users.
// seed.go writes exactly this with SQL (md5('u' || i)::uuid), so every
// subcommand can name any user or session without reading the database.

// uuidOf is PostgreSQL's md5(s)::uuid::text.
func uuidOf(s string) string {
	sum := md5.Sum([]byte(s))
	h := hex.EncodeToString(sum[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func userID(i int) string    { return uuidOf("u" + strconv.Itoa(i)) }
func sessionID(i int) string { return uuidOf("s" + strconv.Itoa(i)) }
func email(i int) string     { return "user" + strconv.Itoa(i) + "@bench.example" }

// Password is every seeded user's password.
const password = "correct horse battery staple"

// The GraphQL documents of the scenarios; bench/floor answers exactly these.
const (
	queryMe    = `{loggedInUser{id email}}`
	queryLogin = `mutation($email:String!,$password:String!){login(email:$email,password:$password){accessToken refreshToken accessTokenExpiresAt refreshTokenExpiresAt user{id email}}}`
)

// meBody is the request body of the access and refresh scenarios.
const meBody = `{"query":"` + queryMe + `"}`

// loginBody is the request body of a login.
func loginBody(i int) string {
	return `{"query":"` + queryLogin + `","variables":{"email":"` + email(i) + `","password":"` + password + `"}}`
}

// meAnswer is tokengate's exact answer to queryMe for user i.
func meAnswer(i int) string {
	return `{"data":{"loggedInUser":{"id":"` + userID(i) + `","email":"` + email(i) + `"}}}`
}

// minter issues tokens for seeded sessions with the servers' secrets,
// through tokengate's own codec, so the tokens are the ones the servers
// issue themselves.
type minter struct {
	// now issues and verifies at the current time; expired issues tokens
	// that are already past their expiry.
	now     *token.Codec
	expired *token.Codec
}

// newMinter reads the servers' token settings from the environment. With
// keysDB, access tokens are signed as tokengate signs them under an
// asymmetric ACCESS_TOKEN_ALG (alg): with the current key of the schedule
// in that database, unsealed with KEY_ENCRYPTION_KEY; without, HS256 under
// ACCESS_TOKEN_SECRET, as the floor and tokengate under HS256 expect.
func newMinter(ctx context.Context, keysDB, alg string) (*minter, error) {
	access, refresh := os.Getenv("ACCESS_TOKEN_SECRET"), os.Getenv("REFRESH_TOKEN_SECRET")
	if len(access) < 32 || len(refresh) < 32 {
		return nil, fmt.Errorf("ACCESS_TOKEN_SECRET and REFRESH_TOKEN_SECRET must be set as for the servers")
	}
	ttl := 15 * time.Minute
	if v := os.Getenv("ACCESS_TOKEN_TTL"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			return nil, fmt.Errorf("ACCESS_TOKEN_TTL: %w", err)
		}
		ttl = d
	}
	cfg := func(now auth.Clock) token.Config {
		c := token.Config{
			AccessSecret:  []byte(access),
			RefreshSecret: []byte(refresh),
			Issuer:        envOr("TOKEN_ISSUER", "tokengate"),
			Audience:      envOr("TOKEN_AUDIENCE", "tokengate"),
			AccessTTL:     ttl,
			Now:           now,
		}
		if keysDB != "" {
			c.AccessAlg = alg
		}
		return c
	}
	// Issued an hour and a TTL ago: past its expiry and any leeway, so it
	// fails as TOKEN_EXPIRED (a valid signature) in both servers.
	past := func() time.Time { return time.Now().Add(-time.Hour - ttl) }
	m := &minter{now: token.New(cfg(time.Now)), expired: token.New(cfg(past))}
	if keysDB != "" {
		if err := signingkeys.Install(ctx, keysDB, alg, m.now, m.expired); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// access returns a valid access token of seeded session s.
func (m *minter) access(s, users int) string {
	t, _, err := m.now.IssueAccess(userID(s%users), sessionID(s), 0)
	if err != nil {
		panic(err) // only a broken codec configuration, caught in newMinter
	}
	return t
}

// expiredAccess returns an access token of session s that expired an hour ago.
func (m *minter) expiredAccess(s, users int) string {
	t, _, err := m.expired.IssueAccess(userID(s%users), sessionID(s), 0)
	if err != nil {
		panic(err)
	}
	return t
}

// refresh returns the refresh token of seeded session s at its seeded
// generation (1) and token version (0).
func (m *minter) refresh(s, users int) string {
	t, err := m.now.IssueRefresh(auth.RefreshClaims{
		UserID:       userID(s % users),
		SessionID:    sessionID(s),
		TokenVersion: 0,
		Generation:   1,
		ExpiresAt:    time.Now().Add(24 * time.Hour),
	})
	if err != nil {
		panic(err)
	}
	return t
}
