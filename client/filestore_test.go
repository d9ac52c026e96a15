package client_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/tokengate/tokengate/client"
)

func TestFileStoreSaveLoadClear(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tokens.json")
	fs := client.NewFileStore(path)
	if tok, err := fs.Load(ctx); err != nil || !tok.IsZero() {
		t.Fatalf("no file: %+v %v, want no tokens", tok, err)
	}
	want := client.Tokens{AccessToken: "a", RefreshToken: "r", AccessTokenExpiresAt: time.Unix(100, 0).UTC()}
	if err := fs.Save(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, err := client.NewFileStore(path).Load(ctx); err != nil || got != want {
		t.Fatalf("Load: %+v %v, want %+v", got, err, want)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(path)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("mode %v %v, want 0600", fi.Mode(), err)
		}
	}
	if err := fs.Clear(ctx); err != nil {
		t.Fatal(err)
	}
	if tok, err := fs.Load(ctx); err != nil || !tok.IsZero() {
		t.Fatalf("after Clear: %+v %v", tok, err)
	}
	if err := fs.Clear(ctx); err != nil {
		t.Errorf("Clear twice: %v", err)
	}
	if err := os.WriteFile(path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Load(ctx); err == nil {
		t.Error("a corrupt file loaded")
	}
}

func TestFileStoreLockExcludesAnotherStoreOfTheFile(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no file lock on this system")
	}
	path := filepath.Join(t.TempDir(), "tokens.json")
	a, b := client.NewFileStore(path), client.NewFileStore(path)
	unlock, err := a.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// b has its own in-process lock, free, so only the flock can stop it;
	// with ctx already ended it gives up instead of waiting.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Lock(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("b.Lock while a holds the file: %v, want it to wait until ctx ends", err)
	}
	got := make(chan error, 1)
	go func() {
		unlockB, err := b.Lock(context.Background())
		if err == nil {
			unlockB()
		}
		got <- err
	}()
	unlock()
	if err := <-got; err != nil {
		t.Fatalf("b.Lock after a unlocked: %v", err)
	}
}

func TestFileStoreSharedByTwoClients(t *testing.T) {
	s := startServer(t)
	path := filepath.Join(t.TempDir(), "tokens.json")
	cli := newClient(t, s, client.WithStore(client.NewFileStore(path)))
	signUp(t, cli, "ada@example.com")

	// A second run of the CLI finds the session.
	a := newClient(t, s, client.WithStore(client.NewFileStore(path)))
	b := newClient(t, s, client.WithStore(client.NewFileStore(path)))
	if status, email, err := me(t, a, s.URL); err != nil || status != http.StatusOK || email != "ada@example.com" {
		t.Fatalf("a new Client on the file: %d %q %v", status, email, err)
	}

	// Two of them, after expiry, at once: one rotation, one pair on disk.
	s.Advance(16 * time.Minute)
	const n = 10
	start := make(chan struct{})
	errs := make(chan error, 2*n)
	var wg sync.WaitGroup
	for _, c := range []*client.Client{a, b} {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				status, _, err := me(t, c, s.URL)
				if err == nil && status != http.StatusOK {
					err = errors.New(http.StatusText(status))
				}
				errs <- err
			}()
		}
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if s.rotations() != 1 || s.requests("/auth/refresh") != 1 {
		t.Errorf("%d rotations and %d refresh requests from two Clients on one file, want 1 and 1", s.rotations(), s.requests("/auth/refresh"))
	}
	ta, tb := tokens(t, a), tokens(t, b)
	if ta != tb || ta != tokens(t, cli) || !ta.AccessTokenExpiresAt.After(s.Now()) {
		t.Errorf("the Clients disagree on the pair: %+v, %+v", ta, tb)
	}

	if err := b.SignOut(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the token file outlived SignOut: %v", err)
	}
	if tok := tokens(t, a); !tok.IsZero() {
		t.Errorf("the other Client still reads %+v", tok)
	}
}

// lockHelperEnv names the token file a child process of
// TestFileStoreLockExcludesAnotherProcess locks.
const lockHelperEnv = "TOKENGATE_CLIENT_LOCK_HELPER"

func TestFileStoreLockExcludesAnotherProcess(t *testing.T) {
	if path := os.Getenv(lockHelperEnv); path != "" {
		// The child: hold the lock until the parent closes stdin.
		unlock, err := client.NewFileStore(path).Lock(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		os.Stdout.WriteString("locked\n")
		io.Copy(io.Discard, os.Stdin)
		unlock()
		return
	}
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no file lock on this system")
	}
	path := filepath.Join(t.TempDir(), "tokens.json")
	cmd := exec.Command(os.Args[0], "-test.run=^TestFileStoreLockExcludesAnotherProcess$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "locked\n" {
		t.Fatalf("child: %q %v", line, err)
	}

	fs := client.NewFileStore(path)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := fs.Lock(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock while another process holds the file: %v, want it to wait", err)
	}
	stdin.Close()
	unlock, err := fs.Lock(context.Background())
	if err != nil {
		t.Fatalf("Lock after the other process let go: %v", err)
	}
	unlock()
	if err := cmd.Wait(); err != nil {
		t.Errorf("child: %v", err)
	}
}
