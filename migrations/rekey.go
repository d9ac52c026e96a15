package migrations

import (
	"context"
	"database/sql"
	"fmt"
	"sort"
	"strings"

	"github.com/pressly/goose/v3"
)

// EmailRekeyVersion is the number of the Go migration that recomputes
// users.email_key.
const EmailRekeyVersion = 4

// Placeholder styles of the two dialects, for EmailRekey.
const (
	SQLitePlaceholder   = "?"
	PostgresPlaceholder = "$"
)

// EmailRekey returns migration 00004: it recomputes every user's email_key
// with key (the store passes auth.EmailKey), since the key rules grew from
// lower-casing to NFKC, full case folding and IDNA domains. Two accounts
// whose addresses now have one key are never merged silently: the
// migration fails, naming their user ids (never their addresses), and
// changes nothing; the operator resolves them (docs/recovery.md) and starts
// again. It is a Go migration because the key is Go code, and it runs in
// one transaction like the SQL ones. placeholder is SQLitePlaceholder or
// PostgresPlaceholder.
func EmailRekey(placeholder string, key func(email string) string) *goose.Migration {
	return goose.NewGoMigration(EmailRekeyVersion, &goose.GoFunc{
		RunTx: func(ctx context.Context, tx *sql.Tx) error { return rekey(ctx, tx, placeholder, key) },
	}, nil)
}

type rekeyRow struct{ id, email, oldKey, newKey string }

func rekey(ctx context.Context, tx *sql.Tx, placeholder string, key func(string) string) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, email, email_key FROM users ORDER BY created_at, id`)
	if err != nil {
		return fmt.Errorf("rekey e-mails: %w", err)
	}
	var all []rekeyRow
	byKey := map[string][]string{}
	for rows.Next() {
		var r rekeyRow
		if err := rows.Scan(&r.id, &r.email, &r.oldKey); err != nil {
			rows.Close()
			return fmt.Errorf("rekey e-mails: %w", err)
		}
		r.newKey = key(r.email)
		all = append(all, r)
		byKey[r.newKey] = append(byKey[r.newKey], r.id)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("rekey e-mails: %w", err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("rekey e-mails: %w", err)
	}
	var clashes []string
	for _, ids := range byKey {
		if len(ids) > 1 {
			clashes = append(clashes, "["+strings.Join(ids, " ")+"]")
		}
	}
	if len(clashes) > 0 {
		sort.Strings(clashes)
		return fmt.Errorf("rekey e-mails: %d groups of accounts now share one e-mail key and would become one account; "+
			"nothing was changed. Resolve each group (delete or change the address of all but one; see docs/recovery.md) "+
			"and start again. User ids: %s", len(clashes), strings.Join(clashes, ", "))
	}
	p := func(n int) string {
		if placeholder == PostgresPlaceholder {
			return fmt.Sprintf("$%d", n)
		}
		return fmt.Sprintf("?%d", n)
	}
	update := `UPDATE users SET email_key = ` + p(1) + ` WHERE id = ` + p(2)
	// Two passes: a row's new key may be another row's old one, which the
	// unique constraint would refuse until that row has moved. No key ever
	// starts with a space (addresses are trimmed), so the parking keys are
	// free.
	for _, r := range all {
		if r.newKey != r.oldKey {
			if _, err := tx.ExecContext(ctx, update, " rekey "+r.id, r.id); err != nil {
				return fmt.Errorf("rekey e-mails: %w", err)
			}
		}
	}
	for _, r := range all {
		if r.newKey != r.oldKey {
			if _, err := tx.ExecContext(ctx, update, r.newKey, r.id); err != nil {
				return fmt.Errorf("rekey e-mails: %w", err)
			}
		}
	}
	return nil
}
