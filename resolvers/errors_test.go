package resolvers_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/testserver"
	"github.com/tokengate/tokengate/resolvers"
	"github.com/tokengate/tokengate/schema"
)

// extended is the root resolver with fields added the way an adopter adds
// them: an SDL extension and methods beside the real resolver's.
type extended struct{ *resolvers.Resolver }

const extension = `
extend type Query {
  boom: Boolean!
  fail: Boolean!
  taken: Boolean!
  unavailable: Boolean!
}
`

// The secret strings stand for what must never reach a client.
const (
	panicSecret = "panic value with a secret 4242"
	causeSecret = "dial tcp 10.9.8.7:5432: password authentication failed for user root"
)

func (*extended) Boom() bool { panic(panicSecret) }

func (*extended) Fail() (bool, error) {
	return false, fmt.Errorf("load orders: %w", errors.New(causeSecret))
}

func (*extended) Taken() (bool, error) {
	return false, fmt.Errorf("create user: %w", auth.ErrEmailTaken)
}

func (*extended) Unavailable() (bool, error) {
	return false, fmt.Errorf("load orders: %w", auth.Unavailable(errors.New(causeSecret)))
}

// extendedServer serves the real schema plus extension over HTTP and
// returns its URL and its log.
func extendedServer(t testing.TB) (string, *testserver.LogBuffer) {
	t.Helper()
	logs := &testserver.LogBuffer{}
	st := testserver.NewStack(t, testserver.Options{})
	log := slog.New(slog.NewTextHandler(logs, nil))
	h := resolvers.NewSchemaHandler(schema.SDL()+extension, &extended{resolvers.New(st.Service, st.Recovery)}, log, resolvers.DefaultLimits())
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs.URL, logs
}

func postQuery(t testing.TB, url, query string) (string, gqlResponse) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"query": query})
	res, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, buf.String())
	}
	var out gqlResponse
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		t.Fatalf("decode %s: %v", buf.String(), err)
	}
	return buf.String(), out
}

func TestPanickingResolverIsInternal(t *testing.T) {
	url, logs := extendedServer(t)
	raw, res := postQuery(t, url, `{ boom }`)
	if len(res.Errors) != 1 {
		t.Fatalf("errors %s", raw)
	}
	if e := res.Errors[0]; e.Message != "internal error" || e.Extensions.Code != "INTERNAL" {
		t.Errorf("error %+v", e)
	}
	if strings.Contains(raw, "4242") || strings.Contains(raw, "panic") {
		t.Errorf("the panic leaked: %s", raw)
	}
	if !strings.Contains(logs.String(), panicSecret) {
		t.Errorf("the panic was not logged: %s", logs)
	}
}

func TestUnknownErrorIsInternalAndLogged(t *testing.T) {
	url, logs := extendedServer(t)
	raw, res := postQuery(t, url, `{ fail }`)
	if len(res.Errors) != 1 {
		t.Fatalf("errors %s", raw)
	}
	if e := res.Errors[0]; e.Message != "internal error" || e.Extensions.Code != "INTERNAL" || e.Extensions.Reason != "" {
		t.Errorf("error %+v", e)
	}
	if strings.Contains(raw, "10.9.8.7") || strings.Contains(raw, "orders") {
		t.Errorf("the cause leaked: %s", raw)
	}
	if !strings.Contains(logs.String(), "10.9.8.7") {
		t.Errorf("the cause was not logged: %s", logs)
	}
}

func TestWrappedDomainErrorKeepsItsCode(t *testing.T) {
	url, _ := extendedServer(t)
	raw, res := postQuery(t, url, `{ taken }`)
	if len(res.Errors) != 1 || res.Errors[0].Extensions.Code != "EMAIL_TAKEN" || res.Errors[0].Message != auth.ErrEmailTaken.Message {
		t.Fatalf("errors %s", raw)
	}
}

func TestStoreUnavailableCarriesRetryAfterButNotTheCause(t *testing.T) {
	url, logs := extendedServer(t)
	raw, res := postQuery(t, url, `{ unavailable }`)
	if len(res.Errors) != 1 {
		t.Fatalf("errors %s", raw)
	}
	e := res.Errors[0]
	if e.Extensions.Code != "STORE_UNAVAILABLE" || e.Extensions.RetryAfter != int(auth.StoreRetryAfter.Seconds()) {
		t.Errorf("error %+v", e)
	}
	if strings.Contains(raw, "10.9.8.7") {
		t.Errorf("the cause leaked: %s", raw)
	}
	if !strings.Contains(logs.String(), "10.9.8.7") {
		t.Errorf("the cause was not logged: %s", logs)
	}
}

// TestExtensionFieldsBesideTheContract shows the seam: the extended schema
// still serves the contract's fields from the embedded real resolver.
func TestExtensionFieldsBesideTheContract(t *testing.T) {
	url, _ := extendedServer(t)
	raw, res := postQuery(t, url, `{ loggedInUser { id } }`)
	if len(res.Errors) != 1 || res.Errors[0].Extensions.Code != "UNAUTHENTICATED" || res.Errors[0].Extensions.Reason != "TOKEN_MISSING" {
		t.Fatalf("errors %s", raw)
	}
}

func TestNewHandlerRefusesMissingLimits(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for name, limits := range map[string]resolvers.Limits{
		"zero":        {},
		"no depth":    func() resolvers.Limits { l := resolvers.DefaultLimits(); l.MaxDepth = 0; return l }(),
		"no body cap": func() resolvers.Limits { l := resolvers.DefaultLimits(); l.MaxBodyBytes = -1; return l }(),
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("NewHandler accepted limits that switch a protection off")
				}
			}()
			resolvers.NewHandler(nil, nil, log, limits)
		})
	}
}

func TestErrorWriterHidesCausesAndUnknownCodes(t *testing.T) {
	for name, err := range map[string]error{
		"a plain error":         errors.New("pq: relation users does not exist"),
		"an INTERNAL with text": &auth.Error{Code: auth.CodeInternal, Message: "pq: relation users does not exist"},
		"a code with no status": &auth.Error{Code: "NO_SUCH_CODE", Message: "pq: relation users does not exist"},
	} {
		t.Run(name, func(t *testing.T) {
			var logs testserver.LogBuffer
			write := resolvers.NewErrorWriter(slog.New(slog.NewTextHandler(&logs, nil)))
			rec := httptest.NewRecorder()
			write(rec, httptest.NewRequest(http.MethodPost, "/graphql", nil), err)
			want := `{"errors":[{"extensions":{"code":"INTERNAL"},"message":"internal error"}]}`
			if rec.Code != http.StatusInternalServerError || rec.Body.String() != want {
				t.Errorf("got %d %s, want 500 %s", rec.Code, rec.Body, want)
			}
			if !strings.Contains(logs.String(), "relation users does not exist") {
				t.Errorf("the cause is not in the log: %s", logs.String())
			}
		})
	}
}

func TestNewErrorWriterPanicsWithoutALogger(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	resolvers.NewErrorWriter(nil)
}
