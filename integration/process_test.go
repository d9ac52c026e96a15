package integration

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tokengate/tokengate/internal/testserver"
)

// The test binary is built once per run into binDir, removed by TestMain.
var (
	binDir    string
	buildOnce sync.Once
	buildPath string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// binary returns the path of the tokengate binary built from this tree,
// building it on first use (with -race when the tests run with it).
func binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "tokengate-integration-")
		if buildErr != nil {
			return
		}
		buildPath = filepath.Join(binDir, "tokengate")
		// go test puts its own toolchain first in PATH.
		args := []string{"build", "-o", buildPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "github.com/tokengate/tokengate")...)
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildPath
}

// Env is a server process's environment, on top of baseEnv.
type Env map[string]string

// baseEnv is what every server gets unless a test overrides it: a free
// loopback port, the cheapest bcrypt cost, fixed secrets (so several
// processes, and a restarted one, accept each other's tokens) and text
// logs, whose "listening" line gives the address away.
func baseEnv() Env {
	return Env{
		"ADDR":                 "127.0.0.1:0",
		"BCRYPT_COST":          "4",
		"ACCESS_TOKEN_SECRET":  string(testserver.AccessSecret),
		"REFRESH_TOKEN_SECRET": string(testserver.RefreshSecret),
		"KEY_ENCRYPTION_KEY":   "integration-key-encryption-key-0123456789",
		"LOG_FORMAT":           "text",
		"LOG_LEVEL":            "info",
		"PATH":                 os.Getenv("PATH"),
		// A data race in the server is reported and the process carries
		// on; the test fails on the report.
		"GORACE": "halt_on_error=0",
		// Required with PostgreSQL (API.md section 7).
		"PUBLIC_URL": "http://localhost:8080",
		"SMTP_URL":   "file:" + filepath.Join(os.TempDir(), "tokengate-integration-outbox"),
	}
}

// Server is one tokengate process.
type Server struct {
	t    testing.TB
	name string
	cmd  *exec.Cmd
	// Addr is the host:port it listens on; URL is http://Addr.
	Addr string
	URL  string
	logs *logLines
	// exited is closed once the process has been waited for; state is
	// valid then.
	exited chan struct{}
	state  *os.ProcessState
}

var listeningLine = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startServer starts the tokengate binary with baseEnv overridden by env
// (an empty value removes a variable) and waits for it to listen. The
// process is killed, if it still runs, when the test ends; its log is shown
// if the test failed, and a data race reported in it fails the test.
func startServer(t testing.TB, name string, env Env) *Server {
	t.Helper()
	s, err := launch(t, binary(t), name, env)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// launch is startServer for any goroutine: it reports instead of failing.
func launch(t testing.TB, bin, name string, env Env) (*Server, error) {
	full := baseEnv()
	for k, v := range env {
		full[k] = v
	}
	cmd := exec.Command(bin)
	for k, v := range full {
		if v != "" {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	s := &Server{t: t, name: name, cmd: cmd, logs: newLogLines(), exited: make(chan struct{})}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			s.logs.add(sc.Text())
		}
	}()
	go func() {
		// Wait only after the pipe is drained, as os/exec requires.
		<-read
		cmd.Wait() // the exit status is in cmd.ProcessState
		s.state = cmd.ProcessState
		s.logs.close()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.Kill()
		if races := s.logs.matching("WARNING: DATA RACE"); races > 0 {
			t.Errorf("%s reported %d data races:\n%s", name, races, s.logs.String())
		} else if t.Failed() {
			t.Logf("log of %s:\n%s", name, s.logs.String())
		}
	})
	m, err := s.logs.waitFor(listeningLine, time.Minute)
	if err != nil {
		return nil, fmt.Errorf("%s did not start listening: %w\n%s", name, err, s.logs.String())
	}
	s.Addr = m[1]
	s.URL = "http://" + s.Addr
	return s, nil
}

// Signal sends sig to the process.
func (s *Server) Signal(sig os.Signal) {
	s.t.Helper()
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal %s: %v", s.name, err)
	}
}

// Kill kills the process with SIGKILL, if it still runs, and waits for it.
func (s *Server) Kill() {
	select {
	case <-s.exited:
		return
	default:
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
}

// Wait waits up to timeout for the process to exit and returns its exit
// code.
func (s *Server) Wait(timeout time.Duration) int {
	s.t.Helper()
	select {
	case <-s.exited:
		return s.state.ExitCode()
	case <-time.After(timeout):
		s.t.Fatalf("%s still runs after %v", s.name, timeout)
		return -1
	}
}

// WaitLog waits up to timeout for a log line matching re.
func (s *Server) WaitLog(re string, timeout time.Duration) {
	s.t.Helper()
	if _, err := s.logs.waitFor(regexp.MustCompile(re), timeout); err != nil {
		s.t.Fatalf("%s: no log line matching %q: %v\n%s", s.name, re, err, s.logs.String())
	}
}

// logLines collects a process's log lines and lets tests wait for one.
type logLines struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{} // closed and replaced whenever a line arrives
	closed  bool
}

func newLogLines() *logLines { return &logLines{changed: make(chan struct{})} }

func (l *logLines) add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *logLines) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	close(l.changed)
	l.changed = make(chan struct{})
}

var errLogClosed = errors.New("the process exited")

// waitFor returns the submatches of the first line matching re, waiting
// for it to be written.
func (l *logLines) waitFor(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	next := 0
	for {
		l.mu.Lock()
		for ; next < len(l.lines); next++ {
			if m := re.FindStringSubmatch(l.lines[next]); m != nil {
				l.mu.Unlock()
				return m, nil
			}
		}
		closed, changed := l.closed, l.changed
		l.mu.Unlock()
		if closed {
			return nil, errLogClosed
		}
		select {
		case <-changed:
		case <-deadline.C:
			return nil, fmt.Errorf("timed out after %v", timeout)
		}
	}
}

func (l *logLines) matching(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
