package integration

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// The variables scripts/with-postgres.sh exports for fault injection.
const (
	envPGBin  = "TOKENGATE_TEST_PGBIN"
	envPGUser = "TOKENGATE_TEST_PGUSER"
)

// pgCluster is a private PostgreSQL server that one test owns: stopping it
// disturbs no other test, whereas the shared cluster of `make test` serves
// every package's tests at once.
type pgCluster struct {
	t    testing.TB
	bin  string // directory of pg_ctl and initdb
	user string // OS user the server runs as
	dir  string // holds data/, the socket and the log
	data string
	// URL is a connection string for the cluster's postgres database.
	URL string
}

// newPGCluster initialises and starts a private cluster with the server
// binaries of the shared one, on a free loopback port. It is stopped and
// removed when the test ends, whatever the outcome. Without the shared
// cluster's variables the test is skipped (failed under CI=true).
func newPGCluster(t testing.TB) *pgCluster {
	t.Helper()
	bin, pgUser := os.Getenv(envPGBin), os.Getenv(envPGUser)
	if bin == "" || pgUser == "" {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("%s and %s are not set and CI=true; run through `make test`", envPGBin, envPGUser)
		}
		t.Skipf("%s and %s are not set; run through `make test` (scripts/with-postgres.sh)", envPGBin, envPGUser)
	}
	// Not t.TempDir: its parents are private to the test process's user,
	// and the server runs as another one.
	dir, err := os.MkdirTemp("", "tokengate-pgfault-")
	if err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{t: t, bin: bin, user: pgUser, dir: dir, data: filepath.Join(dir, "data")}
	t.Cleanup(func() {
		// Immediate: nothing in a throwaway cluster needs a clean shutdown.
		c.pgCtl("-m", "immediate", "-w", "stop")
		os.RemoveAll(dir)
	})
	if err := c.chown(dir); err != nil {
		t.Fatal(err)
	}
	if out, err := c.asServerUser(filepath.Join(bin, "initdb"), "-D", c.data, "-U", "postgres",
		"-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}

	// A port found free may be taken before the server binds it; retry.
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		conf := fmt.Sprintf("\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\n"+
			"max_connections = 100\nfsync = off\nfull_page_writes = off\n", port, dir)
		if err := appendFile(filepath.Join(c.data, "postgresql.conf"), conf); err != nil {
			t.Fatal(err)
		}
		if err := c.Start(); err == nil {
			c.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
			return c
		} else if attempt == 4 {
			t.Fatalf("start private PostgreSQL: %v", err)
		}
	}
}

// Stop stops the server the way an operator or a failover does
// (pg_ctl -m fast: clients are disconnected at once).
func (c *pgCluster) Stop() {
	c.t.Helper()
	if out, err := c.pgCtl("-m", "fast", "-w", "stop"); err != nil {
		c.t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

// Start starts the server and waits until it accepts connections.
func (c *pgCluster) Start() error {
	if out, err := c.pgCtl("-l", filepath.Join(c.dir, "postgres.log"), "-w", "-t", "60", "start"); err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s", err, out)
	}
	return nil
}

func (c *pgCluster) pgCtl(args ...string) ([]byte, error) {
	return c.asServerUser(filepath.Join(c.bin, "pg_ctl"), append([]string{"-D", c.data}, args...)...).CombinedOutput()
}

// asServerUser runs a PostgreSQL program as the server's OS user, which
// PostgreSQL requires not to be root.
func (c *pgCluster) asServerUser(prog string, args ...string) *exec.Cmd {
	if me, err := user.Current(); err == nil && me.Username != c.user {
		return exec.Command("runuser", append([]string{"-u", c.user, "--", prog}, args...)...)
	}
	return exec.Command(prog, args...)
}

func (c *pgCluster) chown(path string) error {
	u, err := user.Lookup(c.user)
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if uid == os.Getuid() {
		return nil
	}
	return os.Chown(path, uid, gid)
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
