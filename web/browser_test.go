package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBrowser runs the Node tests under e2e/ (node --test): unit tests of
// tokengate.js, and the demo page driven in Debian's Chromium by
// playwright-core against the real tokengate binary, built here. Without
// node or chromium it skips, saying so, except under CI=true, where a
// missing tool is a failure (make test installs both).
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests are not short")
	}
	node := need(t, "node", "Node.js")
	chromium := os.Getenv("CHROMIUM_PATH")
	if chromium == "" {
		chromium = need(t, "chromium", "Debian's chromium package (apt-get install chromium)")
	}

	dir, err := filepath.Abs("e2e")
	if err != nil {
		t.Fatal(err)
	}
	ensureNodeModules(t, dir)

	bin := filepath.Join(t.TempDir(), "tokengate")
	build := []string{"build", "-o", bin}
	if raceEnabled {
		// Reuses the race-built packages of this test run, and lets the
		// race detector watch the server while the browser drives it.
		build = append(build, "-race")
	}
	// go test puts its own go first in PATH.
	run(t, 5*time.Minute, "..", nil, "go", append(build, ".")...)

	artifacts := filepath.Join(dir, "artifacts")
	run(t, 2*time.Minute, dir, []string{
		"TOKENGATE_BIN=" + bin,
		"CHROMIUM_PATH=" + chromium,
		"ARTIFACTS_DIR=" + artifacts,
	}, node, "--test", "--test-concurrency=1", "--test-reporter=spec", "client.test.mjs", "demo.test.mjs", "recovery.test.mjs")
	t.Logf("screenshots in %s", artifacts)
}

// need returns the path of a tool, or skips (fails under CI) without it.
func need(t *testing.T, name, what string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found: %s is required for the browser tests under CI (make test installs it)", name, what)
	}
	t.Skipf("%s not found: browser tests skipped; install %s, or run make test, which installs it", name, what)
	return ""
}

// ensureNodeModules installs the pinned playwright-core and typescript
// from package-lock.json when make's browser-deps has not.
func ensureNodeModules(t *testing.T, dir string) {
	t.Helper()
	installed := true
	for _, m := range []string{"playwright-core", "typescript"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", m, "package.json")); err != nil {
			installed = false
		}
	}
	if installed {
		return
	}
	npm := need(t, "npm", "npm")
	run(t, 5*time.Minute, dir, nil, npm, "ci", "--no-audit", "--no-fund")
}

// run runs a command in dir and fails the test with its output if it
// fails; its output is logged either way, so -v shows the Node test report.
func run(t *testing.T, timeout time.Duration, dir string, env []string, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	// A killed node must not leave Chromium or tokengate behind: the
	// tests' after hooks stop them, and WaitDelay bounds the wait.
	cmd.WaitDelay = 10 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("%s %s (%s):\n%s", filepath.Base(name), strings.Join(args, " "), time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("%s %s: %v", filepath.Base(name), strings.Join(args, " "), err)
	}
}
