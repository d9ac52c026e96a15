// Package schema holds tokengate's GraphQL schema as SDL files embedded in
// the binary.
//
// schema.graphql is the wire contract of API.md section 3. An adopter who
// wants their own queries or mutations adds a new file in this folder, such
// as example.graphql, extending the root types instead of editing the
// contract:
//
//	extend type Query {
//	  orders: [Order!]!
//	}
//
// and implements the fields as methods on resolvers.Resolver. Every
// *.graphql file here is part of SDL, so the new file needs no registration;
// a field without a resolver method, or the other way round, makes the
// server panic at start-up and the tests fail.
package schema

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
)

//go:embed *.graphql
var files embed.FS

// contractFile comes first so that extensions in other files always find the
// types they extend.
const contractFile = "schema.graphql"

// SDL returns every embedded .graphql file, schema.graphql first and the
// rest in lexical order, concatenated into one document.
func SDL() string {
	names, err := fs.Glob(files, "*.graphql")
	if err != nil {
		// The pattern is constant and valid, so this cannot happen.
		panic(err)
	}
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == contractFile:
			return -1
		case b == contractFile:
			return 1
		}
		return strings.Compare(a, b)
	})
	var sb strings.Builder
	for _, name := range names {
		b, err := files.ReadFile(name)
		if err != nil {
			panic(err) // an embedded file that Glob just listed
		}
		sb.Write(b)
		sb.WriteString("\n")
	}
	return sb.String()
}

// Compose returns SDL followed by every .graphql file at the root of each
// of extra, in lexical order: the schema of tokengate extended with an
// adopter's own types and fields (extend type Query { ... }).
func Compose(extra ...fs.FS) (string, error) {
	var sb strings.Builder
	sb.WriteString(SDL())
	for _, fsys := range extra {
		names, err := fs.Glob(fsys, "*.graphql")
		if err != nil {
			return "", fmt.Errorf("schema files: %w", err)
		}
		if len(names) == 0 {
			return "", fmt.Errorf("schema files: no *.graphql file in %v", fsys)
		}
		slices.Sort(names)
		for _, name := range names {
			b, err := fs.ReadFile(fsys, name)
			if err != nil {
				return "", fmt.Errorf("schema file %s: %w", name, err)
			}
			sb.Write(b)
			sb.WriteString("\n")
		}
	}
	return sb.String(), nil
}
