package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The bounds run.go gives the real server, restated here so a change there
// shows up as a failing test.
const (
	maxHeaderBytes    = 64 << 10
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
)

// TestResourceLimitsOfTheRealServer sends the real binary requests past
// each bound: each is refused with a clear error, and the server goes on
// serving.
func TestResourceLimitsOfTheRealServer(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "tokengate", Env{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "tokengate.db")})
	c := newClient(t)
	tok := c.register(srv, "limits@example.com")

	t.Run("REST body over 1 MiB", func(t *testing.T) {
		big := `{"email":"big@example.com","password":"` + password + `","name":"` + strings.Repeat("x", 1<<20) + `"}`
		for _, chunked := range []bool{false, true} {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/auth/register", strings.NewReader(big))
			if chunked {
				req.Body = io.NopCloser(io.MultiReader(strings.NewReader(big)))
				req.ContentLength = -1
			}
			req.Header.Set("Content-Type", "application/json")
			r := roundTrip(t, c, req)
			p := wantProblem(t, r, http.StatusBadRequest, "BAD_REQUEST", "")
			if !strings.Contains(p.Detail, "exceeds 1 MiB") {
				t.Errorf("chunked=%v: detail %q", chunked, p.Detail)
			}
		}
	})

	t.Run("GraphQL body over 1 MiB", func(t *testing.T) {
		r := c.do(http.MethodPost, srv.URL+"/graphql", `{"query":"{ __typename }","variables":{"pad":"`+strings.Repeat("x", 1<<20)+`"}}`)
		wantGraphQLError(t, r, http.StatusBadRequest, "BAD_REQUEST", "request body exceeds")
	})

	t.Run("headers over 64 KiB", func(t *testing.T) {
		// net/http allows MaxHeaderBytes plus 4 KiB of slack.
		r := c.do(http.MethodGet, srv.URL+"/healthz", "", "X-Padding", strings.Repeat("p", maxHeaderBytes+8<<10))
		if r.Status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("status %s, want 431", r)
		}
		// 100,000 dots as a token never reach the token parser.
		r = c.do(http.MethodGet, srv.URL+"/auth/me", "", "x-access-token", strings.Repeat(".", 100_000))
		if r.Status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("100,000-dot token header: %s, want 431", r)
		}
		// Just under the bound, the request is served; the token in it is
		// refused by size (over 8 KiB), before any parsing.
		r = c.do(http.MethodGet, srv.URL+"/auth/me", "", "x-access-token", strings.Repeat("a", maxHeaderBytes-4<<10))
		wantProblem(t, r, http.StatusUnauthorized, "UNAUTHENTICATED", "TOKEN_INVALID")
	})

	t.Run("GraphQL query length, depth, selections and batches", func(t *testing.T) {
		var aliases strings.Builder
		aliases.WriteString("{")
		for i := range 501 {
			fmt.Fprintf(&aliases, " a%d: __typename", i)
		}
		aliases.WriteString(" }")
		deep := "{ __schema { types { fields { type { " + strings.Repeat("ofType { ", 12) + "name" + strings.Repeat(" }", 16) + " }"
		for name, tc := range map[string]struct {
			body    string
			status  int
			code    string
			message string
		}{
			"64 KiB query":     {graphQLBody(t, "{ __typename }"+strings.Repeat(" ", 64<<10)), 200, "BAD_USER_INPUT", "exceeds the maximum allowed query length"},
			"depth 17":         {graphQLBody(t, deep), 200, "BAD_USER_INPUT", "exceeds max depth"},
			"501 aliases":      {graphQLBody(t, aliases.String()), 200, "BAD_USER_INPUT", "too many selections"},
			"batch of two":     {`[` + graphQLBody(t, "{ __typename }") + `,` + graphQLBody(t, "{ __typename }") + `]`, 400, "BAD_REQUEST", "batched operations are not supported"},
			"two operations":   {graphQLBody(t, "query A { __typename } query B { __typename }"), 200, "BAD_USER_INPUT", "operation"},
			"aliased mutation": {graphQLBody(t, `mutation { a: logout b: logout c: logoutAll }`), 200, "UNAUTHENTICATED", ""},
		} {
			t.Run(name, func(t *testing.T) {
				wantGraphQLError(t, c.do(http.MethodPost, srv.URL+"/graphql", tc.body), tc.status, tc.code, tc.message)
			})
		}
	})

	t.Run("the server still serves", func(t *testing.T) {
		if r := c.do(http.MethodGet, srv.URL+"/auth/me", "", "x-access-token", tok.AccessToken); r.Status != http.StatusOK {
			t.Fatalf("after the limits: %s", r)
		}
	})
}

