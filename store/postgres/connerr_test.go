package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/tokengate/tokengate/auth"
)

// refusingServer is a TCP server on 127.0.0.1:0 that speaks just enough of
// the PostgreSQL protocol to refuse every connection the way a real server
// does: it declines TLS and answers the start-up message with a FATAL
// error of the given SQLSTATE. It returns its address.
func refusingServer(t testing.TB, code, message string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go refuse(conn, code, message)
		}
	}()
	return ln.Addr().String()
}

func refuse(conn net.Conn, code, message string) {
	defer conn.Close()
	be := pgproto3.NewBackend(conn, conn)
	for {
		msg, err := be.ReceiveStartupMessage()
		if err != nil {
			return
		}
		switch msg.(type) {
		case *pgproto3.SSLRequest, *pgproto3.GSSEncRequest:
			if _, err := conn.Write([]byte("N")); err != nil {
				return
			}
			continue
		}
		be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", SeverityUnlocalized: "FATAL", Code: code, Message: message})
		be.Flush()
		return
	}
}

// silentServer accepts connections and never answers, like a server behind
// a firewall that drops packets after the handshake.
func silentServer(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, conn)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

// closedPort returns an address nothing listens on: a port just freed.
func closedPort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

const testPassword = "pw-n0t-in-any-message"

func TestDescribeConnectError(t *testing.T) {
	for _, tc := range []struct {
		name string
		url  string
		want string
	}{
		{
			name: "wrong password",
			url:  "postgres://ada:" + testPassword + "@" + refusingServer(t, "28P01", `password authentication failed for user "ada"`) + "/tg",
			want: `refused the password of user "ada" (password authentication failed): check the user and password in DATABASE_URL`,
		},
		{
			name: "no such role",
			url:  "postgres://ada:" + testPassword + "@" + refusingServer(t, "28000", `role "ada" does not exist`) + "/tg",
			want: `refused user "ada" (authentication failed: role "ada" does not exist)`,
		},
		{
			name: "no such database",
			url:  "postgres://ada:" + testPassword + "@" + refusingServer(t, "3D000", `database "tg" does not exist`) + "/tg",
			want: `has no database "tg": create it (CREATE DATABASE tg OWNER ada)`,
		},
		{
			name: "another refusal",
			url:  "postgres://ada:" + testPassword + "@" + refusingServer(t, "53300", `sorry, too many clients already`) + "/tg",
			want: `refused the connection of user "ada": sorry, too many clients already (SQLSTATE 53300)`,
		},
		{
			name: "connection refused",
			url:  "postgres://ada:" + testPassword + "@" + closedPort(t) + "/tg",
			want: "connection refused (is PostgreSQL running, on this host and port?)",
		},
		{
			name: "no answer",
			url:  "postgres://ada:" + testPassword + "@" + silentServer(t) + "/tg?sslmode=disable&connect_timeout=1",
			want: "no answer within 1s",
		},
		{
			name: "no such host",
			url:  "postgres://ada:" + testPassword + "@tokengate-test.invalid:5432/tg?connect_timeout=5",
			want: `the host "tokengate-test.invalid" in DATABASE_URL does not resolve`,
		},
		{
			name: "no such socket",
			url:  "host=" + t.TempDir() + " user=ada password=" + testPassword + " dbname=tg",
			want: "no such socket (is PostgreSQL running, with its socket in ",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Open(context.Background(), tc.url)
			if err == nil {
				t.Fatal("Open succeeded")
			}
			described := DescribeConnectError(err)
			msg := described.Error()
			t.Log(msg)
			if !strings.Contains(msg, tc.want) {
				t.Errorf("message %q\nwant it to contain %q\n(pgx said %q)", msg, tc.want, err)
			}
			if strings.Contains(msg, "\n") || strings.Contains(msg, "tls error") || strings.Contains(msg, "try again") {
				t.Errorf("message %q: want one plain line", msg)
			}
			if strings.Contains(msg, testPassword) {
				t.Errorf("message %q shows the password", msg)
			}
			// Only the words change: the store's classification survives.
			if !errors.Is(described, err) || !errors.Is(described, auth.ErrStoreUnavailable) {
				t.Errorf("DescribeConnectError lost the cause %v", err)
			}
		})
	}
}

func TestDescribeConnectErrorLeavesOtherErrorsAlone(t *testing.T) {
	if DescribeConnectError(nil) != nil {
		t.Error("nil became an error")
	}
	for _, err := range []error{
		errors.New("boom"),
		fmt.Errorf("migrate postgres: %w", &pgconn.PgError{Code: "42P07", Message: "relation exists"}),
		io.EOF,
	} {
		if got := DescribeConnectError(err); got != err {
			t.Errorf("DescribeConnectError(%v) = %v, want it unchanged", err, got)
		}
	}
}

func TestDescribeConnectErrorExplainsMissingPrivileges(t *testing.T) {
	err := fmt.Errorf("migrate postgres: create version table: %w", &pgconn.PgError{Code: "42501", Message: "permission denied for schema public"})
	got := DescribeConnectError(err)
	if want := "(permission denied for schema public): make that user the owner of the database"; !strings.Contains(got.Error(), want) {
		t.Errorf("got %q, want it to contain %q", got, want)
	}
	if !errors.Is(got, err) {
		t.Error("the cause is lost")
	}
}

func TestQuoteIdent(t *testing.T) {
	for in, want := range map[string]string{
		"tokengate": "tokengate", "tg_2": "tg_2", "Tokengate": `"Tokengate"`, "2tg": `"2tg"`,
		"my-db": `"my-db"`, `a"b`: `"a""b"`, "": `""`,
	} {
		if got := quoteIdent(in); got != want {
			t.Errorf("quoteIdent(%q) = %s, want %s", in, got, want)
		}
	}
}
