package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/internal/pgtest"
	"github.com/tokengate/tokengate/store/storetest"
)

func TestKeysContract(t *testing.T) {
	pgtest.Require(t)
	storetest.RunKeys(t, func(t testing.TB) auth.KeyStore { return openStore(t, pgtest.URL(t)) })
}

// TestKeyChangesAreHeardThroughTheListenURL: a store whose key watch
// LISTENs through another URL (DATABASE_LISTEN_URL) is told of a change
// made through the pool.
func TestKeyChangesAreHeardThroughTheListenURL(t *testing.T) {
	pgtest.Require(t)
	url := pgtest.URL(t)
	st := openStore(t, url)
	if _, err := st.KeysListeningAt("mysql://nope"); err == nil {
		t.Fatal("a URL that is not PostgreSQL's was taken")
	}
	ks, err := st.KeysListeningAt(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := make(chan struct{}, 4)
	done := make(chan error, 1)
	go func() {
		done <- ks.(auth.KeyWatcher).WatchSigningKeys(ctx, func() { calls <- struct{}{} })
	}()
	<-calls // the first call, once listening
	now := time.Now().UTC()
	err = st.ChangeSigningKeys(ctx, func([]auth.SigningKey) (auth.KeyChanges, error) {
		return auth.KeyChanges{Insert: []auth.SigningKey{{ID: "heard-kid", Alg: "ES256", Public: []byte{1}, SealedPrivate: []byte{2}, CreatedAt: now, ActivatesAt: now}}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-calls:
	case err := <-done:
		t.Fatalf("the watch ended: %v", err)
	case <-time.After(10 * time.Second): // an external notification's delivery
		t.Fatal("no change heard through the listen URL")
	}
	cancel()
	<-done
}
