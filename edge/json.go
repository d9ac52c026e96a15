package edge

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/tokengate/tokengate/auth"
)

// MaxBodyBytes bounds every JSON request body tokengate reads: the largest
// legitimate one (a GraphQL operation) is a few kilobytes.
const MaxBodyBytes = 1 << 20

// ReadBody checks that the request says it sends JSON and reads its body,
// at most limit bytes. Every error is an *auth.Error (BAD_REQUEST) fit to
// show the client.
//
// Requiring application/json, in exactly one Content-Type header, also
// keeps out the cross-site "simple" requests a browser sends without a
// CORS preflight (text/plain, forms).
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if err := checkContentType(r.Header); err != nil {
		return nil, err
	}
	tooLarge := auth.BadRequest("request body exceeds %s", byteSize(limit))
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge
		}
		return nil, auth.BadRequest("the request body could not be read")
	}
	return body, nil
}

// byteSize says n in the unit a person would.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// ReadJSON reads a JSON request body (ReadBody, at most MaxBodyBytes) into
// dst as DecodeJSON does.
func ReadJSON[T any](w http.ResponseWriter, r *http.Request, dst *T) error {
	body, err := ReadBody(w, r, MaxBodyBytes)
	if err != nil {
		return err
	}
	return DecodeJSON(body, dst)
}

func checkContentType(h http.Header) error {
	const want = "application/json"
	bad := auth.BadRequest("Content-Type must be %s", want)
	values := h["Content-Type"]
	if len(values) != 1 {
		return bad
	}
	if values[0] == want {
		return nil // what nearly every client sends needs no parsing
	}
	mediaType, params, err := mime.ParseMediaType(values[0])
	if err != nil || mediaType != want {
		return bad
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return bad
		}
	}
	return nil
}

// DecodeJSON decodes body, exactly one JSON object, into dst, a struct
// whose json tags name the accepted members. Every error is an *auth.Error
// (BAD_USER_INPUT) fit to show the client. It is the one reader of request
// bodies, REST and GraphQL alike.
//
// It is stricter than encoding/json on purpose: whatever a proxy, a WAF or
// a log pipeline in front of the server makes of a body, the server must
// not read different values from it. So it refuses bytes that are not
// UTF-8 and \u escapes of unpaired UTF-16 surrogates (encoding/json turns
// both into U+FFFD, so two different passwords would become one); a key
// twice in one object, at any depth (encoding/json keeps the last, other
// readers the first); top-level members it does not know, including one
// that differs from a known member only in case (encoding/json folds
// case); and anything after the object.
//
// A missing member is not an error here: the domain's validation names it.
func DecodeJSON[T any](body []byte, dst *T) error {
	if !utf8.Valid(body) {
		return auth.BadUserInput("the request body is not valid UTF-8")
	}
	if trimmed := bytes.TrimLeft(body, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return auth.BadUserInput("the request body must be a JSON object")
	}
	if !json.Valid(body) {
		return malformed(body)
	}
	members := membersOf(reflect.TypeFor[T]())
	switch key, problem := scanJSON(body, members); problem {
	case scanDuplicate:
		return auth.BadUserInput("duplicate field %s in the request body", quoteKey(key))
	case scanUnknown:
		return auth.BadUserInput("unknown field %s in the request body; fields are case-sensitive: %s", quoteKey(key), strings.Join(members, ", "))
	case scanSurrogate:
		return auth.BadUserInput(`the request body has a \u escape of an unpaired UTF-16 surrogate`)
	}
	if err := json.Unmarshal(body, dst); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			return auth.BadUserInput("%s must be a JSON %s, not %s", te.Field, jsonKind(te.Type), te.Value)
		}
		return auth.BadUserInput("the request body does not match the expected fields")
	}
	return nil
}

// malformed reports a syntax error by its offset only: encoding/json's own
// message quotes the input back.
func malformed(body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	var v json.RawMessage
	err := dec.Decode(&v)
	if err == nil {
		return auth.BadUserInput("unexpected data after the JSON object at byte %d", dec.InputOffset())
	}
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return auth.BadUserInput("malformed JSON at byte %d", se.Offset)
	}
	// The body ended inside the object.
	return auth.BadUserInput("malformed JSON at byte %d", len(body))
}

// quoteKey quotes a client's key for an error message, leaving out one too
// long to be worth echoing.
func quoteKey(key string) string {
	if len(key) > 64 {
		return "(name too long)"
	}
	return fmt.Sprintf("%q", key)
}

// memberCache holds membersOf's answer per type: the reflection runs once.
var memberCache sync.Map // reflect.Type → []string

// membersOf returns the JSON names of a struct's exported fields, sorted,
// or nil (every member accepted) for any other type.
func membersOf(t reflect.Type) []string {
	if v, ok := memberCache.Load(t); ok {
		return v.([]string)
	}
	var names []string
	if t.Kind() == reflect.Struct {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			switch name {
			case "-":
				continue
			case "":
				name = f.Name
			}
			names = append(names, name)
		}
		slices.Sort(names)
	}
	memberCache.Store(t, names)
	return names
}

// jsonKind names a Go type the way a JSON client thinks of it.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map, reflect.Pointer:
		return "object"
	default:
		return "number"
	}
}

// scanProblem is what scanJSON found wrong with a body.
type scanProblem int

const (
	scanFine scanProblem = iota
	scanDuplicate
	scanUnknown
	scanSurrogate
)

