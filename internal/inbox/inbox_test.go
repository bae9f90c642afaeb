package inbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

// memJournal is an in-memory Journal.
type memJournal struct {
	mu       sync.Mutex
	received map[string]bool // id -> finished
	forgot   []string
	finished chan string
}

func newMemJournal() *memJournal {
	return &memJournal{received: map[string]bool{}, finished: make(chan string, 100)}
}

func (j *memJournal) Receive(_ context.Context, m chat.Message) (bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.received[m.ID]; ok {
		return false, nil
	}
	j.received[m.ID] = false
	return true, nil
}

func (j *memJournal) Finish(_ context.Context, id string) error {
	j.mu.Lock()
	j.received[id] = true
	j.mu.Unlock()
	j.finished <- id
	return nil
}

func (j *memJournal) Forget(_ context.Context, id string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	delete(j.received, id)
	j.forgot = append(j.forgot, id)
	return nil
}

// recReplier records replies.
type recReplier struct {
	mu      sync.Mutex
	replies []string
}

func (r *recReplier) Reply(_ context.Context, user string, rep chat.Reply) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.replies = append(r.replies, user+":"+rep.Title)
	return nil
}

func (r *recReplier) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.replies...)
}

func echo(_ context.Context, m chat.Message) []chat.Reply {
	return []chat.Reply{{Kind: chat.ReplyText, Title: m.Text}}
}

func waitFinished(t *testing.T, j *memJournal, n int) []string {
	t.Helper()
	var ids []string
	timeout := time.After(10 * time.Second)
	for len(ids) < n {
		select {
		case id := <-j.finished:
			ids = append(ids, id)
		case <-timeout:
			t.Fatalf("finished %d of %d messages", len(ids), n)
		}
	}
	return ids
}

func TestDuplicatesRunOnce(t *testing.T) {
	j, rep := newMemJournal(), &recReplier{}
	in := New(Options{Journal: j, Handler: chat.HandlerFunc(echo), Replier: rep, Workers: 4})
	m := chat.Message{ID: "m1", User: "zhangsan", Kind: chat.KindText, Text: "help"}
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := in.Accept(context.Background(), m); err != nil {
				t.Errorf("Accept: %v", err)
			}
		}()
	}
	wg.Wait()
	waitFinished(t, j, 1)
	if err := in.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := rep.all(), []string{"zhangsan:help"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("replies = %v, want %v", got, want)
	}
}

