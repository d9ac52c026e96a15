package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tokengate/tokengate/auth"
)

// RunKeys runs the contract suite of auth.KeyStore. open must return a
// fresh, empty, migrated store, as for Run.
func RunKeys(t *testing.T, open func(t testing.TB) auth.KeyStore) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, s auth.KeyStore)
	}{
		{"a fresh store has no signing keys", testNoKeys},
		{"ChangeSigningKeys inserts keys that SigningKeys returns whole, oldest activation first", testKeysRoundTrip},
		{"ChangeSigningKeys activates and retires keys by id", testKeysActivateRetire},
		{"ChangeSigningKeys writes nothing when decide fails", testKeysDecideFails},
		{"ChangeSigningKeys writes nothing of a change naming an unknown key", testKeysUnknownID},
		{"ChangeSigningKeys steps run one at a time: racing creators make one key", testKeysRace},
		{"WatchSigningKeys reports every change once listening", testKeysWatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open(t))
		})
	}
}

func signingKey(id string, activates time.Time) auth.SigningKey {
	return auth.SigningKey{
		ID: id, Alg: "ES256",
		// Every byte value, so a store that treats these as text fails.
		Public:        append([]byte{0, 0xff, '\'', '"'}, id...),
		SealedPrivate: append([]byte{1, 0, 0x80, 0xfe}, id...),
		CreatedAt:     Base.Add(-time.Hour + 123456789*time.Nanosecond),
		ActivatesAt:   activates,
	}
}

func insert(keys ...auth.SigningKey) func([]auth.SigningKey) (auth.KeyChanges, error) {
	return func([]auth.SigningKey) (auth.KeyChanges, error) { return auth.KeyChanges{Insert: keys}, nil }
}

func mustKeys(t testing.TB, s auth.KeyStore) []auth.SigningKey {
	t.Helper()
	keys, err := s.SigningKeys(t.Context())
	if err != nil {
		t.Fatalf("SigningKeys: %v", err)
	}
	return keys
}

func equalKey(t testing.TB, got, want auth.SigningKey) {
	t.Helper()
	trunc := func(x time.Time) time.Time { return x.Truncate(time.Microsecond) }
	if got.ID != want.ID || got.Alg != want.Alg || !bytes.Equal(got.Public, want.Public) || !bytes.Equal(got.SealedPrivate, want.SealedPrivate) ||
		!got.CreatedAt.Equal(trunc(want.CreatedAt)) || !got.ActivatesAt.Equal(trunc(want.ActivatesAt)) || !got.RetiredAt.Equal(trunc(want.RetiredAt)) {
		t.Errorf("key = %+v\nwant %+v", got, want)
	}
	for _, at := range []time.Time{got.CreatedAt, got.ActivatesAt, got.RetiredAt} {
		if at.Location() != time.UTC {
			t.Errorf("time %v not in UTC", at)
		}
	}
}

func testNoKeys(t *testing.T, s auth.KeyStore) {
	if keys := mustKeys(t, s); len(keys) != 0 {
		t.Fatalf("keys = %v", keys)
	}
}

func testKeysRoundTrip(t *testing.T, s auth.KeyStore) {
	later := signingKey("later", Base.Add(24*time.Hour))
	now := signingKey("now", Base)
	if err := s.ChangeSigningKeys(t.Context(), insert(later, now)); err != nil {
		t.Fatal(err)
	}
	keys := mustKeys(t, s)
	if len(keys) != 2 {
		t.Fatalf("got %d keys", len(keys))
	}
	equalKey(t, keys[0], now)
	equalKey(t, keys[1], later)
	// decide sees what the store holds.
	var seen []auth.SigningKey
	if err := s.ChangeSigningKeys(t.Context(), func(k []auth.SigningKey) (auth.KeyChanges, error) {
		seen = k
		return auth.KeyChanges{}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0].ID != "now" || seen[1].ID != "later" {
		t.Fatalf("decide saw %v", seen)
	}
}

func testKeysActivateRetire(t *testing.T, s auth.KeyStore) {
	a, b := signingKey("a", Base), signingKey("b", Base.Add(time.Hour))
	if err := s.ChangeSigningKeys(t.Context(), insert(a, b)); err != nil {
		t.Fatal(err)
	}
	activated, retired := Base.Add(time.Minute+time.Microsecond), Base.Add(2*time.Minute)
	if err := s.ChangeSigningKeys(t.Context(), func([]auth.SigningKey) (auth.KeyChanges, error) {
		return auth.KeyChanges{Activate: map[string]time.Time{"b": activated}, Retire: map[string]time.Time{"a": retired}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	a.RetiredAt, b.ActivatesAt = retired, activated
	keys := mustKeys(t, s)
	if len(keys) != 2 {
		t.Fatalf("got %d keys", len(keys))
	}
	equalKey(t, keys[0], a)
	equalKey(t, keys[1], b)
}

func testKeysDecideFails(t *testing.T, s auth.KeyStore) {
	boom := errors.New("boom")
	err := s.ChangeSigningKeys(t.Context(), func([]auth.SigningKey) (auth.KeyChanges, error) {
		return auth.KeyChanges{Insert: []auth.SigningKey{signingKey("x", Base)}}, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want decide's", err)
	}
	testNoKeys(t, s)
}

func testKeysUnknownID(t *testing.T, s auth.KeyStore) {
	err := s.ChangeSigningKeys(t.Context(), func([]auth.SigningKey) (auth.KeyChanges, error) {
		return auth.KeyChanges{Insert: []auth.SigningKey{signingKey("x", Base)}, Retire: map[string]time.Time{"nope": Base}}, nil
	})
	wantErr(t, "retire unknown key", err, auth.ErrNotFound)
	testNoKeys(t, s)
}

func testKeysRace(t *testing.T, s auth.KeyStore) {
	const racers = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, racers)
	for i := range racers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs <- s.ChangeSigningKeys(t.Context(), func(keys []auth.SigningKey) (auth.KeyChanges, error) {
				if len(keys) > 0 {
					return auth.KeyChanges{}, nil
				}
				return auth.KeyChanges{Insert: []auth.SigningKey{signingKey(fmt.Sprint("racer-", i), Base)}}, nil
			})
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("ChangeSigningKeys: %v", err)
		}
	}
	if keys := mustKeys(t, s); len(keys) != 1 {
		t.Fatalf("%d racers made %d keys, want 1", racers, len(keys))
	}
}

func testKeysWatch(t *testing.T, s auth.KeyStore) {
	w, ok := s.(auth.KeyWatcher)
	if !ok {
		t.Skip("this store has no notifications; instances reload every minute")
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	calls := make(chan struct{}, 16)
	done := make(chan error, 1)
	go func() { done <- w.WatchSigningKeys(ctx, func() { calls <- struct{}{} }) }()
	wait := func(what string) {
		t.Helper()
		select {
		case <-calls:
		case err := <-done:
			t.Fatalf("%s: WatchSigningKeys returned %v", what, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no call within 10s", what)
		}
	}
	wait("the first call, once listening")
	if err := s.ChangeSigningKeys(t.Context(), insert(signingKey("k", Base))); err != nil {
		t.Fatal(err)
	}
	wait("after a change")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("WatchSigningKeys = %v, want context.Canceled", err)
	}
}
