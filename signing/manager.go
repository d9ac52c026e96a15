package signing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/token"
)

// ReloadInterval is the longest an instance goes without reading the
// schedule from the store: a rotation or retirement made elsewhere reaches
// it within this bound even when no notification does.
const ReloadInterval = time.Minute

// Installer receives each moment's keys; *token.Codec is one.
type Installer interface {
	SetAccessKeys(token.AccessKeys) error
}

// Config is what a Manager needs.
type Config struct {
	Store auth.KeyStore
	// Codec gets the keys; nil for the operator commands, which only
	// change the schedule.
	Codec Installer
	// Alg is ACCESS_TOKEN_ALG for new keys; existing keys keep theirs.
	Alg string
	// KEK is KEY_ENCRYPTION_KEY.
	KEK      []byte
	Schedule Schedule
	Now      auth.Clock
	Log      *slog.Logger
}

// Manager runs one instance's side of the key schedule.
type Manager struct {
	cfg    Config
	sealer *sealer
	// mu serialises Refresh, so two reloads never install out of order.
	mu        sync.Mutex
	installed string
	boundary  time.Time
}

// New checks cfg and returns a Manager.
func New(cfg Config) (*Manager, error) {
	switch cfg.Alg {
	case token.ES256, token.EdDSA, token.RS256:
	default:
		return nil, fmt.Errorf("ACCESS_TOKEN_ALG: %q has no signing keys", cfg.Alg)
	}
	if cfg.Store == nil || cfg.Now == nil {
		return nil, errors.New("signing: Store and Now are required")
	}
	if cfg.Schedule.Rotation <= 0 || cfg.Schedule.Overlap < 0 || cfg.Schedule.KeepPrevious <= 0 {
		return nil, errors.New("signing: the schedule's durations must be positive")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s, err := newSealer(cfg.KEK)
	if err != nil {
		return nil, err
	}
	return &Manager{cfg: cfg, sealer: s}, nil
}

// Statuses returns every stored key with its state now.
func (m *Manager) Statuses(ctx context.Context) ([]Status, error) {
	keys, err := m.cfg.Store.SigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("read signing keys: %w", err)
	}
	return m.cfg.Schedule.States(keys, m.cfg.Now()), nil
}

// Refresh brings the schedule up to date and installs its keys: it creates
// the first current and next keys on a fresh store, and a new next key
// once the next one has started to sign, under the store's lock; then it
// reads the keys and hands the published ones to the codec. A private key
// that does not open under the KEK is ErrWrongKEK, and nothing is
// installed.
func (m *Manager) Refresh(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys, err := m.cfg.Store.SigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("read signing keys: %w", err)
	}
	if err := m.checkKEK(keys); err != nil {
		return err
	}
	if m.needsStep(keys, m.cfg.Now()) {
		// Decided again under the lock: another instance may have done it.
		if err := m.cfg.Store.ChangeSigningKeys(ctx, func(keys []auth.SigningKey) (auth.KeyChanges, error) {
			if err := m.checkKEK(keys); err != nil {
				return auth.KeyChanges{}, err
			}
			return m.ensure(keys, m.cfg.Now())
		}); err != nil {
			return fmt.Errorf("update signing keys: %w", err)
		}
		if keys, err = m.cfg.Store.SigningKeys(ctx); err != nil {
			return fmt.Errorf("read signing keys: %w", err)
		}
	}
	return m.install(keys)
}

// install hands the published keys to the codec, unless they are the ones
// already installed (a new set starts with an empty token cache).
func (m *Manager) install(keys []auth.SigningKey) error {
	states := m.cfg.Schedule.States(keys, m.cfg.Now())
	m.boundary = Boundary(states)
	current, ok := find(states, Current)
	if !ok {
		return errors.New("signing keys: the store has no current key")
	}
	var ids []string
	var set token.AccessKeys
	for _, st := range states {
		if !st.State.Published() {
			continue
		}
		pk, err := publicKey(st.Key)
		if err != nil {
			return err
		}
		set.Published = append(set.Published, pk)
		ids = append(ids, st.Key.ID)
	}
	fingerprint := current.ID + "|" + strings.Join(ids, ",")
	if fingerprint == m.installed || m.cfg.Codec == nil {
		return nil
	}
	signer, err := m.sealer.privateKey(current)
	if err != nil {
		return err
	}
	set.Signer = signer
	if err := m.cfg.Codec.SetAccessKeys(set); err != nil {
		return err
	}
	m.installed = fingerprint
	m.cfg.Log.Info("signing keys installed", "signing_kid", current.ID, "published", len(ids))
	return nil
}

// needsStep reports whether ensure would change anything, without making
// the keys it would: a current and a next key exist.
func (m *Manager) needsStep(keys []auth.SigningKey, now time.Time) bool {
	states := m.cfg.Schedule.States(keys, now)
	_, current := find(states, Current)
	_, next := find(states, Next)
	return !current || !next
}

// checkKEK opens the newest stored key, so that a wrong KEK stops
// everything before a key sealed under it joins the others.
func (m *Manager) checkKEK(keys []auth.SigningKey) error {
	if len(keys) == 0 {
		return nil
	}
	newest := slices.MaxFunc(keys, func(a, b auth.SigningKey) int { return a.CreatedAt.Compare(b.CreatedAt) })
	_, err := m.sealer.privateKey(newest)
	return err
}

