// Package pgtest gives a test its own PostgreSQL database: created fresh on
// the server named by TOKENGATE_TEST_DATABASE_URL, dropped when the test
// ends. Tests never share rows, so they can run in parallel and a failure
// cannot be caused by another test's leftovers.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable holding an admin connection string (URL or
// keyword/value form) for a server the tests may create databases on.
// `make test` sets it to a throwaway cluster (scripts/with-postgres.sh).
const EnvURL = "TOKENGATE_TEST_DATABASE_URL"

// SkipMessage is what a test says when no server is configured.
const SkipMessage = "PostgreSQL tests skipped: " + EnvURL + " is not set; run `make test` to get a throwaway PostgreSQL"

// adminTimeout bounds creating and dropping a database, so a server that
// stopped answering fails the test instead of hanging it.
const adminTimeout = 30 * time.Second

// URL creates a fresh, uniquely named database and returns a connection
// string for it; the database is dropped (WITH (FORCE), so open
// connections do not keep it alive) in t.Cleanup.
//
// Without EnvURL the test is skipped, or failed under CI; see Require.
func URL(t testing.TB) string {
	t.Helper()
	Require(t)
	admin := os.Getenv(EnvURL)

	name := "tokengate_test_" + randomSuffix(t)
	if err := createDatabase(admin, name); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(admin, name); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return u
}

// Require skips the test when EnvURL is not set, or fails it under CI
// (CI=true), where a missing database must fail the build rather than pass
// it silently. A suite calls it once up front to skip as a whole.
func Require(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvURL) != "" {
		return
	}
	if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
		t.Fatal("PostgreSQL tests cannot run: " + EnvURL + " is not set and CI=true; run them through `make test`, which starts a throwaway PostgreSQL")
	}
	t.Skip(SkipMessage)
}

func randomSuffix(t testing.TB) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("pgtest: random name: %v", err)
	}
	return hex.EncodeToString(b)
}

// connect opens an admin connection. CREATE and DROP DATABASE cannot run
// inside a transaction, which a plain Exec on a connection is not.
func connect(ctx context.Context, admin string) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", EnvURL, err)
	}
	return conn, nil
}

// withAdmin runs fn on a short-lived admin connection, bounded by
// adminTimeout.
func withAdmin(admin string, fn func(ctx context.Context, conn *pgx.Conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	conn, err := connect(ctx, admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return fn(ctx, conn)
}

func createDatabase(admin, name string) error {
	return withAdmin(admin, func(ctx context.Context, conn *pgx.Conn) error {
		// PostgreSQL 15's default strategy WAL-logs the whole template,
		// several times slower than copying files. Copying costs
		// checkpoints instead, which are free when fsync is off, as on the
		// throwaway test cluster.
		var fileCopy bool
		if err := conn.QueryRow(ctx, `SELECT current_setting('server_version_num')::int >= 150000
			AND current_setting('fsync') = 'off'`).Scan(&fileCopy); err != nil {
			return err
		}
		stmt := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
		if fileCopy {
			stmt += " STRATEGY = FILE_COPY"
		}
		_, err := conn.Exec(ctx, stmt)
		return err
	})
}

func dropDatabase(admin, name string) error {
	return withAdmin(admin, func(ctx context.Context, conn *pgx.Conn) error {
		// FORCE ends connections a test left open (a pool not yet closed, a
		// store under fault injection) instead of failing on them.
		_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		return err
	})
}

// withDatabase points the admin connection string at database name,
// keeping every other setting (host, port, user, sslmode...).
func withDatabase(admin, name string) (string, error) {
	if strings.HasPrefix(admin, "postgres://") || strings.HasPrefix(admin, "postgresql://") {
		u, err := url.Parse(admin)
		if err != nil {
			return "", fmt.Errorf("parse %s: %w", EnvURL, err)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// Keyword/value form: a later keyword overrides an earlier one.
	return admin + " dbname=" + name, nil
}
