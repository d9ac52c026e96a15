package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
)

// MigrateApp applies an adopter's own goose migrations (SQL files for
// SQLite) to the store's database, after tokengate's, recording them in
// table: their numbering is theirs, apart from tokengate's own.
func (s *Store) MigrateApp(ctx context.Context, fsys fs.FS, table string) error {
	if table == "" || table == versionTable {
		return fmt.Errorf("migrate app: the app's migrations need a version table of their own")
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, s.w, fsys,
		goose.WithTableName(table),
		goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("migrate app: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return classify("migrate app", err)
	}
	return nil
}

// DB is the database the store writes to, for an app's own tables beside
// tokengate's (created by MigrateApp). SQLite has one writer, so an app's
// writes take their turn with tokengate's.
func (s *Store) DB() *sql.DB { return s.w }
