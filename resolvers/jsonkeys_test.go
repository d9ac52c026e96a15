package resolvers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// referenceDuplicateKey is the plain way to find a repeated key, through
// encoding/json's tokens: the slow definition checkKeys must agree with.
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

func manyKeys(n int, extra string) string {
	var b strings.Builder
	b.WriteString(`{"query":"{ __typename }","variables":{`)
	for i := range n {
		fmt.Fprintf(&b, `"k%d":%d,`, i, i)
	}
	b.WriteString(extra + `"last":[{"a":1},{"a":2}]}}`)
	return b.String()
}

func TestCheckKeys(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		key        string
		want       keyProblem
	}{
		{"plain request", `{"query":"{ a }","operationName":null,"variables":{"x":{"query":1}}}`, "", keysFine},
		{"query twice", `{"query":"a","query":"b"}`, "query", keyTwice},
		{"escaped spelling", `{"query":"a","\u0071uery":"b"}`, "query", keyTwice},
		{"escaped quote in a key", `{"a\"b":1,"a\"b":2}`, `a"b`, keyTwice},
		{"equal keys in sibling objects", `{"query":"a","variables":{"v":[{"k":1},{"k":2}],"w":{"k":3}}}`, "", keysFine},
		{"a key again after a nested object", `{"query":"a","variables":{"k":{"j":1},"k":2}}`, "k", keyTwice},
		{"nested key equal to the parent's", `{"query":"a","variables":{"query":{"query":1}}}`, "", keysFine},
		{"a string value that looks like a key", `{"query":"\"query\":","variables":{"x":"query"}}`, "", keysFine},
		{"many keys, none twice", manyKeys(200, ""), "", keysFine},
		{"many keys, one twice past the set", manyKeys(200, `"k150":0,`), "k150", keyTwice},
		{"many keys, one twice in the first few", manyKeys(200, `"k3":0,`), "k3", keyTwice},
		{"member in capitals", `{"query":"{ a }","QUERY":"mutation { logoutAll }"}`, "QUERY", keyMisspelt},
		{"member in another case alone", `{"Query":"{ a }"}`, "Query", keyMisspelt},
		{"operationName folded", `{"query":"{ a }","operationname":"B"}`, "operationname", keyMisspelt},
		{"folded variable names are the client's own", `{"query":"{ a }","variables":{"QUERY":1,"Variables":2}}`, "", keysFine},
		{"unknown member", `{"query":"{ a }","persisted":true}`, "", keysFine},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !json.Valid([]byte(tc.body)) {
				t.Fatalf("test body is not JSON: %s", tc.body)
			}
			key, problem := checkKeys([]byte(tc.body))
			if key != tc.key || problem != tc.want {
				t.Errorf("checkKeys = %q, %d; want %q, %d", key, problem, tc.key, tc.want)
			}
			if tc.want != keyMisspelt {
				refKey, refDup := referenceDuplicateKey([]byte(tc.body))
				if refDup != (tc.want == keyTwice) || refKey != tc.key {
					t.Errorf("reference = %q, %v: the case itself is wrong", refKey, refDup)
				}
			}
		})
	}
}

// FuzzCheckKeys: on any valid JSON, checkKeys finds a repeated key exactly
// when the token-based reference does, and the same one.
func FuzzCheckKeys(f *testing.F) {
	for _, seed := range []string{
		`{"query":"a","query":"b"}`,
		`{"a":{"b":[{"c":1,"c":2}]}}`,
		`{"\u0061":1,"a":2}`,
		`[{"a":1},{"a":1},{"b":{"a":1,"b":2}}]`,
		`"plain"`,
		manyKeys(40, `"k20":0,`),
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !json.Valid(body) {
			return
		}
		key, problem := checkKeys(body)
		refKey, refDup := referenceDuplicateKey(body)
		if problem == keyMisspelt {
			if !misspeltMember(key) {
				t.Fatalf("checkKeys(%q) called %q a misspelt member", body, key)
			}
			return
		}
		if (problem == keyTwice) != refDup || key != refKey {
			t.Fatalf("checkKeys(%q) = %q, %d; reference %q, %v", body, key, problem, refKey, refDup)
		}
	})
}

func BenchmarkCheckKeys(b *testing.B) {
	body := []byte(`{"query":"mutation($email:String!,$password:String!){login(email:$email,password:$password){accessToken refreshToken user{id email}}}","variables":{"email":"user1@example.com","password":"correct horse battery staple"}}`)
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			checkKeys(body)
		}
	})
	b.Run("tokens", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			referenceDuplicateKey(body)
		}
	})
}

// checkKeys is only ever given valid JSON, but a slip upstream must not
// turn into a panic on a request path.
func TestCheckKeysSurvivesInvalidJSON(t *testing.T) {
	for _, body := range []string{`}`, `]]`, `{"a":1}}`, `"unterminated`, `{"a`, `{"a":1,"a"`, ``, `\`} {
		checkKeys([]byte(body))
	}
}
