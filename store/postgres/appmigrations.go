package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// MigrateApp applies an adopter's own goose migrations (SQL files for
// PostgreSQL) after tokengate's, recording them in table, under
// goose's advisory lock like tokengate's own, so instances starting
// together take turns.
func (s *Store) MigrateApp(ctx context.Context, fsys fs.FS, table string) error {
	if table == "" || table == versionTable {
		return fmt.Errorf("migrate app: the app's migrations need a version table of their own")
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("migrate app: %w", err)
	}
	db := stdlib.OpenDBFromPool(s.pool)
	defer db.Close() // leaves the pool open
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys,
		goose.WithSessionLocker(locker),
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

// DB is a database/sql handle on the store's pool, for an app's own tables
// beside tokengate's (created by MigrateApp). Closing it leaves the pool
// open.
func (s *Store) DB() *sql.DB { return stdlib.OpenDBFromPool(s.pool) }
