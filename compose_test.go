package main

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/tokengate/tokengate/config"
)

// TestComposeSetsOnlyKnownVariables checks that every environment variable
// docker-compose.yml sets for tokengate is one config reads: a misspelt or
// retired name would otherwise be ignored without a word, leaving its
// default in force.
func TestComposeSetsOnlyKnownVariables(t *testing.T) {
	raw, err := os.ReadFile("docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Environment yaml.Node `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("parse docker-compose.yml: %v", err)
	}
	svc, ok := compose.Services["tokengate"]
	if !ok {
		t.Fatal("docker-compose.yml has no tokengate service")
	}
	names := composeEnvNames(t, &svc.Environment)
	if len(names) == 0 {
		t.Fatal("the tokengate service sets no environment variables")
	}
	known := config.Names()
	for _, name := range names {
		if !slices.Contains(known, name) {
			t.Errorf("docker-compose.yml sets %s for tokengate, which config does not know; known: %s", name, strings.Join(known, ", "))
		}
	}
}

// composeEnvNames reads the variable names of a service's environment in
// either of compose's forms: a mapping (NAME: value) or a list ("NAME=value").
func composeEnvNames(t *testing.T, env *yaml.Node) []string {
	t.Helper()
	var names []string
	switch env.Kind {
	case yaml.MappingNode:
		for i := 0; i < len(env.Content); i += 2 {
			names = append(names, env.Content[i].Value)
		}
	case yaml.SequenceNode:
		for _, item := range env.Content {
			name, _, _ := strings.Cut(item.Value, "=")
			names = append(names, name)
		}
	case 0:
		// No environment key at all.
	default:
		t.Fatalf("environment of the tokengate service is neither a mapping nor a list (line %d)", env.Line)
	}
	return names
}
