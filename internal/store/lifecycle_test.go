//go:build unix

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
)

func TestOpenCreatesDirAndLock(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "data")
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()

	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := fi.Mode().Perm(), os.FileMode(0o700); got != want {
		t.Errorf("data_dir mode = %v, want %v", got, want)
	}
	b, err := os.ReadFile(filepath.Join(dir, LockName))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(b)), strconv.Itoa(os.Getpid()); got != want {
		t.Errorf("lock file holds %q, want pid %q", got, want)
	}
	var version int
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if got, want := version, SchemaVersion(); got != want {
		t.Errorf("user_version = %d, want %d", got, want)
	}
	var mode string
	if err := s.db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if got, want := mode, "wal"; got != want {
		t.Errorf("journal_mode = %q, want %q", got, want)
	}
	var sync, fk int
	if err := s.db.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil {
		t.Fatal(err)
	}
	if sync != 1 || fk != 1 {
		t.Errorf("synchronous = %d, foreign_keys = %d; want 1 (NORMAL), 1", sync, fk)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestOpenBadOptions(t *testing.T) {
	tests := []struct {
		name string
		dir  string
		opts Options
	}{
		{"empty dir", "", Options{}},
		{"negative audit retention", t.TempDir(), Options{AuditRetention: -time.Hour}},
		{"negative dedupe retention", t.TempDir(), Options{DedupeRetention: -time.Hour}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Open(tt.dir, tt.opts)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want an error")
			}
		})
	}
}

func TestLockSameProcess(t *testing.T) {
	dir := t.TempDir()
	first, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("first Open: %v", err)
	}
	_, err = Open(dir, Options{})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: err = %v, want ErrLocked", err)
	}
	want := fmt.Sprintf("data_dir %s is in use by another bot (pid %d)", dir, os.Getpid())
	if !strings.Contains(err.Error(), want) {
		t.Errorf("second Open: err = %q, want it to contain %q", err, want)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	again.Close()
}

func TestLockOtherProcess(t *testing.T) {
	dir := t.TempDir()
	cmd, stdin, line := startChild(t, "lock", dir)
	if line != "ready" {
		t.Fatalf("child said %q, want ready", line)
	}

	_, err := Open(dir, Options{})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("Open while child holds it: err = %v, want ErrLocked", err)
	}
	if want := fmt.Sprintf("(pid %d)", cmd.Process.Pid); !strings.Contains(err.Error(), want) {
		t.Errorf("err = %q, want it to name the child %q", err, want)
	}

	t.Run("child releases on exit", func(t *testing.T) {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("child: %v", err)
		}
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("Open after child exit: %v", err)
		}
		s.Close()
	})
}

func TestLockReleasedByDeath(t *testing.T) {
	dir := t.TempDir()
	cmd, _, line := startChild(t, "lock", dir)
	if line != "ready" {
		t.Fatalf("child said %q, want ready", line)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after the holder was killed: %v", err)
	}
	s.Close()
}

func TestOpenNotWritable(t *testing.T) {
	base := t.TempDir()
	// The child (or this process) must reach the directory through its parents.
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		dir  string // relative to base
		mk   string // directory made 0555
	}{
		{"existing read-only dir", "ro", "ro"},
		{"missing dir under read-only parent", "ro2/data", "ro2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(base, tt.dir)
			mk := filepath.Join(base, tt.mk)
			if err := os.Mkdir(mk, 0o555); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(mk, 0o555); err != nil { // umask
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(mk, 0o755) })

			var got string
			if os.Geteuid() == 0 {
				got = openAsNobody(t, base, dir)
			} else {
				_, err := Open(dir, Options{})
				got = fmt.Sprintf("notwritable=%v\n%v", errors.Is(err, ErrNotWritable), err)
			}
			if !strings.HasPrefix(got, "notwritable=true\n") {
				t.Fatalf("Open: got %q, want an ErrNotWritable", got)
			}
			if want := fmt.Sprintf("data_dir %s is not writable: ", dir); !strings.Contains(got, want) {
				t.Errorf("Open: got %q, want it to contain %q", got, want)
			}
		})
	}
}

