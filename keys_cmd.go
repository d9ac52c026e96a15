package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/tokengate/tokengate/app"
	"github.com/tokengate/tokengate/config"
	"github.com/tokengate/tokengate/signing"
)

const keysUsage = "tokengate keys [rotate | retire KID]"

var keysCommand = command{
	usage: keysUsage,
	help: "List the access-token signing keys with their states and times (no private material); " +
		"rotate: make the next key current at once; retire KID: take a key out of the set at once (its tokens fail on every instance within a minute).",
	run: keys,
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
	st, err := app.OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	m, err := app.NewKeyManager(&cfg, st, nil, app.NewLogger(cfg, stderr))
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
