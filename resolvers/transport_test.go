package resolvers_test

import (
	_ "embed"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/graphiql"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/ratelimit"
	"github.com/tokengate/tokengate/resolvers"
)

// graphiqlIntrospection is the introspection query GraphiQL 3 sends
// (graphql-js 16's getIntrospectionQuery()).
//
//go:embed testdata/introspection.graphql
var graphiqlIntrospection string

// post sends a raw body to /graphql.
func post(t testing.TB, s *testserver.Server, contentType, body string) *testserver.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := s.HTTP.Client().Do(req)
	if err != nil {
		t.Fatalf("POST /graphql: %v", err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return &testserver.Response{Response: res, Body: b}
}

// wantTransportError checks a request refused before any operation ran: a
// 4xx with a GraphQL-shaped body and no data.
func wantTransportError(t testing.TB, res *testserver.Response, status int, code, message string) {
	t.Helper()
	if res.StatusCode != status {
		t.Errorf("status %d, want %d: %s", res.StatusCode, status, res.Body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(res.Body, &body); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, res.Body)
	}
	if _, ok := body["data"]; ok || len(body) != 1 {
		t.Errorf("body has members other than errors: %s", res.Body)
	}
	var errs []gqlError
	if err := json.Unmarshal(body["errors"], &errs); err != nil || len(errs) != 1 {
		t.Fatalf("errors %s: %v", body["errors"], err)
	}
	if errs[0].Extensions.Code != code || !strings.Contains(errs[0].Message, message) {
		t.Errorf("error %+v, want code %s and message containing %q", errs[0], code, message)
	}
}

func TestMalformedRequestsAreRefusedWithoutA5xx(t *testing.T) {
	s := newServer(t)
	for _, tc := range []struct {
		name, contentType, body string
		code, message           string
	}{
		{"malformed JSON", "application/json", `{"query": "{ loggedInUser { id } }"`, "BAD_USER_INPUT", "malformed JSON"},
		{"not JSON at all", "application/json", `query { loggedInUser { id } }`, "BAD_USER_INPUT", "JSON object"},
		{"a JSON array", "application/json", `[{"query": "{ loggedInUser { id } }"}]`, "BAD_REQUEST", "batched operations are not supported"},
		{"a JSON array after spaces", "application/json", " \n [] ", "BAD_REQUEST", "batched operations are not supported"},
		{"null", "application/json", `null`, "BAD_USER_INPUT", "JSON object"},
		{"empty body", "application/json", ``, "BAD_USER_INPUT", "JSON object"},
		{"trailing data", "application/json", `{"query": "{ loggedInUser { id } }"} {"query": "{ sessions { id } }"}`, "BAD_USER_INPUT", "after the JSON object"},
		{"query of the wrong type", "application/json", `{"query": 5}`, "BAD_USER_INPUT", "query must be a JSON string"},
		{"variables of the wrong type", "application/json", `{"query": "{ sessions { id } }", "variables": "x"}`, "BAD_USER_INPUT", "variables must be a JSON object"},
		{"missing query", "application/json", `{"variables": {}}`, "BAD_USER_INPUT", "query is required"},
		{"invalid UTF-8", "application/json", "{\"query\": \"{ sessions { id } }\xff\"}", "BAD_USER_INPUT", "UTF-8"},
		{"text/plain", "text/plain", `{"query": "{ loggedInUser { id } }"}`, "BAD_REQUEST", "Content-Type must be application/json"},
		{"a form", "application/x-www-form-urlencoded", `query=%7B+loggedInUser+%7B+id+%7D+%7D`, "BAD_REQUEST", "Content-Type"},
		{"no content type", "", `{"query": "{ loggedInUser { id } }"}`, "BAD_REQUEST", "Content-Type"},
		{"another charset", "application/json; charset=latin1", `{"query": "{ loggedInUser { id } }"}`, "BAD_REQUEST", "Content-Type must be application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := post(t, s, tc.contentType, tc.body)
			wantTransportError(t, res, http.StatusBadRequest, tc.code, tc.message)
			if cc := res.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q", cc)
			}
		})
	}
	t.Run("charset utf-8 is fine", func(t *testing.T) {
		res := post(t, s, "application/json; charset=UTF-8", `{"query": "{ __typename }"}`)
		if res.StatusCode != http.StatusOK {
			t.Errorf("status %d: %s", res.StatusCode, res.Body)
		}
	})
}

