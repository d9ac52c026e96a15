package integration

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/internal/testserver"
)

// password is the password every test account gets.
const password = "correct horse battery"

// client is an HTTP client for the servers under test. Its methods that
// end in an error are safe to call from any goroutine; the others fail the
// test and belong to the test's goroutine.
type client struct {
	t  testing.TB
	hc *http.Client
}

func newClient(t testing.TB) *client {
	t.Helper()
	tr := &http.Transport{MaxIdleConnsPerHost: 100, DisableCompression: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{t: t, hc: &http.Client{Transport: tr, Timeout: time.Minute}}
}

// reply is a finished exchange with its body read.
type reply struct {
	Path   string
	Status int
	Header http.Header
	Body   []byte
}

// problem is the problem+json body of a REST error.
type problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

func (r *reply) problem() problem {
	var p problem
	json.Unmarshal(r.Body, &p)
	return p
}

// errorCode is the code of an error answer in the shape its route must
// use: the first GraphQL error's extensions on /graphql, problem+json
// anywhere else. It is "" for an answer of the wrong shape.
func (r *reply) errorCode() string {
	if r.Path != "/graphql" {
		if r.Header.Get("Content-Type") != "application/problem+json" {
			return ""
		}
		return r.problem().Code
	}
	var body struct {
		Errors []struct {
			Extensions struct {
				Code string `json:"code"`
			} `json:"extensions"`
		} `json:"errors"`
	}
	if r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(r.Body, &body) != nil || len(body.Errors) != 1 {
		return ""
	}
	return body.Errors[0].Extensions.Code
}

func (r *reply) String() string {
	return fmt.Sprintf("%d %s", r.Status, r.Body)
}

// send makes one request; headers alternate name and value, and a name
// may repeat. A non-empty body is sent as JSON.
func (c *client) send(method, url, body string, headers ...string) (*reply, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &reply{Path: req.URL.Path, Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

// do is send that fails the test on a transport error.
func (c *client) do(method, url, body string, headers ...string) *reply {
	c.t.Helper()
	r, err := c.send(method, url, body, headers...)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

func jsonString(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tokens decodes a Tokens body and checks that the same pair is in the
// headers.
func (c *client) tokens(r *reply, status int) testserver.Tokens {
	c.t.Helper()
	tok, err := tokensOf(r, status)
	if err != nil {
		c.t.Fatal(err)
	}
	return tok
}

func tokensOf(r *reply, status int) (testserver.Tokens, error) {
	var tok testserver.Tokens
	if r.Status != status {
		return tok, fmt.Errorf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if err := json.Unmarshal(r.Body, &tok); err != nil {
		return tok, fmt.Errorf("decode tokens %s: %w", r.Body, err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		return tok, fmt.Errorf("no tokens in %s", r.Body)
	}
	if r.Header.Get("X-Access-Token") != tok.AccessToken || r.Header.Get("X-Refresh-Token") != tok.RefreshToken {
		return tok, fmt.Errorf("headers carry other tokens than the body: %v", r.Header)
	}
	return tok, nil
}

func (c *client) register(s *Server, email string, headers ...string) testserver.Tokens {
	c.t.Helper()
	body := jsonString(c.t, map[string]string{"email": email, "password": password, "name": "Test User"})
	return c.tokens(c.do(http.MethodPost, s.URL+"/auth/register", body, headers...), http.StatusCreated)
}

func (c *client) login(s *Server, email string, headers ...string) testserver.Tokens {
	c.t.Helper()
	body := jsonString(c.t, map[string]string{"email": email, "password": password})
	return c.tokens(c.do(http.MethodPost, s.URL+"/auth/login", body, headers...), http.StatusOK)
}

// refresh is an explicit refresh with the token in x-refresh-token.
func (c *client) refresh(s *Server, refreshToken string) (*reply, error) {
	return c.send(http.MethodPost, s.URL+"/auth/refresh", "", "x-refresh-token", refreshToken)
}

// wantProblem checks a REST error's status, code and (when given) reason.
func wantProblem(t testing.TB, r *reply, status int, code, reason string) problem {
	t.Helper()
	p := r.problem()
	if r.Status != status || p.Code != code || (reason != "" && p.Reason != reason) {
		t.Fatalf("got %s, want %d %s %s", r, status, code, reason)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q on a %d", ct, r.Status)
	}
	return p
}

// claims reads a token's payload without verifying it: the tests use it to
// learn the session and generation a server put in a token.
type claims struct {
	Sub string `json:"sub"`
	Sid string `json:"sid"`
	Ver int64  `json:"ver"`
	Gen int64  `json:"gen"`
}

func claimsOf(t testing.TB, raw string) claims {
	t.Helper()
	var c claims
	if err := decodePayload(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// decodePayload decodes a JWT's claims into v without verifying anything.
func decodePayload(raw string, v any) error {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return fmt.Errorf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return fmt.Errorf("token payload: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("token payload: %w", err)
	}
	return nil
}
