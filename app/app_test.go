package app_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/go-chi/chi/v5"

	"github.com/tokengate/tokengate/app"
	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/config"
	"github.com/tokengate/tokengate/edge"
	"github.com/tokengate/tokengate/internal/pgtest"
	"github.com/tokengate/tokengate/resolvers"
)

func load(t *testing.T, databaseURL string) config.Config {
	t.Helper()
	env := map[string]string{
		"DATABASE_URL":         databaseURL,
		"ACCESS_TOKEN_SECRET":  "app-test-access-secret-0123456789abcdef",
		"REFRESH_TOKEN_SECRET": "app-test-refresh-secret-0123456789abcdef",
		"BCRYPT_COST":          "4",
		"KEY_ENCRYPTION_KEY":   "app-test-key-encryption-key-0123456789abcdef",
		"PUBLIC_URL":           "http://localhost:8080",
		"SMTP_URL":             "file:" + t.TempDir(),
	}
	cfg, err := config.Load(nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

var migrations = app.Migrations{
	SQLite: fstest.MapFS{"00001_pets.sql": {Data: []byte(
		"-- +goose Up\nCREATE TABLE pets (user_id TEXT NOT NULL REFERENCES users (id), name TEXT NOT NULL) STRICT;\n")}},
	Postgres: fstest.MapFS{"00001_pets.sql": {Data: []byte(
		"-- +goose Up\nCREATE TABLE pets (user_id text NOT NULL REFERENCES users (id), name text NOT NULL);\n")}},
	Table: "pets_schema_version",
}

const codePetsForbidden auth.Code = "PETS_FORBIDDEN"

type root struct {
	*resolvers.Resolver
	env app.Env
}

func (r *root) PetCount(ctx context.Context) (int32, error) {
	c, err := auth.RequireCaller(ctx)
	if err != nil {
		return 0, err
	}
	var n int32
	err = r.env.DB.QueryRowContext(ctx, `SELECT count(*) FROM pets WHERE user_id = $1`, c.UserID).Scan(&n)
	return n, err
}

func (r *root) Forbidden() (bool, error) {
	return false, &auth.Error{Code: codePetsForbidden, Message: "no pets here"}
}

// TestAnAppsAdditionsOnBothStores composes a schema, a resolver, a route, a
// migration and a code, on SQLite and on PostgreSQL.
func TestAnAppsAdditionsOnBothStores(t *testing.T) {
	for name, url := range map[string]func(t *testing.T) string{
		"sqlite":   func(*testing.T) string { return "sqlite::memory:" },
		"postgres": func(t *testing.T) string { return pgtest.URL(t) },
	} {
		t.Run(name, func(t *testing.T) {
			a, err := app.New(context.Background(), load(t, url(t)),
				app.WithLogger(app.NewLogger(config.Config{}, io.Discard)),
				app.WithMigrations(migrations),
				app.WithSchema(fstest.MapFS{"pets.graphql": {Data: []byte("extend type Query { petCount: Int! forbidden: Boolean! }")}}),
				app.WithResolver(func(base *resolvers.Resolver, env app.Env) any { return &root{Resolver: base, env: env} }),
				app.WithRoutes(func(r chi.Router, onError edge.ErrorWriter, env app.Env) {
					r.Post("/pets", func(w http.ResponseWriter, r *http.Request) {
						c, err := auth.RequireCaller(r.Context())
						if err == nil {
							_, err = env.DB.ExecContext(r.Context(), `INSERT INTO pets (user_id, name) VALUES ($1, $2)`, c.UserID, "Rex")
						}
						if err != nil {
							onError(w, r, err)
							return
						}
						w.WriteHeader(http.StatusCreated)
					})
				}),
				app.WithCode(codePetsForbidden, http.StatusForbidden),
			)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			hs := httptest.NewServer(a.Handler())
			defer hs.Close()
			post := func(path, body string, headers ...string) (*http.Response, string) {
				req, _ := http.NewRequest(http.MethodPost, hs.URL+path, strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				for i := 0; i < len(headers); i += 2 {
					req.Header.Set(headers[i], headers[i+1])
				}
				res, err := hs.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return res, string(b)
			}
			res, body := post("/auth/register", `{"email":"pets@example.com","password":"correct horse battery","name":"P"}`)
			token := res.Header.Get("x-access-token")
			if res.StatusCode != http.StatusCreated || token == "" {
				t.Fatalf("register: %d %s", res.StatusCode, body)
			}
			if res, body := post("/pets", `{}`, "x-access-token", token); res.StatusCode != http.StatusCreated {
				t.Fatalf("POST /pets: %d %s", res.StatusCode, body)
			}
			if res, body := post("/pets", `{}`); res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "UNAUTHENTICATED") {
				t.Errorf("POST /pets anonymous: %d %s", res.StatusCode, body)
			}
			_, body = post("/graphql", `{"query":"{ petCount loggedInUser { email } }"}`, "x-access-token", token)
			if !strings.Contains(body, `"petCount":1`) || !strings.Contains(body, "pets@example.com") {
				t.Errorf("GraphQL: %s", body)
			}
			_, body = post("/graphql", `{"query":"{ forbidden }"}`, "x-access-token", token)
			if !strings.Contains(body, `"code":"PETS_FORBIDDEN"`) || !strings.Contains(body, "no pets here") {
				t.Errorf("the app's own code on GraphQL: %s", body)
			}
		})
	}
}

func TestASchemaWithoutItsResolverFailsNew(t *testing.T) {
	_, err := app.New(context.Background(), load(t, "sqlite::memory:"),
		app.WithLogger(app.NewLogger(config.Config{}, io.Discard)),
		app.WithSchema(fstest.MapFS{"x.graphql": {Data: []byte("extend type Query { unresolved: Int! }")}}))
	if err == nil || !strings.Contains(err.Error(), "unresolved") {
		t.Fatalf("New = %v, want an error naming the field", err)
	}
}

func TestTheAppsMigrationsCannotUseTokengatesVersionTable(t *testing.T) {
	m := migrations
	m.Table = "tokengate_schema_version"
	_, err := app.New(context.Background(), load(t, "sqlite::memory:"),
		app.WithLogger(app.NewLogger(config.Config{}, io.Discard)), app.WithMigrations(m))
	if err == nil {
		t.Fatal("New accepted tokengate's version table for an app's migrations")
	}
}
