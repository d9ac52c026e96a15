// Command load is the load harness's tool: it seeds the benchmark
// database, checks that a server answers the three scenarios correctly,
// loads it over loopback, and samples a soak. bench/run.sh drives it; each
// subcommand takes -h.
//
//	load db      create or drop a database (optionally from a template)
//	load seed    bulk-insert users and sessions with generate_series
//	load check   hold a server to the scenarios' exact answers; print a
//	             normalised transcript to diff tokengate against the floor
//	load run     load one scenario; print one JSON line of results
//	load sample  sample a server's goroutines, heap and RSS during a soak
//	load report  medians, ratios and targets of a run, as markdown tables
//	load wait    wait until a URL answers 200
//	load get     write a URL's body to stdout (a CPU profile)
//	load port    print a free loopback port
//
// Users, sessions and their ids are derived from their index (see ids.go),
// so the seed and every later subcommand agree without sharing state; the
// tokens are minted here with the servers' secrets, read from the same
// environment variables the servers read (ACCESS_TOKEN_SECRET,
// REFRESH_TOKEN_SECRET, TOKEN_ISSUER, TOKEN_AUDIENCE, ACCESS_TOKEN_TTL).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

type subcommand struct {
	help string
	run  func(ctx context.Context, args []string) error
}

var subcommands = map[string]subcommand{
	"db":     {"create or drop a database", cmdDB},
	"seed":   {"bulk-insert users and sessions", cmdSeed},
	"check":  {"check a server's answers to the scenarios", cmdCheck},
	"run":    {"load one scenario and print the results as JSON", cmdRun},
	"sample": {"sample goroutines, heap and RSS during a soak", cmdSample},
	"wait":   {"wait until a URL answers 200", cmdWait},
	"get":    {"write a URL's body to stdout (a pprof profile)", cmdGet},
	"report": {"turn runs.jsonl and soak.csv into the README's tables", cmdReport},
	"port":   {"print a free loopback port", cmdPort},
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) < 2 || subcommands[os.Args[1]].run == nil {
		fmt.Fprintln(os.Stderr, "usage: load SUBCOMMAND [flags]; subcommands:")
		names := make([]string, 0, len(subcommands))
		for n := range subcommands {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(os.Stderr, "  %-7s %s\n", n, subcommands[n].help)
		}
		os.Exit(2)
	}
	if err := subcommands[os.Args[1]].run(ctx, os.Args[2:]); err != nil {
		fmt.Fprintf(os.Stderr, "load %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
