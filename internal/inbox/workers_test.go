package inbox

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

// Workers bounds the messages processed at once; the rest wait in the queue.
func TestWorkersBoundConcurrency(t *testing.T) {
	j := newMemJournal()
	release := make(chan struct{})
	var running, peak atomic.Int32
	started := make(chan struct{}, 10)
	h := chat.HandlerFunc(func(ctx context.Context, m chat.Message) []chat.Reply {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		started <- struct{}{}
		<-release
		running.Add(-1)
		return nil
	})
	in := New(Options{Journal: j, Handler: h, Replier: &recReplier{}, Workers: 3})
	for i := range 5 {
		if err := in.Accept(context.Background(), chat.Message{ID: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		<-started
	}
	if got, want := in.Depth(), 2; got != want {
		t.Errorf("Depth with 3 workers busy = %d, want %d", got, want)
	}
	close(release)
	waitFinished(t, j, 5)
	if got := peak.Load(); got != 3 {
		t.Errorf("messages processed at once = %d, want 3", got)
	}
	if err := in.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// An idle inbox keeps no worker: they end when the queue is empty and start again with
// the next message.
func TestWorkersEndWhenIdle(t *testing.T) {
	j := newMemJournal()
	in := New(Options{Journal: j, Handler: chat.HandlerFunc(echo), Replier: &recReplier{}, Workers: 4})
	for i := range 8 {
		if err := in.Accept(context.Background(), chat.Message{ID: strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitFinished(t, j, 8)
	waitNoWorkers(t, in)
	if err := in.Accept(context.Background(), chat.Message{ID: "again"}); err != nil {
		t.Fatal(err)
	}
	if got := waitFinished(t, j, 1); got[0] != "again" {
		t.Errorf("finished %v, want [again]", got)
	}
	if err := in.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func waitNoWorkers(t *testing.T, in *Inbox) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(in.slots) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d workers still running on an empty queue", len(in.slots))
		}
		runtime.Gosched()
	}
}

// Messages accepted from many goroutines while workers come and go are each processed
// exactly once: none is stranded in the queue by a worker that was just leaving.
func TestWorkersNeverStrandAMessage(t *testing.T) {
	j := newMemJournal()
	j.finished = make(chan string, 2000)
	var seen sync.Map
	var dups atomic.Int32
	h := chat.HandlerFunc(func(ctx context.Context, m chat.Message) []chat.Reply {
		if _, loaded := seen.LoadOrStore(m.ID, true); loaded {
			dups.Add(1)
		}
		if m.ID[len(m.ID)-1] == '0' {
			runtime.Gosched()
		}
		return nil
	})
	in := New(Options{Journal: j, Handler: h, Replier: &recReplier{}, Workers: 2, QueueSize: 2000})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				id := strconv.Itoa(g) + "-" + strconv.Itoa(i)
				if err := in.Accept(context.Background(), chat.Message{ID: id}); err != nil {
					t.Errorf("Accept(%s): %v", id, err)
				}
				if i%50 == 0 {
					time.Sleep(time.Millisecond) // let the workers run dry and leave
				}
			}
		}()
	}
	wg.Wait()
	waitFinished(t, j, 1600)
	if n := dups.Load(); n != 0 {
		t.Errorf("%d messages processed twice", n)
	}
	if err := in.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
