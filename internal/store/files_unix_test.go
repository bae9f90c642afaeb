//go:build unix

package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
)

// spyExecer records the mode of the backup file at the moment SQLite is asked to write it.
type spyExecer struct {
	db   Execer
	dst  string
	mode os.FileMode
	err  error
}

func (s *spyExecer) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var st os.FileInfo
	if st, s.err = os.Lstat(s.dst); s.err == nil {
		s.mode = st.Mode()
	}
	return s.db.ExecContext(ctx, query, args...)
}

// TestBackupPrivateFromTheFirstByte: the copy exists, a regular file of mode 0600, before
// SQLite writes a byte of it (SQLite creates files 0644, and whoever opens the file
// during the copy keeps read access after a final chmod).
func TestBackupPrivateFromTheFirstByte(t *testing.T) {
	s, _ := openTest(t, Options{})
	mustReceive(t, s, textMsg("m1", "zhangsan", "vm list"))
	dst := filepath.Join(t.TempDir(), FileName)
	spy := &spyExecer{db: s.db, dst: dst}
	if err := VacuumInto(context.Background(), spy, dst); err != nil {
		t.Fatalf("VacuumInto: %v", err)
	}
	if spy.err != nil {
		t.Fatalf("when SQLite started the copy, %s did not exist (%v): SQLite creates it with its own mode", dst, spy.err)
	}
	if !spy.mode.IsRegular() || spy.mode.Perm() != 0o600 {
		t.Errorf("mode when SQLite started the copy = %v, want a regular file -rw-------", spy.mode)
	}
	if st, err := os.Stat(dst); err != nil || st.Mode().Perm() != 0o600 || st.Size() == 0 {
		t.Errorf("backup after the copy: %v, %v; want a non-empty -rw------- file", st, err)
	}
}

// TestBackupRefusesALink: a dangling symlink at the destination is refused, not written
// through (the copy would land wherever the link points, readable by its owner).
func TestBackupRefusesALink(t *testing.T) {
	s, _ := openTest(t, Options{})
	dir := t.TempDir()
	target := filepath.Join(dir, "elsewhere.db")
	dst := filepath.Join(dir, "backup.db")
	if err := os.Symlink(target, dst); err != nil {
		t.Fatal(err)
	}
	if err := s.Backup(context.Background(), dst); err == nil {
		t.Error("Backup through a dangling symlink succeeded, want it refused")
	}
	if _, err := os.Lstat(target); !os.IsNotExist(err) {
		t.Errorf("the symlink's target was created (%v): the backup wrote through the link", err)
	}
}

// TestLockRefusesASymlink: a bot.lock planted as a symlink is refused and its target left
// alone (opening it with truncation would clobber the target).
func TestLockRefusesASymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(t.TempDir(), "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, filepath.Join(dir, LockName)); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(dir, Options{}); err == nil {
		s.Close()
		t.Error("Open with bot.lock a symlink succeeded, want it refused")
	}
	if b, err := os.ReadFile(victim); err != nil || string(b) != "precious\n" {
		t.Errorf("symlink target after Open = %q, %v; want it untouched", b, err)
	}
}
