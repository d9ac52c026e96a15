package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/tokengate/tokengate/auth"
	"github.com/tokengate/tokengate/config"
	"github.com/tokengate/tokengate/signing"
	"github.com/tokengate/tokengate/token"
)

const keysUsage = "tokengate keys [rotate | retire KID]"

var keysCommand = command{
	usage: keysUsage,
	help: "List the access-token signing keys with their states and times (no private material); " +
		"rotate: make the next key current at once; retire KID: take a key out of the set at once (its tokens fail on every instance within a minute).",
	run: keys,
}

// newCodec builds the token codec the configuration asks for. With an
// asymmetric ACCESS_TOKEN_ALG it also returns the key manager, after it
// has brought the schedule up to date and installed the keys: a wrong
// KEY_ENCRYPTION_KEY stops start-up here, before anything is signed.
func newCodec(ctx context.Context, cfg *config.Config, st auth.Store, log *slog.Logger) (*token.Codec, *signing.Manager, error) {
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
		Now:            time.Now,
	})
	if !cfg.Asymmetric() {
		return codec, nil, nil
	}
	m, err := newKeyManager(cfg, st, codec, log)
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

// newKeyManager resolves KEY_ENCRYPTION_KEY and returns the key manager;
// codec is nil for the operator commands.
func newKeyManager(cfg *config.Config, st auth.Store, codec signing.Installer, log *slog.Logger) (*signing.Manager, error) {
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
	return signing.New(signing.Config{
		Store: ks, Codec: codec, Alg: cfg.AccessTokenAlg, KEK: cfg.KeyEncryptionKey,
		Schedule: signing.Schedule{
			Rotation:     cfg.SigningKeyRotation,
			Overlap:      cfg.SigningKeyOverlap,
			KeepPrevious: cfg.KeepPreviousKey(),
		},
		Now: time.Now, Log: log,
	})
}

// keys is `tokengate keys`, `tokengate keys rotate` and `tokengate keys
// retire KID`. Running servers see a change at once on PostgreSQL (NOTIFY)
// and within a minute otherwise.
func keys(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error {
	if !cfg.Asymmetric() {
		return errors.New("ACCESS_TOKEN_ALG is HS256: access tokens are signed with ACCESS_TOKEN_SECRET, and there are no signing keys to list or rotate")
	}
	args := cfg.Args
	switch {
	case len(args) == 0, len(args) == 1 && args[0] == "rotate", len(args) == 2 && args[0] == "retire":
	default:
		return errors.New("usage: " + keysUsage)
	}
	if _, _, err := cfg.ResolveSecrets(); err != nil {
		return fmt.Errorf("token secrets: %w", err)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("open %s store: %w", cfg.Database, err)
	}
	defer st.Close()
	m, err := newKeyManager(&cfg, st, nil, newLogger(cfg, stderr))
	if err != nil {
		return err
	}
	switch {
	case len(args) == 1:
		kid, err := m.Rotate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "rotated: %s signs from now on\n", kid)
	case len(args) == 2:
		if err := m.Retire(ctx, args[1]); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "retired %s: removed from the published keys; its tokens are refused\n", args[1])
	}
	list, err := m.Statuses(ctx)
	if err != nil {
		return err
	}
	return writeKeys(stdout, list)
}

// writeKeys lists the keys, newest first: ids, algorithms, states and
// times, never key material.
func writeKeys(w io.Writer, list []signing.Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tSIGNS FROM\tUNTIL\tRETIRED")
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Key.ID, s.Key.Alg, s.State,
			at(s.Key.CreatedAt), at(s.Key.ActivatesAt), at(s.Until), at(s.Key.RetiredAt))
	}
	return tw.Flush()
}
