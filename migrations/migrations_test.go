package migrations_test

import (
	"io/fs"
	"slices"
	"testing"

	"github.com/tokengate/tokengate/migrations"
)

// Both dialects must carry the same numbered files, or one store would
// silently lack a table the other has.
func TestDialectsHaveTheSameMigrations(t *testing.T) {
	names := func(fsys fs.FS) []string {
		t.Helper()
		entries, err := fs.Glob(fsys, "*.sql")
		if err != nil {
			t.Fatal(err)
		}
		return entries
	}
	pg, lite := names(migrations.Postgres()), names(migrations.SQLite())
	if len(pg) == 0 {
		t.Fatal("no PostgreSQL migrations embedded")
	}
	if !slices.Equal(pg, lite) {
		t.Fatalf("migration files differ: postgres %v, sqlite %v", pg, lite)
	}
}
