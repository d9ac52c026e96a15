package migrations_test

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/pgtest"
	"github.com/tokengate/tokengate/migrations"
)

type dialect struct {
	name        string
	goose       goose.Dialect
	fsys        fs.FS
	placeholder string
	open        func(t *testing.T) *sql.DB
	insert      string
}

func dialects() []dialect {
	return []dialect{
		{"sqlite", goose.DialectSQLite3, migrations.SQLite(), migrations.SQLitePlaceholder,
			func(t *testing.T) *sql.DB {
				db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "t.db")+"?_pragma=foreign_keys(1)")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			},
			`INSERT INTO users (id, email, email_key, name, password_hash, created_at) VALUES (?1, ?2, ?3, 'n', x'00', ?4)`},
		{"postgres", goose.DialectPostgres, migrations.Postgres(), migrations.PostgresPlaceholder,
			func(t *testing.T) *sql.DB {
				pgtest.Require(t)
				db, err := sql.Open("pgx", pgtest.URL(t))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { db.Close() })
				return db
			},
			`INSERT INTO users (id, email, email_key, name, password_hash, created_at) VALUES ($1, $2, $3, 'n', '\x00'::bytea, to_timestamp($4))`},
	}
}

// atVersion3 migrates a fresh database to just before the rekey, inserts
// users keyed the old way (lower-casing only), and returns the provider.
func atVersion3(t *testing.T, d dialect, emails ...string) (*goose.Provider, *sql.DB) {
	t.Helper()
	db := d.open(t)
	p, err := goose.NewProvider(d.goose, db, d.fsys,
		goose.WithGoMigrations(migrations.EmailRekey(d.placeholder, auth.EmailKey)),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), 3); err != nil {
		t.Fatal(err)
	}
	for i, e := range emails {
		if _, err := db.Exec(d.insert, "u"+string(rune('a'+i)), e, strings.ToLower(e), i); err != nil {
			t.Fatalf("insert %s: %v", e, err)
		}
	}
	return p, db
}

func TestRekeyRecomputesEveryKey(t *testing.T) {
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			p, db := atVersion3(t, d, "Straße@example.com", "x@Bücher.example", "ſam@example.com", "ｅve@example.com")
			if _, err := p.Up(context.Background()); err != nil {
				t.Fatalf("Up: %v", err)
			}
			rows, err := db.Query(`SELECT email, email_key FROM users ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var email, key string
				if err := rows.Scan(&email, &key); err != nil {
					t.Fatal(err)
				}
				if key != auth.EmailKey(email) {
					t.Errorf("%s: key %q; want %q", email, key, auth.EmailKey(email))
				}
			}
		})
	}
}

func TestRekeyRefusesToMergeAccounts(t *testing.T) {
	for _, d := range dialects() {
		t.Run(d.name, func(t *testing.T) {
			p, db := atVersion3(t, d, "ΟΔΟΣ@x.com", "οδος@x.com", "alone@x.com", "ſam@x.com", "sam@x.com")
			_, err := p.Up(context.Background())
			if err == nil {
				t.Fatal("Up merged accounts silently")
			}
			for _, want := range []string{"[ua ub]", "[ud ue]", "2 groups"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not name %s", err, want)
				}
			}
			if strings.Contains(err.Error(), "@") {
				t.Errorf("error %q names an address", err)
			}
			var key string
			if err := db.QueryRow(`SELECT email_key FROM users WHERE email = 'alone@x.com'`).Scan(&key); err != nil || key != "alone@x.com" {
				t.Errorf("alone@x.com key %q, %v", key, err)
			}
			if v, err := p.GetDBVersion(context.Background()); err != nil || v != 3 {
				t.Errorf("version %d, %v; want 3: the failed rekey must leave nothing behind", v, err)
			}
			// The operator resolves the groups; the next start migrates.
			if _, err := db.Exec(`DELETE FROM users WHERE email IN ('οδος@x.com', 'sam@x.com')`); err != nil {
				t.Fatal(err)
			}
			if _, err := p.Up(context.Background()); err != nil {
				t.Errorf("Up after resolving: %v", err)
			}
		})
	}
}