// openAsNobody runs Open(dir) in a child process as uid/gid 65534, since root ignores
// permission bits, and returns what it reported.
func openAsNobody(t *testing.T, base, dir string) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary lives in a directory only root can read: give nobody a copy.
	bin := filepath.Join(base, "store.test")
	if _, err := os.Stat(bin); err != nil {
		if err := copyFile(exe, bin, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), "GORACE=atexit_sleep_ms=0", "STORE_CHILD=readonly", "STORE_DIR="+dir)
	cmd.Dir = base
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Skipf("cannot run a child as nobody here: %v", err)
		}
		t.Fatalf("child: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func TestDiskFull(t *testing.T) {
	ctx := context.Background()
	t.Run("at open", func(t *testing.T) {
		dir := t.TempDir()
		_, err := Open(dir, Options{maxPageCount: 2})
		if !errors.Is(err, ErrDiskFull) {
			t.Fatalf("Open: err = %v, want ErrDiskFull", err)
		}
		if want := fmt.Sprintf("data_dir %s: disk full: ", dir); !strings.Contains(err.Error(), want) {
			t.Errorf("Open: err = %q, want it to contain %q", err, want)
		}
		// A failed Open leaves data_dir free.
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("Open after a failed Open: %v", err)
		}
		s.Close()
	})
	t.Run("at receive", func(t *testing.T) {
		s, _ := openTest(t, Options{maxPageCount: 40})
		text := strings.Repeat("x", 2048)
		var err error
		for i := 0; i < 1000 && err == nil; i++ {
			_, err = s.Receive(ctx, textMsg(fmt.Sprintf("m%d", i), "zhangsan", text))
		}
		if !errors.Is(err, ErrDiskFull) {
			t.Fatalf("Receive: err = %v, want ErrDiskFull", err)
		}
		if want := fmt.Sprintf("store: receive: data_dir %s: disk full: ", s.Dir()); !strings.Contains(err.Error(), want) {
			t.Errorf("Receive: err = %q, want it to contain %q", err, want)
		}
		// What is in stays readable, and freeing space makes writes work again.
		if _, ok, err := s.Get(ctx, "b", "k"); err != nil || ok {
			t.Errorf("Get on a full store = %v, %v; want false, nil", ok, err)
		}
		if err := s.Forget(ctx, "m0"); err != nil {
			t.Fatalf("Forget on a full store: %v", err)
		}
		if _, err := s.Receive(ctx, textMsg("after", "zhangsan", "hi")); err != nil {
			t.Errorf("Receive after freeing space: %v", err)
		}
	})
}

// openRaw opens the database file of dir without the store, for tests that prepare or
// inspect a database directly.
func openRaw(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	return db
}

