package integration

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slowUpload is a registration whose body the client sends in two halves,
// like a client on a slow link: it stays in flight as long as the test
// wants, through a real route, with nothing added to the server for tests.
type slowUpload struct {
	conn net.Conn
	br   *bufio.Reader
	body string
}

// startSlowUpload sends the request head with Expect: 100-continue and
// returns once the server answers 100 Continue, which net/http does when
// the handler starts reading the body: the request is then in flight.
func startSlowUpload(t *testing.T, srv *Server, email string) *slowUpload {
	t.Helper()
	conn, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	u := &slowUpload{conn: conn, br: bufio.NewReader(conn),
		body: jsonString(t, map[string]string{"email": email, "password": password, "name": "Slow"})}
	fmt.Fprintf(conn, "POST /auth/register HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", srv.Addr, len(u.body))
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	status, err := u.br.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 100 ") {
		t.Fatalf("waiting for 100 Continue: %q %v", status, err)
	}
	if blank, err := u.br.ReadString('\n'); err != nil || blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q %v", blank, err)
	}
	if _, err := io.WriteString(conn, u.body[:len(u.body)/2]); err != nil {
		t.Fatal(err)
	}
	return u
}

// finish sends the rest of the body and reads the response.
func (u *slowUpload) finish() (*http.Response, error) {
	if _, err := io.WriteString(u.conn, u.body[len(u.body)/2:]); err != nil {
		return nil, err
	}
	res, err := http.ReadResponse(u.br, nil)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	_, err = io.ReadAll(res.Body)
	return res, err
}

func TestSIGTERMFinishesInFlightRequests(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "tokengate.db")
	srv := startServer(t, "tokengate", Env{"DATABASE_URL": "sqlite:" + db})
	upload := startSlowUpload(t, srv, "slow@example.com")

	srv.Signal(syscall.SIGTERM)
	// Shutting down, the server stops accepting connections while the
	// request is still in flight...
	waitRefused(t, srv.Addr, 30*time.Second)
	// ...but the request in flight completes, its registration committed.
	res, err := upload.finish()
	if err != nil {
		t.Fatalf("in-flight request after SIGTERM: %v", err)
	}
	if res.StatusCode != http.StatusCreated || res.Header.Get("X-Refresh-Token") == "" {
		t.Fatalf("in-flight registration after SIGTERM: %s", res.Status)
	}
	if code := srv.Wait(30 * time.Second); code != 0 {
		t.Fatalf("exit code %d after SIGTERM, want 0", code)
	}
	srv.WaitLog(`msg=stopped`, time.Second)

	// The registration answered during shutdown is in the database.
	again := startServer(t, "tokengate again", Env{"DATABASE_URL": "sqlite:" + db})
	newClient(t).login(again, "slow@example.com")
}

func TestSIGTERMWaitsNoLongerThanShutdownTimeout(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	srv := startServer(t, "tokengate", Env{
		"DATABASE_URL":     "sqlite:" + filepath.Join(t.TempDir(), "tokengate.db"),
		"SHUTDOWN_TIMEOUT": timeout.String(),
	})
	// A client that never finishes its body.
	upload := startSlowUpload(t, srv, "stuck@example.com")

	signalled := time.Now()
	srv.Signal(syscall.SIGTERM)
	code := srv.Wait(timeout + 20*time.Second)
	took := time.Since(signalled)
	if took < timeout {
		t.Errorf("exited %v after SIGTERM, before SHUTDOWN_TIMEOUT (%v) with a request in flight", took, timeout)
	}
	// Cut short, shutdown is not clean: the exit code says so.
	if code != 1 {
		t.Errorf("exit code %d after an incomplete shutdown, want 1", code)
	}
	srv.WaitLog(`shutdown: context deadline exceeded`, time.Second)
	// The abandoned client sees its connection closed, not a hang.
	upload.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := upload.finish(); err == nil {
		t.Error("the request cut by the shutdown timeout got a response")
	}
	t.Logf("exited %v after SIGTERM with SHUTDOWN_TIMEOUT=%v", took.Round(time.Millisecond), timeout)
}

// waitRefused dials addr until the connection is refused: the process has
// closed its listener.
func waitRefused(t *testing.T, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if errors.Is(err, syscall.ECONNREFUSED) {
			return
		}
		if err == nil {
			conn.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts connections %v after SIGTERM (last dial: %v)", addr, timeout, err)
		}
		time.Sleep(10 * time.Millisecond) // polling another process
	}
}
