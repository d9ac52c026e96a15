package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/tokengate/tokengate/app"
	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/config"
	"github.com/tokengate/tokengate/edge"
)

// TestDocsAPINamesWhatTheCodeKnows keeps docs/API.md, the project's own
// reference, in step with the code: every route the server serves, every
// error code and every environment variable is named there, and every
// route, code and variable it names in its tables exists.
func TestDocsAPINamesWhatTheCodeKnows(t *testing.T) {
	b, err := os.ReadFile("docs/API.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)

	// Routes: the real handler, walked.
	env := map[string]string{"DATABASE_URL": "sqlite::memory:", "METRICS": "true"}
	cfg, err := config.Load(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, app.WithLogger(app.NewLogger(cfg, io.Discard)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var routes []string
	err = chi.Walk(a.Handler().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		routes = append(routes, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		if !strings.Contains(doc, "`"+r+"`") {
			t.Errorf("docs/API.md does not name the route `%s`", r)
		}
	}
	routeRef := regexp.MustCompile("`((?:GET|POST|DELETE|PUT|PATCH) /[^` ]*)`")
	for _, m := range routeRef.FindAllStringSubmatch(doc, -1) {
		if !slices.Contains(routes, m[1]) {
			t.Errorf("docs/API.md names `%s`, which no route serves", m[1])
		}
	}

	// Error codes: the status map, and the code column of the error table.
	codes := edge.Codes()
	for _, c := range codes {
		if !strings.Contains(doc, "`"+string(c)+"`") {
			t.Errorf("docs/API.md does not name the code `%s`", c)
		}
	}
	codeRow := regexp.MustCompile("(?m)^\\| `([A-Z_]+)` \\| [0-9]{3} \\|")
	for _, m := range codeRow.FindAllStringSubmatch(doc, -1) {
		if !slices.Contains(codes, auth.Code(m[1])) {
			t.Errorf("docs/API.md's error table has `%s`, which the code does not know", m[1])
		}
	}

	// Variables: config's list, and the variable column of the table.
	names := config.Names()
	for _, n := range names {
		if !strings.Contains(doc, "`"+n+"`") {
			t.Errorf("docs/API.md does not name the variable `%s`", n)
		}
	}
	varRow := regexp.MustCompile("(?m)^\\| ((?:`[A-Z_]+`(?:, )?)+) \\|")
	varName := regexp.MustCompile("`([A-Z_]+)`")
	for _, m := range varRow.FindAllStringSubmatch(doc, -1) {
		for _, v := range varName.FindAllStringSubmatch(m[1], -1) {
			if !slices.Contains(names, v[1]) && !slices.Contains(codes, auth.Code(v[1])) {
				t.Errorf("docs/API.md's configuration names `%s`, which tokengate does not read", v[1])
			}
		}
	}
}
