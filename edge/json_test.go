package edge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/tokengate/tokengate/auth"
)

type login struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

func TestDecodeJSON(t *testing.T) {
	for _, tc := range []struct {
		name, body, want string // want: "" for success, else part of the message
	}{
		{"plain", `{"email":"a@example.com","password":"pw"}`, ""},
		{"missing member", `{"email":"a@example.com"}`, ""},
		{"not UTF-8", "{\"email\":\"a\xff\"}", "not valid UTF-8"},
		{"empty", ``, "must be a JSON object"},
		{"array", `[{"email":"a"}]`, "must be a JSON object"},
		{"bare word", `hello`, "must be a JSON object"},
		{"truncated", `{"email":"a",`, "malformed JSON at byte 13"},
		{"trailing data", `{"email":"a"} {}`, "unexpected data after the JSON object at byte 13"},
		{"key twice", `{"email":"a","email":"b"}`, `duplicate field "email"`},
		{"key twice by escape", `{"email":"a","\u0065mail":"b"}`, `duplicate field "email"`},
		{"member in another case", `{"EMAIL":"a"}`, `unknown field "EMAIL"`},
		{"unknown member", `{"admin":true}`, `unknown field "admin" in the request body; fields are case-sensitive: email, password`},
		{"unpaired high surrogate", `{"password":"pw-\ud800-x"}`, "surrogate"},
		{"unpaired low surrogate", `{"password":"pw-\udfff-x"}`, "surrogate"},
		{"high surrogate at the end", `{"password":"\ud800"}`, "surrogate"},
		{"surrogate in a key", `{"\ud800":1}`, "surrogate"},
		{"a pair is fine", `{"password":"pw-\ud83d\ude00-x"}`, ""},
		{"an escaped backslash before u", `{"password":"pw-\\ud800"}`, ""},
		{"wrong type", `{"email":42}`, "email must be a JSON string, not number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dst login
			err := DecodeJSON([]byte(tc.body), &dst)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("DecodeJSON(%s) = %v", tc.body, err)
				}
				return
			}
			var e *auth.Error
			if !errors.As(err, &e) || e.Code != auth.CodeBadUserInput || !strings.Contains(e.Message, tc.want) {
				t.Fatalf("DecodeJSON(%s) = %v, want BAD_USER_INPUT containing %q", tc.body, err, tc.want)
			}
		})
	}
}

func TestDecodeJSONKeepsThePairAsSent(t *testing.T) {
	var a, b login
	if err := DecodeJSON([]byte(`{"password":"pw-\ud83d\ude00"}`), &a); err != nil {
		t.Fatal(err)
	}
	if err := DecodeJSON([]byte(`{"password":"pw-😀"}`), &b); err != nil {
		t.Fatal(err)
	}
	if a.Password != b.Password || a.Password != "pw-😀" {
		t.Fatalf("%q and %q", a.Password, b.Password)
	}
}

func TestHasUnpairedSurrogateEscape(t *testing.T) {
	for s, want := range map[string]bool{
		`mutation { login(email:"a", password:"pw-\ud800-x") { accessToken } }`: true,
		`{ f(a:"\udfff") }`:          true,
		`{ f(a:"\ud800\u0041") }`:    true,
		`{ f(a:"\ud83d\ude00") }`:    false,
		`{ f(a:"\\ud800") }`:         false, // an escaped backslash, then text
		`{ f(a:"\u0041") }`:          false,
		`{ f(a:"\ud800`:              true,
		`\u`:                         false,
		`{ loggedInUser { id } }`:    false,
		`{ f(a:"\\\ud800") }`:        true,
		`{ f(a:"\uD800\uDC00 ok") }`: false,
	} {
		if got := HasUnpairedSurrogateEscape(s); got != want {
			t.Errorf("HasUnpairedSurrogateEscape(%s) = %v, want %v", s, got, want)
		}
	}
}

// referenceDuplicateKey is the plain way to find a repeated key, through
// encoding/json's tokens: the slow definition scanJSON must agree with.
func referenceDuplicateKey(body []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var open []map[string]bool // an object's keys so far, or nil for an array
	keyNext := false
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		switch tok {
		case json.Delim('{'):
			open = append(open, map[string]bool{})
			keyNext = true
			continue
		case json.Delim('['):
			open = append(open, nil)
			keyNext = false
			continue
		case json.Delim('}'), json.Delim(']'):
			open = open[:len(open)-1]
		default:
			if key, ok := tok.(string); ok && keyNext {
				keys := open[len(open)-1]
				if keys[key] {
					return key, true
				}
				keys[key] = true
				keyNext = false
				continue
			}
		}
		keyNext = len(open) > 0 && open[len(open)-1] != nil
	}
}

// referenceUnpaired finds an unpaired surrogate escape by decoding every
// \u escape of valid JSON in turn: the slow definition scanString must
// agree with.
func referenceUnpaired(body []byte) bool {
	var units []uint16
	flush := func() bool {
		for i := 0; i < len(units); i++ {
			u := rune(units[i])
			switch {
			case u >= 0xDC00 && u <= 0xDFFF:
				return true
			case u >= 0xD800 && u <= 0xDBFF:
				if i+1 >= len(units) || units[i+1] < 0xDC00 || units[i+1] > 0xDFFF {
					return true
				}
				if utf16.DecodeRune(u, rune(units[i+1])) == 0xFFFD {
					return true
				}
				i++
			}
		}
		units = units[:0]
		return false
	}
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			if flush() {
				return true
			}
			continue
		}
		i++
		if body[i] != 'u' {
			if flush() {
				return true
			}
			continue
		}
		var u uint16
		fmt.Sscanf(string(body[i+1:i+5]), "%04x", &u)
		units = append(units, u)
		i += 4
	}
	return flush()
}

