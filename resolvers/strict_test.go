package resolvers_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestUnpairedSurrogatesNeverMergeTwoPasswords: encoding/json and
// graphql-go's lexer both read a lone surrogate escape as U+FFFD, so
// pw-\ud800-x and pw-\udfff-x would be one password. Both spellings are
// refused, in a variable and in the document alike.
func TestUnpairedSurrogatesNeverMergeTwoPasswords(t *testing.T) {
	s := newServer(t)
	const register = `mutation($p: String!) { register(email: "sur@example.com", password: $p, name: "S") { accessToken } }`
	for name, body := range map[string]string{
		"high, in a variable":  `{"query":` + quote(register) + `,"variables":{"p":"pw-\ud800-xxxxxx"}}`,
		"low, in a variable":   `{"query":` + quote(register) + `,"variables":{"p":"pw-\udfff-xxxxxx"}}`,
		"in the document":      `{"query":` + quote(`mutation { login(email: "sur@example.com", password: "pw-\ud800-xxxxxx") { accessToken } }`) + `}`,
		"in an operation name": `{"query":"{ __typename }","operationName":"\udc00"}`,
	} {
		t.Run(name, func(t *testing.T) {
			wantTransportError(t, post(t, s, "application/json", body), http.StatusBadRequest, "BAD_USER_INPUT", "surrogate")
		})
	}
	// A real pair is a character like any other.
	res := post(t, s, "application/json", `{"query":`+quote(register)+`,"variables":{"p":"pw-\ud83d\ude00-xxxxxx"}}`)
	if res.StatusCode != http.StatusOK || strings.Contains(string(res.Body), `"errors"`) {
		t.Fatalf("a surrogate pair: %d %s", res.StatusCode, res.Body)
	}
}

// quote encodes s as a JSON string without touching its backslashes'
// meaning for GraphQL: the document's own escapes stay escapes.
func quote(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

func TestTwoContentTypesAreRefused(t *testing.T) {
	s := newServer(t)
	req, err := http.NewRequest(http.MethodPost, s.URL+"/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Add("Content-Type", "application/json")
	req.Header.Add("Content-Type", "text/plain")
	res, err := s.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", res.StatusCode)
	}
}

func TestValidationErrorsAreCapped(t *testing.T) {
	s := newServer(t)
	var q strings.Builder
	q.WriteString("{ ")
	for i := range 300 {
		fmt.Fprintf(&q, "unknown%d ", i)
	}
	q.WriteString("}")
	res, body := exec(t, s, q.String(), nil)
	if n := len(body.Errors); n != 21 {
		t.Fatalf("%d errors, want 20 and the one that says so", n)
	}
	if last := body.Errors[20]; !strings.Contains(last.Message, "too many errors") || last.Extensions.Code != "BAD_USER_INPUT" {
		t.Errorf("last error %+v", last)
	}
	if len(res.Body) > 8<<10 {
		t.Errorf("%d bytes of errors", len(res.Body))
	}
}

func TestAliasesOfStoreFieldsAreCapped(t *testing.T) {
	s := newServer(t)
	tok := s.SignUp(t, "alias@example.com")
	query := func(n int) string {
		var q strings.Builder
		q.WriteString("{ ")
		for i := range n {
			fmt.Fprintf(&q, "s%d: sessions { id } ", i)
		}
		q.WriteString("}")
		return q.String()
	}
	if _, body := exec(t, s, query(10), nil, access(tok.AccessToken)...); len(body.Errors) != 0 {
		t.Fatalf("10 aliases: %+v", body.Errors)
	}
	_, body := exec(t, s, query(11), nil, access(tok.AccessToken)...)
	if len(body.Errors) != 1 || body.Errors[0].Extensions.Code != "BAD_REQUEST" || !strings.Contains(body.Errors[0].Message, "too many fields") {
		t.Fatalf("11 aliases: %+v", body.Errors)
	}
}
