package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestDependencyDirection keeps the edge's shape: the domain imports no
// tokengate package, the transports share the edge instead of importing
// each other or the middleware.
func TestDependencyDirection(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	forbidden := map[string][]string{
		"auth":       {"edge", "middleware", "rest", "resolvers", "server", "token", "store/sqlite", "store/postgres", "config"},
		"edge":       {"middleware", "rest", "resolvers", "server"},
		"resolvers":  {"rest", "middleware", "server"},
		"rest":       {"middleware", "resolvers", "server"},
		"metrics":    {"middleware", "rest", "resolvers", "server"},
		"middleware": {"rest", "resolvers", "server"},
	}
	const module = "github.com/tokengate/tokengate/"
	for pkg, bad := range forbidden {
		out, err := exec.Command("go", "list", "-deps", "./"+pkg).Output()
		if err != nil {
			t.Fatalf("go list -deps ./%s: %v", pkg, err)
		}
		deps := strings.Fields(string(out))
		for _, b := range bad {
			if slices.Contains(deps, module+b) {
				t.Errorf("%s imports %s", pkg, b)
			}
		}
	}
}