func TestOversizedBodyIsRefused(t *testing.T) {
	s := newServer(t)
	body := `{"query": "{ __typename }", "variables": {"pad": "` + strings.Repeat("x", 10<<20) + `"}}`
	res := post(t, s, "application/json", body)
	wantTransportError(t, res, http.StatusBadRequest, "BAD_REQUEST", "request body exceeds")
}

func TestGraphQLErrorsOfTheDocumentAreBadUserInput(t *testing.T) {
	s := newServer(t)
	for name, query := range map[string]string{
		"syntax error":             `{ loggedInUser { id }`,
		"unknown field":            `{ loggedInUser { passwordHash } }`,
		"missing argument":         `mutation { login(email: "a@example.com") { accessToken } }`,
		"unknown operation":        `query A { __typename } query B { __typename }`,
		"subscription not offered": `subscription { x }`,
	} {
		t.Run(name, func(t *testing.T) {
			_, body := exec(t, s, query, nil)
			if len(body.Errors) == 0 {
				t.Fatal("no errors")
			}
			for _, e := range body.Errors {
				if e.Extensions.Code != "BAD_USER_INPUT" {
					t.Errorf("error %+v, want code BAD_USER_INPUT", e)
				}
			}
		})
	}
}

func TestQueryDeeperThanMaxDepthIsRefused(t *testing.T) {
	s := newServer(t)
	depth := resolvers.DefaultLimits().MaxDepth
	// __schema, types, fields, type, then ofType until one past the limit.
	query := "{ __schema { types { fields { type { " + strings.Repeat("ofType { ", depth-4) + "name" + strings.Repeat(" }", depth) + " }"
	_, body := exec(t, s, query, nil)
	if len(body.Errors) == 0 || body.Data != nil {
		t.Fatalf("a query of depth %d ran: %s", depth+1, body.Data)
	}
	if e := body.Errors[0]; e.Extensions.Code != "BAD_USER_INPUT" || !strings.Contains(e.Message, "exceeds max depth") {
		t.Errorf("error %+v", e)
	}
}

func TestQueryLongerThanMaxQueryLengthIsRefused(t *testing.T) {
	s := newServer(t)
	query := "{ __typename }" + strings.Repeat(" ", resolvers.DefaultLimits().MaxQueryLength)
	_, body := exec(t, s, query, nil)
	if len(body.Errors) != 1 || !strings.Contains(body.Errors[0].Message, "exceeds the maximum allowed query length") {
		t.Fatalf("errors %+v", body.Errors)
	}
}

func TestTooManySelectionsAreRefused(t *testing.T) {
	s := newServer(t)
	// Each level doubles the selections once fragments are spread.
	var q strings.Builder
	q.WriteString("{ __schema { types { ...F0 } } }\n")
	const levels = 12
	for i := range levels {
		q.WriteString("fragment F" + strconv.Itoa(i) + " on __Type { ")
		if i+1 < levels {
			next := "...F" + strconv.Itoa(i+1)
			q.WriteString("a: ofType { " + next + " } b: ofType { " + next + " } }\n")
		} else {
			q.WriteString("name }\n")
		}
	}
	_, body := exec(t, s, q.String(), nil)
	if len(body.Errors) != 1 || !strings.Contains(body.Errors[0].Message, "too many selections") || body.Errors[0].Extensions.Code != "BAD_USER_INPUT" {
		t.Fatalf("an operation of over 4000 selections: %+v", body.Errors)
	}
}

