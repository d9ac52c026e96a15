package postgres

import (
	"strings"
	"testing"

	"github.com/tokengate/tokengate/internal/pgtest"
)

// The pool's size is DATABASE_MAX_CONNS when set, else the URL's
// pool_max_conns, else DefaultMaxConns, never pgxpool's max(4, CPUs).
func TestPoolSize(t *testing.T) {
	url := pgtest.URL(t)
	sep := " " // keyword/value
	switch {
	case strings.Contains(url, "?"):
		sep = "&"
	case strings.Contains(url, "://"):
		sep = "?"
	}
	for _, tc := range []struct {
		name     string
		url      string
		maxConns int
		want     int32
	}{
		{"the default", url, 0, DefaultMaxConns},
		{"the URL's pool_max_conns", url + sep + "pool_max_conns=3", 0, 3},
		{"DATABASE_MAX_CONNS over the URL's", url + sep + "pool_max_conns=3", 5, 5},
		{"DATABASE_MAX_CONNS", url, 40, 40},
	} {
		s, err := OpenMaxConns(t.Context(), tc.url, tc.maxConns)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := s.pool.Config().MaxConns; got != tc.want {
			t.Errorf("%s: MaxConns = %d, want %d", tc.name, got, tc.want)
		}
		s.Close()
	}
}
