package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// cmdCheck holds a server to the three scenarios' answers before any load
// runs, asserting what must hold (exact bodies, tokens that verify with the
// servers' keys and name the right user, session and generation, the
// rotation's and the login's rows in the database) and printing a
// normalised transcript of everything else: every response header but
// Date, token headers and bodies with the varying parts (token values,
// times) replaced by their shape. run.sh diffs tokengate's transcript
// against the floor's, so a difference in any byte that is not a token or
// a time fails the run.
//
// It uses sessions 0 and 1 and user 2 of a freshly seeded database.
func cmdCheck(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	base := fs.String("url", "", "the server, http://127.0.0.1:PORT")
	db := fs.String("db", "", "URL of the server's database, to check the SQL effect")
	users := fs.Int("users", 1000, "seeded users (as given to seed)")
	keysDB := fs.String("keys-db", "", "sign access tokens with the signing keys in this tokengate database (see run)")
	alg := fs.String("alg", "ES256", "with -keys-db, the server's ACCESS_TOKEN_ALG")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *base == "" || *db == "" || *users < 3 {
		return errors.New("-url, -db and at least 3 -users are required")
	}
	m, err := newMinter(ctx, *keysDB, *alg)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, *db)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	c := &checker{base: *base, m: m, db: conn, users: *users, out: os.Stdout}

	for _, step := range []func(context.Context) error{c.access, c.refresh, c.login} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

type checker struct {
	base  string
	m     *minter
	db    *pgx.Conn
	users int
	out   io.Writer
}

func (c *checker) printf(format string, args ...any) { fmt.Fprintf(c.out, format+"\n", args...) }

// post sends one scenario request the way the load generator does.
func (c *checker) post(ctx context.Context, access, refresh, body string) (*http.Response, []byte, time.Time, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/graphql", strings.NewReader(body))
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tokengate-bench")
	if access != "" {
		req.Header.Set("X-Access-Token", access)
	}
	if refresh != "" {
		req.Header.Set("X-Refresh-Token", refresh)
	}
	sent := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, sent, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res, b, sent, err
}

func (c *checker) access(ctx context.Context) error {
	c.printf("== access: queryMe with a valid access token (session 0)")
	res, body, _, err := c.post(ctx, c.m.access(0, c.users), "", meBody)
	if err != nil {
		return err
	}
	c.transcript(res, body, time.Time{})
	if res.StatusCode != 200 || string(body) != meAnswer(0) {
		return fmt.Errorf("access: %d %s, want 200 %s", res.StatusCode, body, meAnswer(0))
	}
	if res.Header.Get("X-Access-Token") != "" || res.Header.Get("X-Refresh-Token") != "" {
		return errors.New("access: tokens re-issued for a valid access token")
	}
	return nil
}

func (c *checker) refresh(ctx context.Context) error {
	const s = 1
	expired, refresh := c.m.expiredAccess(s, c.users), c.m.refresh(s, c.users)
	for gen := int64(2); gen <= 3; gen++ {
		c.printf("== refresh: queryMe with an expired access token and the refresh token of generation %d (session 1)", gen-1)
		res, body, sent, err := c.post(ctx, expired, refresh, meBody)
		if err != nil {
			return err
		}
		c.transcript(res, body, sent)
		if res.StatusCode != 200 || string(body) != meAnswer(s) {
			return fmt.Errorf("refresh: %d %s, want 200 %s", res.StatusCode, body, meAnswer(s))
		}
		at, rt := res.Header.Get("X-Access-Token"), res.Header.Get("X-Refresh-Token")
		ac, err := c.m.now.VerifyAccess(at)
		if err != nil || ac.UserID != userID(s) || ac.SessionID != sessionID(s) {
			return fmt.Errorf("refresh: new access token %+v, %v", ac, err)
		}
		rc, err := c.m.now.VerifyRefresh(rt)
		if err != nil || rc.UserID != userID(s) || rc.SessionID != sessionID(s) || rc.Generation != gen || rc.TokenVersion != 0 {
			return fmt.Errorf("refresh: new refresh token %+v, %v; want generation %d", rc, err, gen)
		}
		var dbGen int64
		var ua, ip string
		var lastUsed, expires time.Time
		if err := c.db.QueryRow(ctx, `SELECT generation, user_agent, ip, last_used_at, expires_at FROM sessions WHERE id = $1`,
			sessionID(s)).Scan(&dbGen, &ua, &ip, &lastUsed, &expires); err != nil {
			return err
		}
		if dbGen != gen || time.Since(lastUsed) > time.Minute {
			return fmt.Errorf("refresh: the session row has generation %d, last used %s; want %d, now", dbGen, lastUsed, gen)
		}
		if !rc.ExpiresAt.Equal(expires.Truncate(time.Second)) {
			return fmt.Errorf("refresh: refresh token expires %s, the session %s", rc.ExpiresAt, expires)
		}
		c.printf("db: session 1 generation %d, user_agent %q, ip %q, expires_at %s", dbGen, ua, ip, offset(expires, sent))
		refresh = rt
	}
	return nil
}

