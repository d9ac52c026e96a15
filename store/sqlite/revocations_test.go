package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
)

// Deleting a user is recorded by the DELETE trigger, as in PostgreSQL.
func TestDeletedUserIsRecorded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tokengate.db")
	s := openStore(t, path)
	now := time.Now().UTC()
	if err := s.CreateUser(t.Context(), auth.User{ID: "u1", Email: "u1@example.test", Name: "U", PasswordHash: []byte("h"), CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(t.Context(), `DELETE FROM users WHERE id = 'u1'`); err != nil {
		t.Fatal(err)
	}
	var got []auth.Revocation
	if _, err := s.ReadRevocations(t.Context(), 0, time.Time{}, func(r auth.Revocation) { got = append(got, r) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].UserID != "u1" || got[0].MinVersion != auth.DeletedVersion {
		t.Fatalf("log after the deletion = %+v; want one user entry at DeletedVersion", got)
	}
	if d := time.Since(got[0].At); d < 0 || d > time.Minute {
		t.Errorf("the deletion is recorded at %v; want about now", got[0].At)
	}
}