// scanJSON walks body, which must be valid JSON, once, without building
// tokens, and reports the first refused key or escape: a key twice in one
// object, a top-level key not in members (when members is not nil), or an
// unpaired surrogate escape in any string. Keys are compared as substrings
// of one copy of body; only a key with an escape in it is decoded.
func scanJSON(body []byte, members []string) (string, scanProblem) {
	text := string(body)
	var k keyScan
	for i := 0; i < len(text); i++ {
		switch text[i] {
		case '{':
			k.open(true)
		case '[':
			k.open(false)
		case '}', ']':
			k.close()
		case ',':
			k.keyNext = k.inObject()
		case '"':
			end, bad := scanString(text, i)
			if bad {
				return "", scanSurrogate
			}
			if k.keyNext {
				key := unquoteKey(text[i : end+1])
				if k.add(key) {
					return key, scanDuplicate
				}
				if len(k.starts) == 1 && members != nil && !slices.Contains(members, key) {
					return key, scanUnknown
				}
				k.keyNext = false
			}
			i = end
		}
	}
	return "", scanFine
}

// scanString returns the index of the quote that closes the JSON string
// opening at text[open], and whether the string holds a \u escape of a
// surrogate that is not a high-low pair.
func scanString(text string, open int) (end int, unpaired bool) {
	for i := open + 1; i < len(text); i++ {
		switch text[i] {
		case '"':
			return i, false
		case '\\':
			if i+6 > len(text) || text[i+1] != 'u' {
				i++ // the escaped character; an escaped backslash is skipped whole
				continue
			}
			r := hex4(text[i+2 : i+6])
			if !utf16.IsSurrogate(r) {
				i += 5
				continue
			}
			if r >= 0xDC00 || i+11 >= len(text) || text[i+6] != '\\' || text[i+7] != 'u' {
				return i, true // a low half first, or a high half alone
			}
			if low := hex4(text[i+8 : i+12]); low < 0xDC00 || low > 0xDFFF {
				return i, true
			}
			i += 11
		}
	}
	return len(text) - 1, false // not reached for valid JSON
}

// HasUnpairedSurrogateEscape reports a \uD800-\uDFFF escape in s that is
// not a high-low pair, as a GraphQL document's string literals spell them.
// A JSON reader turns such an escape into U+FFFD, and so does graphql-go's
// lexer: refusing it keeps two different passwords from becoming one.
func HasUnpairedSurrogateEscape(s string) bool {
	for i := 0; i+1 < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		if s[i+1] != 'u' || i+6 > len(s) {
			i++ // an escaped character, an escaped backslash among them
			continue
		}
		r := hex4(s[i+2 : i+6])
		i += 5
		if !utf16.IsSurrogate(r) {
			continue
		}
		if r >= 0xDC00 || i+7 > len(s) || s[i+1:i+3] != `\u` {
			return true
		}
		if low := hex4(s[i+3 : i+7]); low < 0xDC00 || low > 0xDFFF {
			return true
		}
		i += 6
	}
	return false
}

// hex4 reads four hex digits; anything else reads as zero, which is no
// surrogate.
func hex4(s string) rune {
	var r rune
	for i := 0; i < len(s); i++ {
		c := s[i]
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0
		}
	}
	return r
}

// setAfter is how many keys one object may have before they are kept in a
// map: below it a linear search costs less than hashing, and above it a
// body of a million keys in one object would cost a linear search each.
const setAfter = 16

// keyScan is scanJSON's state: the keys of every open object, one after
// another in keys, each object's from its entry in starts (-1 for an
// array), and a set of them for an object past setAfter keys.
type keyScan struct {
	keys    []string
	starts  []int
	sets    map[int]map[string]bool
	keyNext bool // whether the next string is a key
}

func (k *keyScan) open(object bool) {
	start := -1
	if object {
		start = len(k.keys)
	}
	k.starts = append(k.starts, start)
	k.keyNext = object
}

func (k *keyScan) close() {
	n := len(k.starts) - 1
	if n < 0 {
		return // a stray closer: not valid JSON, which callers never pass
	}
	if start := k.starts[n]; start >= 0 {
		k.keys = k.keys[:start]
		delete(k.sets, start)
	}
	k.starts = k.starts[:n]
	k.keyNext = false
}

func (k *keyScan) inObject() bool {
	return len(k.starts) > 0 && k.starts[len(k.starts)-1] >= 0
}

// add records key in the innermost object and reports whether it was
// there already.
func (k *keyScan) add(key string) bool {
	start := k.starts[len(k.starts)-1]
	if set := k.sets[start]; set != nil {
		if set[key] {
			return true
		}
		set[key] = true
		return false
	}
	for _, seen := range k.keys[start:] {
		if seen == key {
			return true
		}
	}
	k.keys = append(k.keys, key)
	if len(k.keys)-start > setAfter {
		set := make(map[string]bool, 2*setAfter)
		for _, seen := range k.keys[start:] {
			set[seen] = true
		}
		if k.sets == nil {
			k.sets = map[int]map[string]bool{}
		}
		k.sets[start] = set
	}
	return false
}

// unquoteKey returns the key a JSON string (quotes included) spells, as
// encoding/json reads it, so "\u0071uery" is "query".
func unquoteKey(quoted string) string {
	if !strings.Contains(quoted, `\`) {
		return quoted[1 : len(quoted)-1]
	}
	var key string
	if json.Unmarshal([]byte(quoted), &key) != nil {
		return quoted // not reached for valid JSON
	}
	return key
}

// WriteJSON writes v as JSON with the given status. It marshals before
// writing anything, so a marshalling error, the only error it returns,
// leaves the response untouched for the caller's ErrorWriter.
func WriteJSON(w http.ResponseWriter, status int, v any) error {
	return WriteJSONAs(w, status, "application/json", v)
}

// WriteJSONAs is WriteJSON with another JSON media type, such as
// application/problem+json.
func WriteJSONAs(w http.ResponseWriter, status int, contentType string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	// A write error means the client is gone; there is no one left to tell.
	_, _ = w.Write(b)
	return nil
}
