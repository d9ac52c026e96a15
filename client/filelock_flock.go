//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package client

import (
	"context"
	"errors"
	"os"
	"syscall"
)

// lockFile takes an exclusive flock on f. flock locks belong to the open
// file, so two FileStores of one process exclude each other as two
// processes do. On failure it closes f.
func lockFile(ctx context.Context, f *os.File) error {
	fd := int(f.Fd())
	err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB)
	if err == nil {
		return nil
	}
	if !errors.Is(err, syscall.EWOULDBLOCK) {
		f.Close()
		return err
	}
	// Held elsewhere: wait in a goroutine so ctx can end the wait. A lock
	// granted after the caller gave up is released at once.
	done := make(chan error, 1)
	go func() { done <- flockWait(fd) }()
	select {
	case err := <-done:
		if err != nil {
			f.Close()
		}
		return err
	case <-ctx.Done():
		go func() {
			<-done
			f.Close() // closing the file releases its lock
		}()
		return ctx.Err()
	}
}

func flockWait(fd int) error {
	for {
		err := syscall.Flock(fd, syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

func unlockFile(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
