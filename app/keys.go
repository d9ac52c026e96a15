package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/config"
	"github.com/tokengate/tokengate/signing"
	"github.com/tokengate/tokengate/store/postgres"
	"github.com/tokengate/tokengate/token"
)

// newCodec builds the token codec the configuration asks for. With an
// asymmetric ACCESS_TOKEN_ALG it also returns the key manager, after it
// has brought the schedule up to date and installed the keys: a wrong
// KEY_ENCRYPTION_KEY stops start-up here, before anything is signed.
func newCodec(ctx context.Context, cfg *config.Config, st auth.Store, now auth.Clock, log *slog.Logger) (*token.Codec, *signing.Manager, error) {
	refresh := make([][]byte, len(cfg.OldRefreshTokenSecrets))
	for i, s := range cfg.OldRefreshTokenSecrets {
		refresh[i] = s
	}
	leeway := cfg.TokenClockLeeway
	if leeway == 0 {
		leeway = token.NoLeeway
	}
	codec := token.New(token.Config{
		AccessAlg:      cfg.AccessTokenAlg,
		AccessSecret:   cfg.AccessTokenSecret,
		RefreshSecret:  cfg.RefreshTokenSecret,
		RefreshSecrets: refresh,
		Issuer:         cfg.TokenIssuer,
		Audience:       cfg.TokenAudience,
		AccessTTL:      cfg.AccessTokenTTL,
		Leeway:         leeway,
		Now:            now,
	})
	if !cfg.Asymmetric() {
		return codec, nil, nil
	}
	m, err := newKeyManager(cfg, st, codec, now, log)
	if err != nil {
		return nil, nil, err
	}
	if err := m.Refresh(ctx); err != nil {
		if errors.Is(err, signing.ErrWrongKEK) {
			return nil, nil, signing.ErrWrongKEK
		}
		return nil, nil, fmt.Errorf("signing keys: %w", err)
	}
	return codec, m, nil
}

// NewKeyManager resolves KEY_ENCRYPTION_KEY and returns the manager of
// the access-token signing keys in st, for the operator commands (tokengate
// keys ...), which install keys in no codec.
func NewKeyManager(cfg *config.Config, st auth.Store, codec signing.Installer, log *slog.Logger) (*signing.Manager, error) {
	return newKeyManager(cfg, st, codec, time.Now, log)
}

func newKeyManager(cfg *config.Config, st auth.Store, codec signing.Installer, now auth.Clock, log *slog.Logger) (*signing.Manager, error) {
	file, created, err := cfg.ResolveKeyEncryptionKey()
	if err != nil {
		return nil, fmt.Errorf("KEY_ENCRYPTION_KEY: %w", err)
	}
	if created && file != "" {
		log.Warn("generated a new key encryption key; set KEY_ENCRYPTION_KEY in production", "kept_in", file)
	}
	ks, ok := st.(auth.KeyStore)
	if !ok {
		return nil, fmt.Errorf("the %T store keeps no signing keys", st)
	}
	if pg, isPG := st.(*postgres.Store); isPG && cfg.DatabaseListenURL != "" {
		// Key changes are announced like revocations, and heard on the
		// same direct connection's address.
		if ks, err = pg.KeysListeningAt(cfg.ListenURL()); err != nil {
			return nil, err
		}
	}
	return signing.New(signing.Config{
		Store: ks, Codec: codec, Alg: cfg.AccessTokenAlg, KEK: cfg.KeyEncryptionKey,
		Schedule: signing.Schedule{
			Rotation:     cfg.SigningKeyRotation,
			Overlap:      cfg.SigningKeyOverlap,
			KeepPrevious: cfg.KeepPreviousKey(),
		},
		Now: now, Log: log,
	})
}
