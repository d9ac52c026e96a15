// Package migrations holds the database schema of both stores as numbered,
// forward-only goose SQL migrations, embedded so the binary carries its own
// schema. Each file runs in one transaction.
//
// The two dialects describe the same tables. PostgreSQL keeps times as
// timestamptz; SQLite keeps them as INTEGER unix microseconds in UTC, so that
// comparisons against "now" are numeric and both stores round-trip a time
// at the same (microsecond) precision.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed postgres/*.sql sqlite/*.sql
var files embed.FS

// Postgres returns the PostgreSQL migrations, rooted so goose sees the files
// themselves.
func Postgres() fs.FS { return sub("postgres") }

// SQLite returns the SQLite migrations, rooted so goose sees the files
// themselves.
func SQLite() fs.FS { return sub("sqlite") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		// Only reachable if the embed pattern and dir disagree, which the
		// package's test catches.
		panic("migrations: " + err.Error())
	}
	return f
}