// ensure is the schedule's own step: a current key and a next key exist.
func (m *Manager) ensure(keys []auth.SigningKey, now time.Time) (auth.KeyChanges, error) {
	var ch auth.KeyChanges
	states := m.cfg.Schedule.States(keys, now)
	if _, ok := find(states, Current); !ok {
		step, err := m.activateNext(states, now)
		if err != nil {
			return ch, err
		}
		ch = merge(ch, step)
		states = m.cfg.Schedule.States(apply(keys, ch), now)
	}
	if _, ok := find(states, Next); !ok {
		current, _ := find(states, Current)
		at := current.ActivatesAt.Add(m.cfg.Schedule.Rotation)
		if earliest := now.Add(m.cfg.Schedule.Overlap); at.Before(earliest) {
			at = earliest
		}
		k, err := m.sealer.newKey(m.cfg.Alg, now, at)
		if err != nil {
			return ch, err
		}
		ch.Insert = append(ch.Insert, k)
	}
	return ch, nil
}

// activateNext makes the next key sign from now, or a new key if there is
// none.
func (m *Manager) activateNext(states []Status, now time.Time) (auth.KeyChanges, error) {
	if next, ok := find(states, Next); ok {
		return auth.KeyChanges{Activate: map[string]time.Time{next.ID: now}}, nil
	}
	k, err := m.sealer.newKey(m.cfg.Alg, now, now)
	if err != nil {
		return auth.KeyChanges{}, err
	}
	return auth.KeyChanges{Insert: []auth.SigningKey{k}}, nil
}

// Rotate makes the next key current at once and creates a new next key;
// the current key becomes previous, and an older previous key is retired.
// It returns the new current key's id.
func (m *Manager) Rotate(ctx context.Context) (string, error) {
	var kid string
	err := m.cfg.Store.ChangeSigningKeys(ctx, func(keys []auth.SigningKey) (auth.KeyChanges, error) {
		if err := m.checkKEK(keys); err != nil {
			return auth.KeyChanges{}, err
		}
		now := m.cfg.Now()
		ch, err := m.activateNext(m.cfg.Schedule.States(keys, now), now)
		if err != nil {
			return ch, err
		}
		for id := range ch.Activate {
			kid = id
		}
		for _, k := range ch.Insert {
			kid = k.ID
		}
		more, err := m.ensure(apply(keys, ch), now)
		return merge(ch, more), err
	})
	if err != nil {
		return "", fmt.Errorf("rotate signing keys: %w", err)
	}
	return kid, nil
}

// ErrUnknownKey is returned by Retire for a kid that is not stored or is
// already retired.
var ErrUnknownKey = errors.New("no such signing key, or it is already retired")

// Retire takes a key out of the set at once. A retired current key is
// replaced by the next one at once, a retired next key by a new one.
func (m *Manager) Retire(ctx context.Context, kid string) error {
	err := m.cfg.Store.ChangeSigningKeys(ctx, func(keys []auth.SigningKey) (auth.KeyChanges, error) {
		if err := m.checkKEK(keys); err != nil {
			return auth.KeyChanges{}, err
		}
		now := m.cfg.Now()
		states := m.cfg.Schedule.States(keys, now)
		i := slices.IndexFunc(states, func(st Status) bool { return st.Key.ID == kid })
		if i < 0 || states[i].State == Retired {
			return auth.KeyChanges{}, ErrUnknownKey
		}
		ch := auth.KeyChanges{Retire: map[string]time.Time{kid: now}}
		if states[i].State == Current {
			// The next key takes over, rather than the previous one
			// signing again.
			step, err := m.activateNext(m.cfg.Schedule.States(apply(keys, ch), now), now)
			if err != nil {
				return ch, err
			}
			ch = merge(ch, step)
		}
		more, err := m.ensure(apply(keys, ch), now)
		return merge(ch, more), err
	})
	if err != nil {
		return fmt.Errorf("retire signing key %s: %w", kid, err)
	}
	return nil
}

// Run refreshes the schedule until ctx ends: every ReloadInterval, at each
// moment the schedule changes by itself, and whenever the store says
// another instance or an operator command changed it.
func (m *Manager) Run(ctx context.Context) {
	changed := make(chan struct{}, 1)
	if w, ok := m.cfg.Store.(auth.KeyWatcher); ok {
		go m.watch(ctx, w, changed)
	}
	timer := time.NewTimer(m.wait())
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-changed:
		}
		if err := m.Refresh(ctx); err != nil && ctx.Err() == nil {
			m.cfg.Log.Warn("refreshing signing keys failed; keeping the keys installed", "err", err)
		}
		timer.Reset(m.wait())
	}
}

// wait is how long until the next refresh.
func (m *Manager) wait() time.Duration {
	m.mu.Lock()
	b := m.boundary
	m.mu.Unlock()
	d := ReloadInterval
	if !b.IsZero() {
		// A second late, so the boundary has passed when it runs.
		d = min(d, max(0, b.Sub(m.cfg.Now()))+time.Second)
	}
	return d
}

// watch listens for changes, listening again after a failure.
func (m *Manager) watch(ctx context.Context, w auth.KeyWatcher, changed chan<- struct{}) {
	for ctx.Err() == nil {
		err := w.WatchSigningKeys(ctx, func() {
			select {
			case changed <- struct{}{}:
			default:
			}
		})
		if ctx.Err() != nil {
			return
		}
		m.cfg.Log.Warn("listening for signing-key changes failed; polling meanwhile", "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(5 * time.Second):
		}
	}
}