func TestGraphiQLIntrospectionFitsTheLimits(t *testing.T) {
	s := newServer(t)
	var out struct {
		Schema struct {
			QueryType    struct{ Name string }
			MutationType struct{ Name string }
		} `json:"__schema"`
	}
	data(t, s, &out, graphiqlIntrospection, nil)
	if out.Schema.QueryType.Name != "Query" || out.Schema.MutationType.Name != "Mutation" {
		t.Errorf("introspection %+v", out)
	}
}

// TestNoFieldExposesSecrets walks every output field a client can select.
// Only mutations may mention a password, as arguments to send, never as
// something returned.
func TestNoFieldExposesSecrets(t *testing.T) {
	s := newServer(t)
	var out struct {
		Schema struct {
			Types []struct {
				Name   string
				Fields []struct{ Name string }
			}
		} `json:"__schema"`
	}
	data(t, s, &out, `{ __schema { types { name fields { name } } } }`, nil)
	forbidden := []string{"hash", "counter", "generation", "version", "secret", "jti", "password"}
	seen := 0
	for _, typ := range out.Schema.Types {
		if strings.HasPrefix(typ.Name, "__") {
			continue
		}
		for _, f := range typ.Fields {
			seen++
			name := strings.ToLower(f.Name)
			for _, bad := range forbidden {
				if strings.Contains(name, bad) && !(typ.Name == "Mutation" && slices.Contains([]string{"changePassword", "requestPasswordReset", "resetPassword"}, f.Name)) {
					t.Errorf("%s.%s exposes %q", typ.Name, f.Name, bad)
				}
			}
		}
	}
	if seen < 20 {
		t.Fatalf("introspection listed only %d fields", seen)
	}
}

func TestGetServesGraphiQL(t *testing.T) {
	s := newServer(t)
	res := s.Do(t, http.MethodGet, "/graphql", "")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	page := string(res.Body)
	if !strings.Contains(page, `<div id="graphiql">`) || !strings.Contains(page, `src="/graphiql/`) {
		t.Errorf("not the GraphiQL page:\n%s", page)
	}
	// Everything comes from the server itself: no inline script, no CDN.
	if strings.Contains(page, "<script>") || strings.Contains(page, "https://") {
		t.Errorf("the page names an inline script or another origin:\n%s", page)
	}
	if csp := res.Header.Get("Content-Security-Policy"); csp != graphiql.CSP {
		t.Errorf("CSP %q, want %q", csp, graphiql.CSP)
	}
}

func TestGetNeverExecutes(t *testing.T) {
	s := newServer(t)
	for _, q := range []string{
		"?query=%7B+__typename+%7D",
		"?query=mutation+%7B+logoutAll+%7D",
		"?operationName=A",
		"?variables=%7B%7D",
	} {
		t.Run(q, func(t *testing.T) {
			res := s.Do(t, http.MethodGet, "/graphql"+q, "")
			wantTransportError(t, res, http.StatusMethodNotAllowed, "BAD_REQUEST", "POST")
			if allow := res.Header.Get("Allow"); allow != http.MethodPost {
				t.Errorf("Allow %q", allow)
			}
			if strings.Contains(string(res.Body), "__typename") {
				t.Errorf("executed: %s", res.Body)
			}
		})
	}
}

func TestRateLimitedCarriesRetryAfter(t *testing.T) {
	rate, err := ratelimit.ParseRate("1/1h")
	if err != nil {
		t.Fatal(err)
	}
	// The budget is an hour, so the limiter's own clock can stand still.
	frozen := func() time.Time { return testserver.Epoch }
	s := testserver.New(t, testserver.Options{Limits: auth.Limits{IP: ratelimit.New(rate, frozen)}})
	const login = `mutation { login(email: "grace@example.com", password: "whatever pw") { accessToken } }`
	fails(t, s, "INVALID_CREDENTIALS", "", login, nil)
	_, e := fails(t, s, "RATE_LIMITED", "", login, nil)
	if e.Extensions.RetryAfter <= 0 {
		t.Errorf("retryAfter %d", e.Extensions.RetryAfter)
	}
}
