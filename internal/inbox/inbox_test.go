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
	order    []chat.Message  // as received
	finished chan string
	backlogs int // Backlog calls
	// hold, when set, makes Backlog tell entered and wait for hold to close; holdAfter
	// does the same after reading, before answering.
	hold, entered chan struct{}
	holdAfter     bool
}

func newMemJournal() *memJournal {
	return &memJournal{received: map[string]bool{}, finished: make(chan string, 1000)}
}

func (j *memJournal) Receive(_ context.Context, m chat.Message) (bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, ok := j.received[m.ID]; ok {
		return false, nil
	}
	j.received[m.ID] = false
	j.order = append(j.order, m)
	return true, nil
}

func (j *memJournal) Backlog(_ context.Context, limit int) ([]chat.Message, error) {
	j.mu.Lock()
	hold, entered, after := j.hold, j.entered, j.holdAfter
	j.mu.Unlock()
	if hold != nil && !after {
		entered <- struct{}{}
		<-hold
	}
	if hold != nil && after {
		defer func() {
			entered <- struct{}{}
			<-hold
		}()
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.backlogs++
	var out []chat.Message
	for _, m := range j.order {
		if !j.received[m.ID] && len(out) < limit {
			out = append(out, m)
		}
	}
	return out, nil
}

func (j *memJournal) Finish(_ context.Context, id string) error {
	j.mu.Lock()
	j.received[id] = true
	j.mu.Unlock()
	j.finished <- id
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

// A full in-memory queue refuses nothing: what does not fit waits in the journal, is
// processed from there, oldest first, when a worker is free, and each message exactly once.
func TestFullQueueNeverRefuses(t *testing.T) {
	j, rep := newMemJournal(), &recReplier{}
	release := make(chan struct{})
	started := make(chan struct{}, 100)
	block := chat.HandlerFunc(func(ctx context.Context, m chat.Message) []chat.Reply {
		started <- struct{}{}
		<-release
		return echo(ctx, m)
	})
	in := New(Options{Journal: j, Handler: block, Replier: rep, Workers: 1, QueueSize: 2})
	accept := func(id string) {
		t.Helper()
		if err := in.Accept(context.Background(), chat.Message{ID: id, User: "u", Text: id}); err != nil {
			t.Fatalf("Accept(%s) = %v, want nil: a recorded message is never refused", id, err)
		}
	}
	accept("m00")
	<-started
	for i := 1; i < 50; i++ {
		accept(fmt.Sprintf("m%02d", i))
	}
	if got := in.Backlog(); got != 47 {
		t.Errorf("backlog = %d, want 47 (49 minus the 2 the queue holds)", got)
	}
	accept("m07") // WeCom's retry of a message waiting in the journal: a duplicate
	close(release)
	done := waitFinished(t, j, 50)
	if err := in.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, id := range done {
		seen[id]++
	}
	for i := range 50 {
		if id := fmt.Sprintf("m%02d", i); seen[id] != 1 {
			t.Errorf("%s finished %d times, want once", id, seen[id])
		}
	}
	if got := len(rep.all()); got != 50 {
		t.Errorf("%d replies, want 50", got)
	}
	if got := fmt.Sprint(done[:4]); got != "[m00 m01 m02 m03]" {
		t.Errorf("first finished %s, want the oldest first", got)
	}
	if in.Backlog() != 0 {
		t.Errorf("backlog = %d after draining, want 0", in.Backlog())
	}
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
	// After Close a message is still recorded (and answered 200), for the next start.
	if err := in.Accept(context.Background(), chat.Message{ID: "late"}); err != nil {
		t.Errorf("Accept after Close = %v, want nil", err)
	}
	if backlog, _ := j.Backlog(context.Background(), 10); len(backlog) != 1 || backlog[0].ID != "late" {
		t.Errorf("unfinished after Close = %v, want the late message", backlog)
	}
	if err := in.Resume(context.Background(), chat.Message{ID: "x"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Resume after Close = %v, want ErrClosed", err)
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

// The backlog read from the journal is worked off by every free worker, not by the one
// that read it (which drained a loadgen backlog at one message per WeCom round trip).
func TestBacklogUsesEveryWorker(t *testing.T) {
	j, rep := newMemJournal(), &recReplier{}
	first := make(chan struct{})
	rest := make(chan struct{})
	started := make(chan string, 100)
	h := chat.HandlerFunc(func(ctx context.Context, m chat.Message) []chat.Reply {
		started <- m.ID
		if m.ID < "m03" {
			<-first
		} else {
			<-rest
		}
		return echo(ctx, m)
	})
	in := New(Options{Journal: j, Handler: h, Replier: rep, Workers: 3, QueueSize: 1})
	for i := range 3 {
		id := fmt.Sprintf("m%02d", i)
		if err := in.Accept(context.Background(), chat.Message{ID: id, User: "u"}); err != nil {
			t.Fatal(err)
		}
		if got := <-started; got != id {
			t.Fatalf("started %s, want %s", got, id)
		}
	}
	for i := 3; i < 12; i++ { // one in the queue, the rest in the journal alone
		if err := in.Accept(context.Background(), chat.Message{ID: fmt.Sprintf("m%02d", i), User: "u"}); err != nil {
			t.Fatal(err)
		}
	}
	// Reading the backlog takes a while: the workers that find nothing to do meanwhile end.
	hold := make(chan struct{})
	j.mu.Lock()
	j.hold, j.entered = hold, make(chan struct{}, 10)
	j.mu.Unlock()
	close(first)
	<-j.entered
	j.mu.Lock()
	j.hold = nil
	j.mu.Unlock()
	close(hold)
	timeout := time.After(10 * time.Second)
	for n := 0; n < 3; n++ { // three of the later messages at once: every worker is busy
		select {
		case <-started:
		case <-timeout:
			t.Fatalf("only %d of the later messages run at once, want 3 (one per worker)", n)
		}
	}
	close(rest)
	waitFinished(t, j, 12)
	_ = in.Close(context.Background())
}

// A message that finishes while the backlog is being read is not queued again, although
// the read still shows it unfinished (seen as duplicate replies under loadgen).
func TestBacklogSkipsMessagesFinishedMeanwhile(t *testing.T) {
	j, rep := newMemJournal(), &recReplier{}
	gates := map[string]chan struct{}{"m0": make(chan struct{}), "m1": make(chan struct{})}
	started := make(chan string, 100)
	h := chat.HandlerFunc(func(ctx context.Context, m chat.Message) []chat.Reply {
		started <- m.ID
		if g, ok := gates[m.ID]; ok {
			<-g
		}
		return echo(ctx, m)
	})
	in := New(Options{Journal: j, Handler: h, Replier: rep, Workers: 2, QueueSize: 1})
	for _, id := range []string{"m0", "m1"} {
		if err := in.Accept(context.Background(), chat.Message{ID: id, User: "u", Text: id}); err != nil {
			t.Fatal(err)
		}
		<-started
	}
	for _, id := range []string{"m2", "m3"} { // m2 in the queue, m3 in the journal alone
		if err := in.Accept(context.Background(), chat.Message{ID: id, User: "u", Text: id}); err != nil {
			t.Fatal(err)
		}
	}
	hold := make(chan struct{})
	j.mu.Lock()
	j.hold, j.entered, j.holdAfter = hold, make(chan struct{}, 10), true
	j.mu.Unlock()
	close(gates["m0"]) // its worker runs m2, then reads the backlog: m1 (in work) and m3
	<-j.entered
	j.mu.Lock()
	j.hold = nil
	j.mu.Unlock()
	close(gates["m1"]) // m1 finishes while the read's answer is on its way
	for id := range j.finished {
		if id == "m1" {
			break
		}
	}
	close(hold)
	waitFinished(t, j, 1) // m3; Close then waits for anything else queued (m1 again, were it)
	_ = in.Close(context.Background())
	count := map[string]int{}
	for _, r := range rep.all() {
		count[r]++
	}
	for r, n := range count {
		if n != 1 {
			t.Errorf("reply %q sent %d times, want once", r, n)
		}
	}
	if len(count) != 4 {
		t.Errorf("replies = %v, want one for each of the 4 messages", rep.all())
	}
}
