// Command tokengate is an authentication server for GraphQL and REST APIs.
// Run `tokengate -h` for its settings.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/tokengate/tokengate/config"
)

// applyGCDefault sets config.DefaultGCPercent unless the environment sets
// GOGC, which the runtime has read already and which then wins.
func applyGCDefault(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(config.DefaultGCPercent)
	}
}

func main() {
	applyGCDefault(os.Getenv)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "tokengate:", err)
		stop()
		os.Exit(1)
	}
}
