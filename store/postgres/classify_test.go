package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"

	"github.com/tokengate/tokengate/auth"
)

var errInternal = errors.New("internal")

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want error // errInternal: none of the domain's errors
	}{
		{"no rows", pgx.ErrNoRows, auth.ErrNotFound},
		{"e-mail key taken", &pgconn.PgError{Code: "23505", ConstraintName: emailKeyConstraint}, auth.ErrEmailTaken},
		{"other unique violation", &pgconn.PgError{Code: "23505", ConstraintName: "users_pkey"}, errInternal},
		{"syntax error", &pgconn.PgError{Code: "42601"}, errInternal},
		{"check violation", &pgconn.PgError{Code: "23514"}, errInternal},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, auth.ErrStoreUnavailable},
		{"crash shutdown", &pgconn.PgError{Code: "57P02"}, auth.ErrStoreUnavailable},
		{"cannot connect now", &pgconn.PgError{Code: "57P03"}, auth.ErrStoreUnavailable},
		{"too many connections", &pgconn.PgError{Code: "53300"}, auth.ErrStoreUnavailable},
		{"connection failure", &pgconn.PgError{Code: "08006"}, auth.ErrStoreUnavailable},
		{"connection does not exist", &pgconn.PgError{Code: "08003"}, auth.ErrStoreUnavailable},
		{"EOF", fmt.Errorf("read: %w", io.EOF), auth.ErrStoreUnavailable},
		{"unexpected EOF", io.ErrUnexpectedEOF, auth.ErrStoreUnavailable},
		{"network error", &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, auth.ErrStoreUnavailable},
		{"connection refused", syscall.ECONNREFUSED, auth.ErrStoreUnavailable},
		{"closed pool", puddle.ErrClosedPool, auth.ErrStoreUnavailable},
		{"closed connection", fmt.Errorf("query: %w", pgconn.ErrConnClosed), auth.ErrStoreUnavailable},
		{"deadline", context.DeadlineExceeded, auth.ErrStoreUnavailable},
		{"canceled by the caller", context.Canceled, errInternal},
		{"domain error kept", auth.ErrNotFound, auth.ErrNotFound},
		{"anything else", errors.New("boom"), errInternal},
	} {
		got := classify("op", tc.err)
		if !errors.Is(got, tc.err) {
			t.Errorf("%s: classify(%v) = %v, which lost the cause", tc.name, tc.err, got)
		}
		if tc.want == errInternal {
			if e := auth.ErrorOf(got); e.Code != auth.CodeInternal {
				t.Errorf("%s: classify(%v) = %v (code %s), want an internal error", tc.name, tc.err, got, e.Code)
			}
			continue
		}
		if !errors.Is(got, tc.want) {
			t.Errorf("%s: classify(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
	if classify("op", nil) != nil {
		t.Error("classify(nil) is not nil")
	}
}
