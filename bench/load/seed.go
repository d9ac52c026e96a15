package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/crypto/bcrypt"
)

// seedSQL inserts the users and sessions of ids.go in two statements,
// generated inside PostgreSQL: a million sessions take seconds, not the
// hours a million sign-ins would. Every user has the same bcrypt hash (of
// password, at the configured cost); sessions are live, at generation 1,
// last rotated an hour ago (outside any grace window) and expire in a week.
const seedSQL = `
INSERT INTO users (id, email, email_key, name, password_hash, token_version, created_at)
SELECT md5('u' || i)::uuid::text, 'user' || i || '@bench.example', 'user' || i || '@bench.example',
	'Bench User ' || i, $1::bytea, 0, now() - interval '1 day'
FROM generate_series(0, $2::int - 1) AS i;

INSERT INTO sessions (id, user_id, generation, created_at, last_used_at, rotated_at,
	expires_at, max_expires_at, revoked_at, user_agent, ip)
SELECT md5('s' || i)::uuid::text, md5('u' || (i % $2::int))::uuid::text, 1,
	now() - interval '1 hour', now() - interval '1 hour', now() - interval '1 hour',
	now() + interval '7 days', now() + interval '29 days', NULL, 'tokengate-bench', '127.0.0.1'
FROM generate_series(0, $3::int - 1) AS i;
`

func cmdSeed(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	db := fs.String("db", "", "URL of the (migrated, empty) database to seed")
	users := fs.Int("users", 1000, "number of users")
	sessions := fs.Int("sessions", 1000, "number of sessions, session i belonging to user i % users")
	cost := fs.Int("cost", 12, "bcrypt cost of the users' password hash (tokengate's BCRYPT_COST)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *db == "" || *users < 1 || *sessions < *users {
		return errors.New("-db is required, and -sessions must be at least -users (every user has a session)")
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), *cost)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, *db)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	start := time.Now()
	// Two statements in one call need the simple protocol, which takes no
	// parameters; they are numbers and a hex literal, so they are
	// formatted in.
	sql := strings.NewReplacer(
		"$1::bytea", fmt.Sprintf(`'\x%x'::bytea`, hash),
		"$2::int", fmt.Sprint(*users),
		"$3::int", fmt.Sprint(*sessions),
	).Replace(seedSQL)
	if _, err := conn.Exec(ctx, "BEGIN; "+sql+" COMMIT;", pgx.QueryExecModeSimpleProtocol); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	// Fresh statistics, so the planner sees the seeded sizes at once.
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE users, sessions"); err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	fmt.Fprintf(os.Stderr, "load seed: %d users, %d sessions in %s\n", *users, *sessions, time.Since(start).Round(time.Millisecond))
	return nil
}

// cmdDB creates a database (from a template) or drops one, through an
// admin connection, and prints the new database's URL.
func cmdDB(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("db", flag.ContinueOnError)
	admin := fs.String("admin", os.Getenv("TOKENGATE_TEST_DATABASE_URL"), "admin URL (default $TOKENGATE_TEST_DATABASE_URL)")
	create := fs.String("create", "", "database to create; prints its URL")
	template := fs.String("template", "", "with -create: copy this database")
	drop := fs.String("drop", "", "database to drop (if it exists)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *admin == "" || (*create == "") == (*drop == "") {
		return errors.New("-admin and exactly one of -create and -drop are required")
	}
	conn, err := pgx.Connect(ctx, *admin)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if *drop != "" {
		_, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{*drop}.Sanitize()+" WITH (FORCE)")
		return err
	}
	stmt := "CREATE DATABASE " + pgx.Identifier{*create}.Sanitize()
	if *template != "" {
		stmt += " TEMPLATE " + pgx.Identifier{*template}.Sanitize()
		// A file copy is much faster than PostgreSQL 15's default WAL-logged
		// copy for a template of a million rows; older servers lack the
		// option and copy files anyway.
		if _, err := conn.Exec(ctx, stmt+" STRATEGY FILE_COPY"); err == nil {
			return printURL(*admin, *create)
		} else if !syntaxError(err) {
			return err
		}
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		return err
	}
	return printURL(*admin, *create)
}

func syntaxError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "42601" || pgErr.Code == "42704")
}

// printURL prints admin's URL with its database replaced by name.
func printURL(admin, name string) error {
	u, err := url.Parse(admin)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("the admin connection string must be a postgres:// URL")
	}
	u.Path = "/" + name
	fmt.Println(u.String())
	return nil
}
