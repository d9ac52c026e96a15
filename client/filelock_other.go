//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package client

import (
	"context"
	"os"
)

// lockFile has no file lock to take on this system: FileStore's own mutex
// is the only lock, so only one process should use a token file here.
func lockFile(context.Context, *os.File) error { return nil }

func unlockFile(*os.File) {}