func manyKeys(n int, extra string) string {
	var b strings.Builder
	b.WriteString(`{"query":"{ __typename }","variables":{`)
	for i := range n {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	b.WriteString(extra + `"last":[{"a":1},{"a":2}]}}`)
	return b.String()
}

var graphQLMembers = []string{"extensions", "operationName", "query", "variables"}

func TestScanJSON(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		key        string
		want       scanProblem
	}{
		{"plain request", `{"query":"{ a }","operationName":null,"variables":{"x":{"query":1}}}`, "", scanFine},
		{"query twice", `{"query":"a","query":"b"}`, "query", scanDuplicate},
		{"escaped spelling", `{"query":"a","\u0071uery":"b"}`, "query", scanDuplicate},
		{"escaped quote in a key", `{"variables":{"a\"b":1,"a\"b":2}}`, `a"b`, scanDuplicate},
		{"equal keys in sibling objects", `{"query":"a","variables":{"v":[{"k":1},{"k":2}],"w":{"k":3}}}`, "", scanFine},
		{"a key again after a nested object", `{"query":"a","variables":{"k":{"j":1},"k":2}}`, "k", scanDuplicate},
		{"nested key equal to the parent's", `{"query":"a","variables":{"query":{"query":1}}}`, "", scanFine},
		{"a string value that looks like a key", `{"query":"\"query\":","variables":{"x":"query"}}`, "", scanFine},
		{"many keys, none twice", manyKeys(200, ""), "", scanFine},
		{"many keys, one twice past the set", manyKeys(200, `"k150":0,`), "k150", scanDuplicate},
		{"many keys, one twice in the first few", manyKeys(200, `"k3":0,`), "k3", scanDuplicate},
		{"member in capitals", `{"query":"{ a }","QUERY":"mutation { logoutAll }"}`, "QUERY", scanUnknown},
		{"folded variable names are the client's own", `{"query":"{ a }","variables":{"QUERY":1,"Variables":2}}`, "", scanFine},
		{"unknown member", `{"query":"{ a }","persisted":true}`, "persisted", scanUnknown},
		{"surrogate in a variable", `{"query":"{ a }","variables":{"p":"\ud800"}}`, "", scanSurrogate},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !json.Valid([]byte(tc.body)) {
				t.Fatalf("test body is not JSON: %s", tc.body)
			}
			key, problem := scanJSON([]byte(tc.body), graphQLMembers)
			if key != tc.key || problem != tc.want {
				t.Errorf("scanJSON = %q, %d; want %q, %d", key, problem, tc.key, tc.want)
			}
			if tc.want == scanDuplicate || tc.want == scanFine {
				refKey, refDup := referenceDuplicateKey([]byte(tc.body))
				if refDup != (tc.want == scanDuplicate) || refKey != tc.key {
					t.Errorf("reference = %q, %v: the case itself is wrong", refKey, refDup)
				}
			}
		})
	}
}

// FuzzScanJSON: on any valid JSON, scanJSON finds a repeated key exactly
// when the token-based reference does, and the same one, and an unpaired
// surrogate escape exactly when the escape-by-escape reference does.
func FuzzScanJSON(f *testing.F) {
	for _, seed := range []string{
		`{"query":"a","query":"b"}`,
		`{"a":{"b":[{"c":1,"c":2}]}}`,
		`{"\u0061":1,"a":2}`,
		`[{"a":1},{"a":1},{"b":{"a":1,"b":2}}]`,
		`"plain"`,
		`{"p":"\ud800\udc00","q":"\udc00"}`,
		`{"p":"x\\ud800"}`,
		manyKeys(40, `"k20":0,`),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return
		}
		key, problem := scanJSON(body, nil)
		if problem == scanSurrogate {
			if !referenceUnpaired(body) {
				t.Fatalf("scanJSON(%q) saw an unpaired surrogate the reference does not", body)
			}
			return
		}
		if referenceUnpaired(body) {
			refKey, refDup := referenceDuplicateKey(body)
			if problem == scanDuplicate && refDup && refKey == key {
				return // the duplicate came first
			}
			t.Fatalf("scanJSON(%q) = %q, %d; the reference sees an unpaired surrogate", body, key, problem)
		}
		refKey, refDup := referenceDuplicateKey(body)
		if (problem == scanDuplicate) != refDup || key != refKey {
			t.Fatalf("scanJSON(%q) = %q, %d; reference %q, %v", body, key, problem, refKey, refDup)
		}
	})
}

// scanJSON is only ever given valid JSON, but a slip upstream must not turn
// into a panic on a request path.
func TestScanJSONSurvivesInvalidJSON(t *testing.T) {
	for _, body := range []string{`}`, `]]`, `{"a":1}}`, `"unterminated`, `{"a`, `{"a":1,"a"`, ``, `\`, `"\u`, `"\ud800\u`} {
		scanJSON([]byte(body), graphQLMembers)
	}
}

func BenchmarkDecodeJSON(b *testing.B) {
	type request struct {
		Query         string          `json:"query"`
		OperationName string          `json:"operationName"`
		Variables     map[string]any  `json:"variables"`
		Extensions    json.RawMessage `json:"extensions"`
	}
	body := []byte(`{"query":"mutation($email:String!,$password:String!){login(email:$email,password:$password){accessToken refreshToken user{id email}}}","variables":{"email":"user1@example.com","password":"correct horse battery staple"}}`)
	b.ReportAllocs()
	for b.Loop() {
		var r request
		if err := DecodeJSON(body, &r); err != nil {
			b.Fatal(err)
		}
	}
}
