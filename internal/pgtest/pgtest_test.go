package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestWithDatabase(t *testing.T) {
	for _, tc := range []struct{ admin, want string }{
		{"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "postgres://postgres@127.0.0.1:5432/db1?sslmode=disable"},
		{"postgresql://u:p%40ss@host/", "postgresql://u:p%40ss@host/db1"},
		{"host=/tmp port=5432 user=postgres dbname=postgres", "host=/tmp port=5432 user=postgres dbname=postgres dbname=db1"},
	} {
		got, err := withDatabase(tc.admin, "db1")
		if err != nil || got != tc.want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", tc.admin, got, err, tc.want)
		}
	}
}

// Two calls give two separate, empty, usable databases.
func TestURLGivesFreshDatabases(t *testing.T) {
	a, b := URL(t), URL(t)
	if a == b {
		t.Fatalf("URL returned %q twice", a)
	}
	ctx := context.Background()
	for _, u := range []string{a, b} {
		conn, err := pgx.Connect(ctx, u)
		if err != nil {
			t.Fatalf("connect %s: %v", u, err)
		}
		var tables int
		err = conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&tables)
		conn.Close(ctx)
		if err != nil || tables != 0 {
			t.Errorf("%s: %d tables, %v; want an empty database", u, tables, err)
		}
	}
}
