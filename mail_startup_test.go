package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Zero setup: serve with the embedded default creates the mail outbox
// beside the database, private.
func TestServeCreatesTheOutboxBesideTheDatabase(t *testing.T) {
	dir := t.TempDir()
	p := start(t, env("ADDR", "127.0.0.1:0", "DATABASE_URL", "sqlite:"+filepath.Join(dir, "tokengate.db"), "BCRYPT_COST", "4"))
	info, err := os.Stat(filepath.Join(dir, "outbox"))
	if err != nil || !info.IsDir() || info.Mode().Perm() != 0o700 {
		t.Errorf("outbox folder: %v, %v; want a 0700 folder", info, err)
	}
	if err := p.shutdown(); err != nil {
		t.Fatal(err)
	}
}

func TestPostgresNeedsPublicURLAndSMTPURL(t *testing.T) {
	base := []string{"DATABASE_URL", "postgres://u:hunter2@127.0.0.1:1/db",
		"ACCESS_TOKEN_SECRET", strings.Repeat("a", 32), "REFRESH_TOKEN_SECRET", strings.Repeat("b", 32),
		"KEY_ENCRYPTION_KEY", strings.Repeat("k", 32)}
	for _, tc := range []struct {
		extra []string
		want  string
	}{
		{nil, "PUBLIC_URL: required with PostgreSQL"},
		{[]string{"PUBLIC_URL", "https://app.example"}, "SMTP_URL: required with PostgreSQL"},
	} {
		err := run(context.Background(), []string{"tokengate"}, env(append(base, tc.extra...)...), io.Discard, io.Discard)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("start-up error %v; want one starting %q", err, tc.want)
		}
	}
}
