package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestNPMPackage packs web/ as the tokengate-client npm package, installs
// the tarball into a scratch project, imports it there by name
// (e2e/package-test/import.mjs), and checks a typed usage example against
// its declarations with the pinned TypeScript (tsc --noEmit on
// e2e/package-test/usage.ts). Without node or npm it skips, saying so,
// except under CI=true, where it fails.
func TestNPMPackage(t *testing.T) {
	if testing.Short() {
		t.Skip("the npm package test is not short")
	}
	node := need(t, "node", "Node.js")
	npm := need(t, "npm", "npm")
	e2e, err := filepath.Abs("e2e")
	if err != nil {
		t.Fatal(err)
	}
	ensureNodeModules(t, e2e)

	scratch := t.TempDir()
	packed := output(t, ".", npm, "pack", "--json", "--pack-destination", scratch)
	var pack []struct {
		Filename string `json:"filename"`
		Files    []struct {
			Path string `json:"path"`
		} `json:"files"`
	}
	if err := json.Unmarshal(packed, &pack); err != nil || len(pack) != 1 {
		t.Fatalf("npm pack --json: %v\n%s", err, packed)
	}
	var files []string
	for _, f := range pack[0].Files {
		files = append(files, f.Path)
	}
	slices.Sort(files)
	if want := []string{"README.md", "package.json", "tokengate.d.ts", "tokengate.js"}; !slices.Equal(files, want) {
		t.Errorf("the tarball holds %v, want %v", files, want)
	}

	if err := os.WriteFile(filepath.Join(scratch, "package.json"), []byte(`{"name":"scratch","private":true,"type":"module"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"import.mjs", "usage.ts", "tsconfig.json"} {
		b, err := os.ReadFile(filepath.Join(e2e, "package-test", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(scratch, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The tarball has no dependencies, so nothing is fetched.
	run(t, 2*time.Minute, scratch, nil, npm, "install", "--offline", "--no-audit", "--no-fund", filepath.Join(scratch, pack[0].Filename))

	t.Run("import", func(t *testing.T) {
		run(t, time.Minute, scratch, nil, node, "import.mjs")
	})
	t.Run("types", func(t *testing.T) {
		tsc := filepath.Join(e2e, "node_modules", "typescript", "bin", "tsc")
		run(t, 2*time.Minute, scratch, nil, node, tsc, "--noEmit", "-p", "tsconfig.json")
	})
}

// output runs a command in dir and returns its standard output, failing
// the test with its standard error if it fails.
func output(t *testing.T, dir, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(name), args, err, stderr.Bytes())
	}
	return out
}
