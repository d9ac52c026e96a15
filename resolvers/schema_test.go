package resolvers_test

import (
	_ "embed"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/graph-gophers/graphql-go"
	"github.com/graph-gophers/graphql-go/ast"

	"github.com/tokengate/tokengate/resolvers"
	"github.com/tokengate/tokengate/schema"
)

// apiContract is the SDL block of API.md section 3, copied verbatim. When
// the contract changes, API.md and this copy change together.
//
//go:embed testdata/api_contract.graphql
var apiContract string

// TestSchemaEqualsContract compares every type, field, argument and their
// types of schema/schema.graphql with the contract; descriptions and
// comments are not part of the contract. The other files of schema/ extend
// it (example.graphql, an adopter's own), so they are left out here; the
// served schema is built from all of them by TestSchemaMatchesResolvers.
func TestSchemaEqualsContract(t *testing.T) {
	contract, err := os.ReadFile("../schema/schema.graphql")
	if err != nil {
		t.Fatal(err)
	}
	got := signatures(t, string(contract))
	want := signatures(t, apiContract)
	for _, s := range want {
		if !slices.Contains(got, s) {
			t.Errorf("schema lacks %s", s)
		}
	}
	for _, s := range got {
		if !slices.Contains(want, s) {
			t.Errorf("schema has %s, which is not in the contract", s)
		}
	}
}

// TestSchemaMatchesResolvers builds the real handler, whose MustParseSchema
// panics on any drift between the schema and the resolvers' methods.
func TestSchemaMatchesResolvers(t *testing.T) {
	resolvers.NewHandler(nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), resolvers.DefaultLimits())
}

func TestSDLPutsTheContractFirst(t *testing.T) {
	if !strings.HasPrefix(schema.SDL(), "# tokengate's GraphQL contract") {
		t.Fatalf("SDL does not start with schema.graphql:\n%.200s", schema.SDL())
	}
}

// signatures renders each type defined in sdl (built-ins aside) as sorted
// one-line signatures such as "Mutation.login(email: String!, password: String!): Tokens!".
func signatures(t testing.TB, sdl string) []string {
	t.Helper()
	s, err := graphql.ParseSchema(sdl, nil, graphql.UseStringDescriptions())
	if err != nil {
		t.Fatalf("parse schema: %v", err)
	}
	builtin := map[string]bool{"Int": true, "Float": true, "String": true, "Boolean": true, "ID": true}
	var out []string
	for name, typ := range s.AST().Types {
		if builtin[name] || strings.HasPrefix(name, "__") {
			continue
		}
		switch typ := typ.(type) {
		case *ast.ScalarTypeDefinition:
			out = append(out, "scalar "+name)
		case *ast.ObjectTypeDefinition:
			out = append(out, "type "+name)
			for _, f := range typ.Fields {
				var args []string
				for _, a := range f.Arguments {
					args = append(args, fmt.Sprintf("%s: %s", a.Name.Name, a.Type))
				}
				sig := name + "." + f.Name
				if len(args) > 0 {
					sig += "(" + strings.Join(args, ", ") + ")"
				}
				out = append(out, sig+": "+f.Type.String())
			}
		default:
			out = append(out, fmt.Sprintf("%T %s", typ, name))
		}
	}
	slices.Sort(out)
	return out
}
