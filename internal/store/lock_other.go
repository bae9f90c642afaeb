//go:build !unix

package store

import (
	"errors"
	"os"
)

// noFollow is not available off unix.
const noFollow = 0

// heldError says another holder has the lock.
type heldError struct{ pid int }

func (e *heldError) Error() string { return "lock held" }

// lockDir is not implemented off unix: without it two bots could share data_dir, so
// Open refuses rather than run unprotected.
func lockDir(dir string) (*os.File, error) {
	return nil, errors.New("locking data_dir needs a unix system")
}

func unlockDir(f *os.File) {
	if f != nil {
		f.Close()
	}
}