func TestMigrateFromOldVersion(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// A data_dir written by a bot that knew only schema version 1.
	db := openRaw(t, dir)
	from, to, err := migrate(ctx, db, migrations[:1])
	if err != nil || from != 0 || to != 1 {
		t.Fatalf("migrate to v1 = %d, %d, %v; want 0, 1, nil", from, to, err)
	}
	if _, err := db.Exec(`INSERT INTO inbox (key, user, kind, text, event_key, task_id, response_code, msg_time, received, finished)
		VALUES ('old', 'zhangsan', 'text', 'help', '', '', '', 0, 1, 2)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO kv (bucket, key, val) VALUES ('alerts', 'pve1', x'01')`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s, err := Open(dir, Options{Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("Open old data_dir: %v", err)
	}
	defer s.Close()
	var version int
	if err := s.db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if got, want := version, SchemaVersion(); got != want {
		t.Errorf("user_version after Open = %d, want %d", got, want)
	}
	if fresh, err := s.Receive(ctx, textMsg("old", "zhangsan", "help")); err != nil || fresh {
		t.Errorf("Receive of a message recorded by v1 = %v, %v; want a duplicate", fresh, err)
	}
	if v, ok, err := s.Get(ctx, "alerts", "pve1"); err != nil || !ok || string(v) != "\x01" {
		t.Errorf("Get of v1 data = %q, %v, %v", v, ok, err)
	}
	// The tables of version 2 work.
	if err := s.Audit(ctx, AuditEntry{User: "zhangsan", Command: "help", Decision: DecisionAllowed}); err != nil {
		t.Errorf("Audit after migration: %v", err)
	}
}

func TestMigrateStepFailsAtomically(t *testing.T) {
	ctx := context.Background()
	db := openRaw(t, t.TempDir())
	defer db.Close()
	steps := []string{
		`CREATE TABLE a (x INTEGER)`,
		`CREATE TABLE b (x INTEGER); CREATE TABLE broken (`,
	}
	_, to, err := migrate(ctx, db, steps)
	if err == nil || to != 1 {
		t.Fatalf("migrate = %d, %v; want stopped at 1 with an error", to, err)
	}
	var version, tables int
	db.QueryRow("PRAGMA user_version").Scan(&version)
	db.QueryRow("SELECT count(*) FROM sqlite_master WHERE name = 'b'").Scan(&tables)
	if version != 1 || tables != 0 {
		t.Errorf("after a failed step: user_version = %d, table b exists = %d; want 1, 0", version, tables)
	}
}

func TestOpenNewerSchema(t *testing.T) {
	dir := t.TempDir()
	db := openRaw(t, dir)
	if _, err := db.Exec(fmt.Sprintf("PRAGMA user_version = %d", SchemaVersion()+7)); err != nil {
		t.Fatal(err)
	}
	db.Close()

	for i := range 2 { // the lock is released after the failure: the second try fails the same way
		_, err := Open(dir, Options{})
		if !errors.Is(err, ErrNewerSchema) {
			t.Fatalf("Open #%d: err = %v, want ErrNewerSchema", i+1, err)
		}
		if want := fmt.Sprintf("data_dir %s was written by a newer bot", dir); !strings.Contains(err.Error(), want) {
			t.Errorf("Open #%d: err = %q, want it to contain %q", i+1, err, want)
		}
	}
}

func TestCrashResume(t *testing.T) {
	ctx := context.Background()
	t.Run("close without finish", func(t *testing.T) {
		dir := t.TempDir()
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		mustReceive(t, s, textMsg("done", "zhangsan", "vm list"))
		mustReceive(t, s, textMsg("cut", "zhangsan", "vm start 101"))
		if err := s.Finish(ctx, "done"); err != nil {
			t.Fatal(err)
		}
		s.Close()

		s, err = Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		got, err := s.Unfinished(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Key != "cut" || got[0].Msg.Text != "vm start 101" {
			t.Fatalf("Unfinished after reopen = %+v, want only %q", got, "cut")
		}
		for _, key := range []string{"done", "cut"} {
			if fresh, err := s.Receive(ctx, textMsg(key, "zhangsan", "retry")); err != nil || fresh {
				t.Errorf("Receive(%q) after reopen = %v, %v; want a duplicate", key, fresh, err)
			}
		}
	})
	t.Run("killed process", func(t *testing.T) {
		dir := t.TempDir()
		cmd, _, line := startChild(t, "crash", dir, "STORE_MSG=killed-1")
		if line != "received" {
			t.Fatalf("child said %q, want received", line)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
			t.Fatalf("child exit = %v, want killed by SIGKILL", err)
		}
		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("Open after the crash: %v", err)
		}
		defer s.Close()
		got, err := s.Unfinished(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Key != "killed-1" || got[0].Msg.User != "zhangsan" {
			t.Fatalf("Unfinished after the crash = %+v, want killed-1", got)
		}
	})
}

func TestBackup(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, Options{})
	mustReceive(t, s, textMsg("m1", "zhangsan", "vm list"))
	if err := s.Put(ctx, "alerts", "pve1", []byte("down")); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "restore", FileName)
	if err := s.Backup(ctx, dst); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	// The live store keeps working.
	mustReceive(t, s, textMsg("m2", "zhangsan", "vm list"))

	if err := s.Backup(ctx, dst); err == nil {
		t.Error("Backup over an existing file succeeded, want an error")
	}

	b, err := Open(filepath.Dir(dst), Options{})
	if err != nil {
		t.Fatalf("Open the backup: %v", err)
	}
	defer b.Close()
	if fresh, err := b.Receive(ctx, textMsg("m1", "zhangsan", "vm list")); err != nil || fresh {
		t.Errorf("backup: Receive(m1) = %v, %v; want a duplicate", fresh, err)
	}
	if fresh, err := b.Receive(ctx, textMsg("m2", "zhangsan", "vm list")); err != nil || !fresh {
		t.Errorf("backup: Receive(m2) = %v, %v; want fresh (written after the backup)", fresh, err)
	}
	if v, ok, err := b.Get(ctx, "alerts", "pve1"); err != nil || !ok || string(v) != "down" {
		t.Errorf("backup: Get = %q, %v, %v; want down", v, ok, err)
	}
}

func TestPrune(t *testing.T) {
	ctx := context.Background()
	s, clk := openTest(t, Options{AuditRetention: 30 * 24 * time.Hour})
	start := clk.Now()

	// t0: records that will age out.
	mustReceive(t, s, textMsg("finished-old", "zhangsan", "vm list"))
	s.Finish(ctx, "finished-old")
	mustReceive(t, s, textMsg("unfinished-old", "zhangsan", "vm list"))
	s.BeginAction(ctx, Action{ID: "act-done", User: "zhangsan"})
	s.ActionDone(ctx, "act-done", "ok")
	s.BeginAction(ctx, Action{ID: "act-open", User: "zhangsan"})
	s.Audit(ctx, AuditEntry{User: "zhangsan", Command: "vm list", Decision: DecisionAllowed})
	conf := Confirmation{ID: strings.Repeat("a", 22), Code: "1234", User: "zhangsan", Action: "shutdown", Expires: start.Add(5 * time.Minute)}
	if err := s.CreateConfirmation(ctx, conf); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		advance time.Duration
		want    int64
		left    string // what must still be there, checked below
	}{
		{time.Hour, 0, "everything is young"},
		{47 * time.Hour, 0, "48h: retention is 'older than'"},
		{time.Hour, 3, "49h: finished inbox, done action, confirmation expired >48h ago"},
		{30 * 24 * time.Hour, 1, "audit older than 30 days"},
		{365 * 24 * time.Hour, 0, "unfinished message and open action stay"},
	}
	for _, st := range steps {
		clk.Advance(st.advance)
		got, err := s.Prune(ctx)
		if err != nil {
			t.Fatalf("%s: Prune: %v", st.left, err)
		}
		if got != st.want {
			t.Errorf("%s: Prune = %d, want %d", st.left, got, st.want)
		}
	}
	if un, _ := s.Unfinished(ctx); len(un) != 1 || un[0].Key != "unfinished-old" {
		t.Errorf("Unfinished after pruning = %+v, want unfinished-old", un)
	}
	if open, _ := s.OpenActions(ctx); len(open) != 1 || open[0].ID != "act-open" {
		t.Errorf("OpenActions after pruning = %+v, want act-open", open)
	}
	if fresh, _ := s.Receive(ctx, textMsg("finished-old", "zhangsan", "vm list")); !fresh {
		t.Error("a pruned message key is still a duplicate")
	}
}