func (c *checker) login(ctx context.Context) error {
	const u = 2
	c.printf("== login: user 2 by password")
	var before int
	if err := c.db.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE user_id = $1`, userID(u)).Scan(&before); err != nil {
		return err
	}
	res, body, sent, err := c.post(ctx, "", "", loginBody(u))
	if err != nil {
		return err
	}
	c.transcript(res, body, sent)
	var answer struct {
		Data struct {
			Login struct {
				AccessToken, RefreshToken string
				User                      struct{ ID, Email string }
			}
		}
	}
	if err := json.Unmarshal(body, &answer); err != nil || res.StatusCode != 200 {
		return fmt.Errorf("login: %d %s", res.StatusCode, body)
	}
	l := answer.Data.Login
	if l.AccessToken != res.Header.Get("X-Access-Token") || l.RefreshToken != res.Header.Get("X-Refresh-Token") {
		return errors.New("login: the tokens in the body and in the headers differ")
	}
	if l.User.ID != userID(u) || l.User.Email != email(u) {
		return fmt.Errorf("login: user %+v", l.User)
	}
	ac, err := c.m.now.VerifyAccess(l.AccessToken)
	if err != nil || ac.UserID != userID(u) {
		return fmt.Errorf("login: access token %+v, %v", ac, err)
	}
	rc, err := c.m.now.VerifyRefresh(l.RefreshToken)
	if err != nil || rc.UserID != userID(u) || rc.SessionID != ac.SessionID || rc.Generation != 1 {
		return fmt.Errorf("login: refresh token %+v, %v", rc, err)
	}
	var after int
	var gen int64
	var ua, ip string
	if err := c.db.QueryRow(ctx, `SELECT generation, user_agent, ip FROM sessions WHERE user_id = $1 AND id = $2`,
		userID(u), ac.SessionID).Scan(&gen, &ua, &ip); err != nil {
		return fmt.Errorf("login: the new session: %w", err)
	}
	if err := c.db.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE user_id = $1`, userID(u)).Scan(&after); err != nil {
		return err
	}
	if after != before+1 || gen != 1 {
		return fmt.Errorf("login: %d sessions before, %d after, generation %d", before, after, gen)
	}
	c.printf("db: user 2 sessions %d -> %d; the new one generation %d, user_agent %q, ip %q", before, after, gen, ua, ip)
	return nil
}

// transcript prints the status, every header but Date, and the body, with
// tokens and times replaced by their shape.
func (c *checker) transcript(res *http.Response, body []byte, sent time.Time) {
	c.printf("status %d", res.StatusCode)
	names := make([]string, 0, len(res.Header))
	for n := range res.Header {
		if n != "Date" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	tokens := map[string]string{}
	for _, n := range names {
		for _, v := range res.Header[n] {
			if n == "X-Access-Token" || n == "X-Refresh-Token" {
				tokens[v] = "<" + n + ">"
				v = c.describeJWT(v, sent)
			}
			c.printf("%s: %s", n, v)
		}
	}
	b := string(body)
	for raw, name := range tokens {
		b = strings.ReplaceAll(b, raw, name)
	}
	b = timestamp.ReplaceAllStringFunc(b, func(s string) string {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return s
		}
		return offset(t, sent)
	})
	c.printf("body %s", b)
}

var timestamp = regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`)

// offset describes t relative to when the request was sent, to the minute.
func offset(t, sent time.Time) string {
	return "<sent+" + t.Sub(sent).Round(time.Minute).String() + ">"
}

// describeJWT gives a token's shape: its exact JOSE header, its claim names
// in order, aud as written, its lifetime, and who it names.
func (c *checker) describeJWT(raw string, sent time.Time) string {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return "<not a JWT>"
	}
	header, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	claims, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	if err1 != nil || err2 != nil {
		return "<not base64url>"
	}
	header = headerShape(header)
	var names []string
	var values map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(claims))
	if _, err := dec.Token(); err != nil {
		return "<claims not JSON>"
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return "<claims not JSON>"
		}
		names = append(names, fmt.Sprint(t))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "<claims not JSON>"
		}
	}
	if err := json.Unmarshal(claims, &values); err != nil {
		return "<claims not JSON>"
	}
	var iat, exp int64
	json.Unmarshal(values["iat"], &iat)
	json.Unmarshal(values["exp"], &exp)
	var sub, sid string
	json.Unmarshal(values["sub"], &sub)
	json.Unmarshal(values["sid"], &sid)
	s := fmt.Sprintf("<jwt header %s claims %s aud %s iat %s exp %s sub %s sid %s",
		header, strings.Join(names, ","), values["aud"],
		offset(time.Unix(iat, 0), sent.Truncate(time.Second)), offset(time.Unix(exp, 0), sent.Truncate(time.Second)),
		c.label(sub), c.label(sid))
	if v, ok := values["ver"]; ok {
		s += fmt.Sprintf(" ver %s gen %s", v, values["gen"])
	}
	return s + ">"
}

// label names a seeded id by its index, and any other id as new.
func (c *checker) label(id string) string {
	for i := range 3 {
		switch id {
		case userID(i):
			return fmt.Sprint("user ", i)
		case sessionID(i):
			return fmt.Sprint("session ", i)
		}
	}
	if len(id) == 36 {
		return "<new id>"
	}
	return fmt.Sprintf("%q", id)
}

// headerShape is a JOSE header with the values of alg and kid left out:
// tokengate signs access tokens with ES256 by default and the floor with
// HS256, a difference the comparison is not about; that both name an
// algorithm and a key, and the typ, it keeps.
func headerShape(header []byte) []byte {
	var h map[string]json.RawMessage
	if json.Unmarshal(header, &h) != nil {
		return header
	}
	for _, k := range []string{"alg", "kid"} {
		if _, ok := h[k]; ok {
			h[k] = json.RawMessage(`"…"`)
		}
	}
	b, err := json.Marshal(h)
	if err != nil {
		return header
	}
	return b
}