// TestSlowClientsAreCutOff holds connections open the way a slow-loris
// client does and times how long the real server keeps them.
func TestSlowClientsAreCutOff(t *testing.T) {
	t.Parallel()
	srv := startServer(t, "tokengate", Env{"DATABASE_URL": "sqlite:" + filepath.Join(t.TempDir(), "tokengate.db")})

	for _, tc := range []struct {
		name  string
		head  string        // sent at once
		drip  string        // then one byte a second, forever
		bound time.Duration // the server's timeout
	}{
		{"silent connection", "", "", readHeaderTimeout},
		{"headers a byte a second", "GET /healthz HTTP/1.1\r\nHost: x\r\n", "X-Slow: yes\r\n", readHeaderTimeout},
		{"body a byte a second", "POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n",
			`{"email":"slow@example.com","password":"` + strings.Repeat("x", 1000), readTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			conn, err := net.Dial("tcp", srv.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			opened := time.Now()
			if _, err := io.WriteString(conn, tc.head); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			defer close(stop)
			go func() {
				for i := 0; tc.drip != ""; i++ {
					select {
					case <-stop:
						return
					case <-time.After(time.Second): // the client's pace, not synchronisation
					}
					if _, err := conn.Write([]byte{tc.drip[i%len(tc.drip)]}); err != nil {
						return
					}
				}
			}()
			// Whatever the server answers, it must close the connection
			// once its timeout has run out.
			conn.SetReadDeadline(opened.Add(tc.bound + 10*time.Second))
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err == nil {
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode < 400 {
					t.Errorf("a slow client was served: %s", res.Status)
				}
				_, err = conn.Read(make([]byte, 1))
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("connection still open %v after it was opened; the server's bound is %v", time.Since(opened).Round(time.Millisecond), tc.bound)
			}
			took := time.Since(opened)
			if took < tc.bound-time.Second {
				t.Errorf("closed after %v, before the %v timeout", took, tc.bound)
			}
			t.Logf("closed %v after it was opened (bound %v)", took.Round(time.Millisecond), tc.bound)
		})
	}
}

func roundTrip(t *testing.T, c *client, req *http.Request) *reply {
	t.Helper()
	res, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &reply{Status: res.StatusCode, Header: res.Header, Body: b}
}

func graphQLBody(t testing.TB, query string) string {
	return jsonString(t, map[string]string{"query": query})
}

// wantGraphQLError checks a GraphQL response whose first error has the
// given code and a message containing message.
func wantGraphQLError(t *testing.T, r *reply, status int, code, message string) {
	t.Helper()
	var body struct {
		Errors []struct {
			Message    string `json:"message"`
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if r.Status != status {
		t.Fatalf("status %s, want %d", r, status)
	}
	if err := json.Unmarshal(r.Body, &body); err != nil || len(body.Errors) == 0 {
		t.Fatalf("no GraphQL errors in %s (%v)", r.Body, err)
	}
	e := body.Errors[0]
	if e.Extensions.Code != code || !strings.Contains(e.Message, message) {
		t.Errorf("error %+v, want code %s and a message containing %q", e, code, message)
	}
}
