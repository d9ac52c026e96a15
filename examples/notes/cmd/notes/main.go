// Command notes serves tokengate with the notes app's additions, configured
// by the same environment as tokengate (DATABASE_URL, ADDR, ...).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"example.com/notes"

	"github.com/tokengate/tokengate/app"
	"github.com/tokengate/tokengate/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "notes:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	cfg, err := config.Load(os.Args[1:], os.Getenv, os.Stdout)
	if err != nil {
		return err
	}
	a, err := app.New(ctx, cfg, notes.Options()...)
	if err != nil {
		return err
	}
	defer a.Close()
	return a.ListenAndServe(ctx)
}
