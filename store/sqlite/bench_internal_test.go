package sqlite

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
)

// BenchmarkRotateSession rotates sessions of a file database, with the
// writer syncing the WAL at every commit (FULL, what the store does) and
// without (NORMAL), to measure what the durable commit costs a refresh.
// Each iteration rotates the next of 1,000 sessions, as many clients would.
func BenchmarkRotateSession(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("synchronous="+sync, func(b *testing.B) {
			o := defaultOptions()
			o.synchronous = sync
			s := openWith(b, filepath.Join(b.TempDir(), "bench.db"), o)
			ctx := b.Context()
			base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			u := auth.User{ID: "u", Email: "u@example.test", Name: "U", PasswordHash: []byte("h"), CreatedAt: base}
			if err := s.CreateUser(ctx, u); err != nil {
				b.Fatal(err)
			}
			const n = 1000
			gens := make([]int64, n)
			for i := range n {
				sess := auth.Session{ID: fmt.Sprint("s", i), UserID: u.ID, Generation: 1, CreatedAt: base, LastUsedAt: base,
					RotatedAt: base, ExpiresAt: base.Add(24 * time.Hour), MaxExpiresAt: base.Add(48 * time.Hour)}
				if err := s.CreateSession(ctx, sess, 0); err != nil {
					b.Fatal(err)
				}
				gens[i] = 1
			}
			for i := 0; b.Loop(); i++ {
				k := i % n
				now := base.Add(time.Duration(i) * time.Millisecond)
				_, ok, err := s.RotateSession(ctx, auth.Rotation{SessionID: fmt.Sprint("s", k), UserID: u.ID,
					Generation: gens[k], Now: now, ExpiresAt: now.Add(24 * time.Hour)})
				if err != nil || !ok {
					b.Fatalf("RotateSession: ok %v, err %v", ok, err)
				}
				gens[k]++
			}
		})
	}
}
