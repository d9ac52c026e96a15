package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeWalkthroughWorksAsPrinted runs the README's curl walk-through,
// unchanged but for the port, against the real program.
func TestReadmeWalkthroughWorksAsPrinted(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl is required to check the README walk-through")
		}
		t.Skip("curl not installed; the README walk-through is not checked")
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "## A walk-through with curl")
	if !ok {
		t.Fatal("README has no walk-through section")
	}
	_, block, _ := strings.Cut(after, "```sh\n")
	script, _, _ := strings.Cut(block, "```")

	dir := t.TempDir()
	p := start(t, env("ADDR", "127.0.0.1:0", "DATABASE_URL", "sqlite:"+filepath.Join(dir, "tg.db"), "BCRYPT_COST", "4"))
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", strings.ReplaceAll(script, "localhost:8080", p.addr))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("walk-through failed: %v\n%s", err, out)
	}
	for _, want := range []string{
		`"loggedInUser":{"id":`,      // step 2, GraphQL
		`"email":"ada@example.com"`,  // step 2, REST
		`"reason":"SESSION_REVOKED"`, // step 4
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("walk-through output lacks %s:\n%s", want, out)
		}
	}
	if strings.Count(string(out), `"name":"Ada Lovelace"`) < 4 {
		t.Errorf("expected the user in the register, GraphQL, /auth/me and refreshed /auth/me answers:\n%s", out)
	}
}
