package postgres

import (
	"context"
	"testing"
	"time"
)

// A rotation changes no indexed column (migration 00006), so PostgreSQL
// makes it a heap-only update: no new index entries, and the old row
// version is pruned from its page in passing. An index on anything a
// rotation writes (expires_at was one) turns every rotation into a full
// update again; this test catches that.
func TestRotationIsAHeapOnlyUpdate(t *testing.T) {
	s, _ := openDurable(t)
	r := seedSession(t, s)
	tx, err := s.pool.Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.WithoutCancel(t.Context()))
	const rotations = 5
	for i := range rotations {
		r.Now = r.Now.Add(time.Hour)
		r.ExpiresAt = r.Now.Add(24 * time.Hour)
		tag, err := tx.Exec(t.Context(), rotateSQL,
			ts(r.Now), ts(r.ExpiresAt), "agent", "192.0.2.1", r.SessionID, r.UserID, r.Generation, r.TokenVersion, s.durableCommit)
		if err != nil || tag.RowsAffected() != 1 {
			t.Fatalf("rotation %d: %v, %d rows", i+1, err, tag.RowsAffected())
		}
		r.Generation++
	}
	var updated, hot int64
	if err := tx.QueryRow(t.Context(), `
		SELECT pg_stat_get_xact_tuples_updated('sessions'::regclass),
		       pg_stat_get_xact_tuples_hot_updated('sessions'::regclass)`).Scan(&updated, &hot); err != nil {
		t.Fatal(err)
	}
	if updated != rotations || hot != rotations {
		t.Errorf("%d rotations: %d updates, %d of them heap-only; want every one heap-only", rotations, updated, hot)
	}
}
