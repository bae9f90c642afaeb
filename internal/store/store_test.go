//go:build unix

package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

// TestMain doubles as the child process some tests need (another bot on the same
// data_dir, an unprivileged user, a crash): STORE_CHILD selects the part to play.
func TestMain(m *testing.M) {
	if mode := os.Getenv("STORE_CHILD"); mode != "" {
		os.Exit(child(mode, os.Getenv("STORE_DIR")))
	}
	os.Exit(m.Run())
}

func child(mode, dir string) int {
	ctx := context.Background()
	s, err := Open(dir, Options{})
	switch mode {
	case "readonly":
		// Report how Open failed; the parent checks it.
		if err == nil {
			s.Close()
			fmt.Println("opened")
			return 0
		}
		fmt.Printf("notwritable=%v\n%v\n", errors.Is(err, ErrNotWritable), err)
		return 0
	case "lock":
		// Hold data_dir until the parent closes our stdin.
		if err != nil {
			fmt.Printf("error: %v\n", err)
			return 1
		}
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
		s.Close()
		return 0
	case "crash":
		// Receive one message and die without Finish or Close.
		if err != nil {
			fmt.Printf("error: %v\n", err)
			return 1
		}
		if _, err := s.Receive(ctx, chat.Message{ID: os.Getenv("STORE_MSG"), User: "zhangsan", Kind: chat.KindText, Text: "vm start 101"}); err != nil {
			fmt.Printf("error: %v\n", err)
			return 1
		}
		fmt.Println("received")
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	fmt.Printf("unknown STORE_CHILD %q\n", mode)
	return 2
}

// startChild runs this test binary as a child in the given mode and returns it with its
// stdin (close it to end a "lock" child) and the first line it printed.
func startChild(t *testing.T, mode, dir string, env ...string) (*exec.Cmd, io.WriteCloser, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{"GORACE=atexit_sleep_ms=0", "STORE_CHILD=" + mode, "STORE_DIR=" + dir}, env...)...)
	cmd.Stderr = os.Stderr
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
	t.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("child %s: read first line: %v", mode, err)
	}
	return cmd, stdin, strings.TrimSpace(line)
}

// clock is a settable time source for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// openTest opens a store in a fresh directory with a fake clock; it is closed at cleanup.
func openTest(t testing.TB, opts Options) (*Store, *clock) {
	t.Helper()
	c := newClock()
	if opts.Now == nil {
		opts.Now = c.Now
	}
	if opts.Logger == nil {
		if tt, ok := t.(*testing.T); ok {
			opts.Logger = zaptest.NewLogger(tt)
		}
	}
	s, err := Open(t.TempDir(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, c
}

func textMsg(id, user, text string) chat.Message {
	return chat.Message{ID: id, User: user, Kind: chat.KindText, Text: text,
		Time: time.Date(2026, 3, 1, 11, 59, 0, 0, time.UTC)}
}

func mustReceive(t *testing.T, s *Store, m chat.Message) {
	t.Helper()
	fresh, err := s.Receive(context.Background(), m)
	if err != nil || !fresh {
		t.Fatalf("Receive(%q) = %v, %v; want true, nil", m.ID, fresh, err)
	}
}
