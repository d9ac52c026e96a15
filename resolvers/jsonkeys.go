package resolvers

import (
	"encoding/json"
	"strings"
)

// keyProblem is what checkKeys found wrong with a request body's keys.
type keyProblem int

const (
	keysFine keyProblem = iota
	// keyTwice: a key appears twice in one object, anywhere in the body.
	// encoding/json keeps the last of two equal keys and other readers the
	// first, so a proxy in front of the server could vet one operation, or
	// one variable, while the server runs another.
	keyTwice
	// keyMisspelt: a top-level key is a request member in another case,
	// such as "QUERY". encoding/json matches struct fields
	// case-insensitively, so {"query": A, "QUERY": B} would run B, where a
	// reader following GraphQL over HTTP (member names are case-sensitive)
	// runs A.
	keyMisspelt
)

// requestMembers are the members of a request as the request struct's
// tags spell them.
var requestMembers = [...]string{"query", "operationName", "variables", "extensions"}

// checkKeys reports the first key of body that is refused, and why. body
// must be valid JSON: decodeRequest has decoded it already.
//
// It runs on every GraphQL request, so it walks the bytes once without
// building tokens: keys are compared as substrings of one copy of body,
// and only a key with an escape in it is decoded.
func checkKeys(body []byte) (string, keyProblem) {
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
			end := stringEnd(text, i)
			if k.keyNext {
				key := unquoteKey(text[i : end+1])
				if k.add(key) {
					return key, keyTwice
				}
				if len(k.starts) == 1 && misspeltMember(key) {
					return key, keyMisspelt
				}
				k.keyNext = false
			}
			i = end
		}
	}
	return "", keysFine
}

func misspeltMember(key string) bool {
	for _, m := range requestMembers {
		if key != m && strings.EqualFold(key, m) {
			return true
		}
	}
	return false
}

// setAfter is how many keys one object may have before they are kept in a
// map: below it a linear search costs less than hashing, and above it a
// body of a million keys in one object would cost a linear search each.
const setAfter = 16

// keyScan is checkKeys' state: the keys of every open object, one after
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

// stringEnd returns the index of the quote that closes the JSON string
// opening at text[open].
func stringEnd(text string, open int) int {
	for i := open + 1; i < len(text); i++ {
		switch text[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(text) - 1 // not reached for valid JSON
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
