//go:build unix

package store

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// heldError says another holder has the lock; pid is 0 when it could not be read.
type heldError struct{ pid int }

func (e *heldError) Error() string { return fmt.Sprintf("lock held by pid %d", e.pid) }

// noFollow makes an open refuse a symlink as the last path element.
const noFollow = syscall.O_NOFOLLOW

// lockDir takes an exclusive, non-blocking flock on dir/LockName and writes this
// process's PID into it. flock belongs to the open file, so a second lockDir in the same
// process fails too, and the kernel releases it when the process dies. A symlink named
// bot.lock is refused rather than followed: truncating it would clobber its target.
func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockName), os.O_RDWR|os.O_CREATE|noFollow, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid := readPID(f)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, &heldError{pid: pid}
		}
		return nil, fmt.Errorf("flock %s: %w", LockName, err)
	}
	if err := f.Truncate(0); err != nil {
		unlockDir(f)
		return nil, err
	}
	if _, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0); err != nil {
		unlockDir(f)
		return nil, err
	}
	return f, nil
}

func readPID(f *os.File) int {
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 64))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return pid
}

// unlockDir releases the lock. The PID stays in the file; the next holder overwrites it.
func unlockDir(f *os.File) {
	if f == nil {
		return
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	f.Close()
}
