package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/tokengate/tokengate/auth"
)

// MaxBodyBytes bounds every request body: the largest legitimate one (a
// registration) is a few hundred bytes.
const MaxBodyBytes = 1 << 20

// decode reads the request body as exactly one JSON object into dst, a flat
// struct whose json tags name the accepted fields. Every error is an
// *auth.Error (BAD_REQUEST or BAD_USER_INPUT) fit to show the client.
//
// It is stricter than encoding/json on purpose: whatever a proxy, a WAF or a
// log pipeline in front of the server makes of a body, the server must not
// read different values from it. So bytes that are not UTF-8, unpaired
// \u surrogate escapes (both silently become U+FFFD, merging distinct
// passwords), duplicate keys (encoding/json keeps the last, others the
// first), keys differing from a field only in case (encoding/json folds
// case), unknown fields and trailing data are all refused.
//
// A missing field is not an error here: the domain's validation names it.
func decode[T any](w http.ResponseWriter, r *http.Request, dst *T) error {
	if err := checkContentType(r.Header); err != nil {
		return err
	}
	if r.ContentLength > MaxBodyBytes {
		return errBodyTooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return errBodyTooLarge
		}
		return auth.BadRequest("the request body could not be read")
	}
	if !utf8.Valid(body) {
		return auth.BadUserInput("the request body is not valid UTF-8")
	}
	if err := checkObject(body, fieldNames(reflect.TypeFor[T]())); err != nil {
		return err
	}
	if hasUnpairedSurrogate(body) {
		return auth.BadUserInput(`the request body has a \u escape of an unpaired UTF-16 surrogate`)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			return auth.BadUserInput("%s must be a JSON %s, not %s", te.Field, jsonKind(te.Type), te.Value)
		}
		return auth.BadUserInput("the request body does not match the expected fields")
	}
	return nil
}

var errBodyTooLarge = auth.BadRequest("request body exceeds 1 MiB")

// checkContentType refuses anything but JSON. Besides saying what the body
// is, it keeps out the cross-site "simple" requests a browser sends without
// a CORS preflight (text/plain, forms).
func checkContentType(h http.Header) error {
	bad := auth.BadRequest("Content-Type must be application/json")
	values := h.Values("Content-Type")
	if len(values) != 1 {
		return bad
	}
	mediaType, params, err := mime.ParseMediaType(values[0])
	if err != nil || mediaType != "application/json" {
		return bad
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return bad
		}
	}
	return nil
}

// checkObject walks the top level of body once with json.Decoder.Token: it
// must be one object whose keys are all in known (exact case), none twice,
// with nothing after it. Nested values are not walked: the accepted fields
// are all strings, so a nested value is a type error decode reports anyway.
func checkObject(body []byte, known map[string]bool) error {
	notObject := auth.BadUserInput("the request body must be a JSON object")
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	switch {
	case err == io.EOF:
		return notObject
	case err != nil:
		return malformed(err, dec)
	case tok != json.Delim('{'):
		return notObject
	}
	seen := make(map[string]bool, len(known))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return malformed(err, dec)
		}
		key, ok := tok.(string)
		if !ok {
			return malformed(err, dec)
		}
		switch {
		case !known[key]:
			return auth.BadUserInput("unknown field %s", quoteField(key))
		case seen[key]:
			return auth.BadUserInput("duplicate field %s", quoteField(key))
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return malformed(err, dec)
		}
	}
	if _, err := dec.Token(); err != nil {
		return malformed(err, dec)
	}
	if _, err := dec.Token(); err != io.EOF {
		return auth.BadUserInput("unexpected data after the JSON object at byte %d", dec.InputOffset())
	}
	return nil
}

// malformed reports a syntax error by its offset only; encoding/json's own
// message quotes the input back.
func malformed(err error, dec *json.Decoder) error {
	offset := dec.InputOffset()
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		offset = se.Offset
	}
	return auth.BadUserInput("malformed JSON at byte %d", offset)
}

// quoteField quotes a client's key for an error message, leaving out one
// too long to be worth echoing.
func quoteField(key string) string {
	const maxEcho = 64
	if len(key) > maxEcho {
		return "(name too long)"
	}
	return fmt.Sprintf("%q", key)
}

// fieldNames returns the JSON names of a struct's exported fields, or nil
// (no check) for any other type.
func fieldNames(t reflect.Type) map[string]bool {
	if t.Kind() != reflect.Struct {
		return nil
	}
	names := make(map[string]bool, t.NumField())
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
		names[name] = true
	}
	return names
}

// hasUnpairedSurrogate reports a \uD800-\uDFFF escape that is not a
// high-low pair. body must be valid JSON: then every backslash starts an
// escape inside a string, and every \u has four hex digits.
func hasUnpairedSurrogate(body []byte) bool {
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		i++ // the escaped character; an escaped backslash is skipped whole
		if body[i] != 'u' {
			continue
		}
		r := hex4(body[i+1 : i+5])
		i += 4
		if !utf16.IsSurrogate(r) {
			continue
		}
		if r >= 0xDC00 { // a low surrogate with no high one before it
			return true
		}
		if i+6 >= len(body) || body[i+1] != '\\' || body[i+2] != 'u' {
			return true
		}
		if low := hex4(body[i+3 : i+7]); low < 0xDC00 || low > 0xDFFF {
			return true
		}
		i += 6
	}
	return false
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case '0' <= c && c <= '9':
			r |= rune(c - '0')
		case 'a' <= c && c <= 'f':
			r |= rune(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			r |= rune(c - 'A' + 10)
		}
	}
	return r
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
	case reflect.Struct, reflect.Map:
		return "object"
	default:
		return "number"
	}
}
