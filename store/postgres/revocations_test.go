package postgres_test

import (
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/pgtest"
)

// Deleting a user (deleteAccount; the store method belongs to another
// change) is recorded by the DELETE trigger, with the counter that refuses
// every token of the user; its sessions, deleted by the cascade, are not
// recorded one by one.
func TestDeletedUserIsRecorded(t *testing.T) {
	url := pgtest.URL(t)
	s := openStore(t, url)
	seed(t, s)
	conn := rawConn(t, url)
	if _, err := conn.Exec(t.Context(), `DELETE FROM users WHERE id = 'u1'`); err != nil {
		t.Fatal(err)
	}
	var got []auth.Revocation
	if _, err := s.ReadRevocations(t.Context(), 0, time.Time{}, func(r auth.Revocation) { got = append(got, r) }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].UserID != "u1" || got[0].SessionID != "" || got[0].MinVersion != auth.DeletedVersion {
		t.Fatalf("log after the deletion = %+v; want one user entry at DeletedVersion", got)
	}
	if revoked, err := s.AccessRevoked(t.Context(), "s1", 0); err != nil || !revoked {
		t.Errorf("AccessRevoked of a deleted user's session = %v, %v; want true", revoked, err)
	}
}