func TestAcceptDoesNotWaitForProcessing(t *testing.T) {
	j, rep := newMemJournal(), &recReplier{}
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	block := chat.HandlerFunc(func(ctx context.Context, m chat.Message) []chat.Reply {
		started <- struct{}{}
		<-release
		return echo(ctx, m)
	})
	in := New(Options{Journal: j, Handler: block, Replier: rep, Workers: 1})
	if err := in.Accept(context.Background(), chat.Message{ID: "a", User: "u", Text: "x"}); err != nil {
		t.Fatal(err)
	}
	<-started
	// The only worker is blocked; Accept must still return at once.
	if err := in.Accept(context.Background(), chat.Message{ID: "b", User: "u", Text: "y"}); err != nil {
		t.Fatalf("Accept while the worker is busy: %v", err)
	}
	if got := in.Depth(); got != 1 {
		t.Errorf("Depth = %d, want 1", got)
	}
	close(release)
	waitFinished(t, j, 2)
	if err := in.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestQueueFullIsBusyAndForgotten(t *testing.T) {
	j, rep := newMemJournal(), &recReplier{}
	release := make(chan struct{})
	started := make(chan struct{}, 10)
	block := chat.HandlerFunc(func(ctx context.Context, m chat.Message) []chat.Reply {
		started <- struct{}{}
		<-release
		return nil
	})
	in := New(Options{Journal: j, Handler: block, Replier: rep, Workers: 1, QueueSize: 1})
	must := func(id string) {
		t.Helper()
		if err := in.Accept(context.Background(), chat.Message{ID: id}); err != nil {
			t.Fatalf("Accept(%s): %v", id, err)
		}
	}
	must("1")
	<-started
	must("2") // fills the queue
	if err := in.Accept(context.Background(), chat.Message{ID: "3"}); !errors.Is(err, ErrBusy) {
		t.Fatalf("Accept on a full queue = %v, want ErrBusy", err)
	}
	j.mu.Lock()
	forgot := fmt.Sprint(j.forgot)
	_, kept := j.received["3"]
	j.mu.Unlock()
	if forgot != "[3]" || kept {
		t.Errorf("forgot = %s, still recorded = %v; want the refused message forgotten", forgot, kept)
	}
	close(release)
	waitFinished(t, j, 2)
	// WeCom's retry of the refused message is processed now.
	must("3")
	waitFinished(t, j, 1)
	_ = in.Close(context.Background())
}

func TestResumeAndPanic(t *testing.T) {
	j, rep := newMemJournal(), &recReplier{}
	h := chat.HandlerFunc(func(ctx context.Context, m chat.Message) []chat.Reply {
		if m.Text == "boom" {
			panic("boom")
		}
		return echo(ctx, m)
	})
	in := New(Options{Journal: j, Handler: h, Replier: rep, Workers: 2})
	err := in.Resume(context.Background(),
		chat.Message{ID: "r1", User: "u", Text: "boom"},
		chat.Message{ID: "r2", User: "u", Text: "again"})
	if err != nil {
		t.Fatal(err)
	}
	waitFinished(t, j, 2)
	if err := in.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got, want := fmt.Sprint(rep.all()), "[u:again]"; got != want {
		t.Errorf("replies = %s, want %s", got, want)
	}
	if err := in.Accept(context.Background(), chat.Message{ID: "late"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Accept after Close = %v, want ErrClosed", err)
	}
}

func TestCloseCancelsWorkAfterDeadline(t *testing.T) {
	j, rep := newMemJournal(), &recReplier{}
	started := make(chan struct{}, 1)
	h := chat.HandlerFunc(func(ctx context.Context, m chat.Message) []chat.Reply {
		started <- struct{}{}
		<-ctx.Done()
		return nil
	})
	in := New(Options{Journal: j, Handler: h, Replier: rep, Workers: 1})
	if err := in.Accept(context.Background(), chat.Message{ID: "slow"}); err != nil {
		t.Fatal(err)
	}
	<-started
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := in.Close(ctx); err == nil {
		t.Fatal("Close with an expired context = nil, want an error")
	}
	j.mu.Lock()
	done := j.received["slow"]
	j.mu.Unlock()
	if done {
		t.Error("a message cut by shutdown was recorded as done; it must be resumed at the next start")
	}
}

// flakyReplier fails its first n sends.
type flakyReplier struct {
	recReplier
	mu    sync.Mutex
	fails int
	tries int
}

func (f *flakyReplier) Reply(ctx context.Context, user string, rep chat.Reply) error {
	f.mu.Lock()
	f.tries++
	fail := f.tries <= f.fails
	f.mu.Unlock()
	if fail {
		return errors.New("wecom: HTTP 500")
	}
	return f.recReplier.Reply(ctx, user, rep)
}

// WeCom down for a while: the reply computed once is sent when it is back, and the
// command is not run again.
func TestReplyRetriedUntilDelivered(t *testing.T) {
	j := newMemJournal()
	rep := &flakyReplier{fails: 3}
	var runs atomic.Int32
	h := chat.HandlerFunc(func(ctx context.Context, m chat.Message) []chat.Reply {
		runs.Add(1)
		return echo(ctx, m)
	})
	in := New(Options{Journal: j, Handler: h, Replier: rep, ReplyBackoff: time.Millisecond})
	if err := in.Accept(context.Background(), chat.Message{ID: "r", User: "u", Text: "late"}); err != nil {
		t.Fatal(err)
	}
	waitFinished(t, j, 1)
	_ = in.Close(context.Background())
	if got := fmt.Sprint(rep.all()); got != "[u:late]" {
		t.Errorf("delivered %s, want one reply", got)
	}
	if rep.tries != 4 || runs.Load() != 1 {
		t.Errorf("tries = %d, handler runs = %d; want 4 tries of one computed reply", rep.tries, runs.Load())
	}
}

// A reply that cannot be delivered within ReplyRetryFor is given up, and the message is
// still recorded as done (it is not run again at the next start).
func TestReplyGivenUpAfterRetryFor(t *testing.T) {
	j := newMemJournal()
	rep := &flakyReplier{fails: 1 << 30}
	in := New(Options{Journal: j, Handler: chat.HandlerFunc(echo), Replier: rep,
		ReplyBackoff: time.Millisecond, ReplyRetryFor: 20 * time.Millisecond})
	if err := in.Accept(context.Background(), chat.Message{ID: "x", User: "u", Text: "lost"}); err != nil {
		t.Fatal(err)
	}
	waitFinished(t, j, 1)
	_ = in.Close(context.Background())
	if rep.tries < 2 {
		t.Errorf("tries = %d, want the reply tried again before giving up", rep.tries)
	}
}
