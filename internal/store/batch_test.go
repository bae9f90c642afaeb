//go:build unix

package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// Many goroutines receiving and finishing at once share group commits; each key is
// still fresh exactly once, every Finish lands, and all of it is there after a reopen.
func TestGroupCommitConcurrent(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const goroutines, keys = 32, 40
	var fresh [keys]atomic.Int32
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				id := "k" + strconv.Itoa(k)
				ok, err := s.Receive(ctx, textMsg(id, "zhangsan", "help"))
				if err != nil {
					t.Errorf("Receive(%s): %v", id, err)
					return
				}
				if ok {
					fresh[k].Add(1)
				}
				if g%2 == 0 {
					if err := s.Finish(ctx, id); err != nil {
						t.Errorf("Finish(%s): %v", id, err)
					}
				}
			}
		}()
	}
	wg.Wait()
	for k := range keys {
		if got := fresh[k].Load(); got != 1 {
			t.Errorf("key k%d fresh %d times, want 1", k, got)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	left, err := s.Unfinished(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("unfinished after reopen = %d, want 0", len(left))
	}
	for k := range keys {
		if ok, err := s.Receive(ctx, textMsg("k"+strconv.Itoa(k), "zhangsan", "help")); err != nil || ok {
			t.Errorf("Receive(k%d) after reopen = %v, %v; want a duplicate", k, ok, err)
		}
	}
}

// A Finish of an unknown key in the same group commit as good writes fails alone.
func TestGroupCommitErrorsStayPerCall(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("m%d", i)
			if i%5 == 0 {
				errs[i] = s.Finish(ctx, "unknown-"+id)
				return
			}
			if _, err := s.Receive(ctx, textMsg(id, "zhangsan", "help")); err != nil {
				errs[i] = err
				return
			}
			errs[i] = s.Finish(ctx, id)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		var want error
		if i%5 == 0 {
			want = ErrNotFound
		}
		if !errors.Is(err, want) {
			t.Errorf("call %d: err = %v, want %v", i, err, want)
		}
	}
}

// A Finish waits for the next Receive and shares its transaction: a message at a steady
// rate costs one commit, not two. A lone Finish is committed all the same.
func TestFinishSharesTheNextReceiveCommit(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Receive(ctx, textMsg("a", "zhangsan", "help")); err != nil {
		t.Fatal(err)
	}
	before := s.w.commits.Load()
	finished := make(chan error, 1)
	go func() { finished <- s.Finish(ctx, "a") }()
	for !s.w.held.Load() {
		runtime.Gosched() // until the writer holds the Finish (an event, not a time)
	}
	if _, err := s.Receive(ctx, textMsg("b", "zhangsan", "help")); err != nil {
		t.Fatal(err)
	}
	if err := <-finished; err != nil {
		t.Fatal(err)
	}
	if got := s.w.commits.Load() - before; got != 1 {
		t.Errorf("Finish(a) + Receive(b) took %d transactions, want 1", got)
	}
	if err := s.Finish(ctx, "b"); err != nil { // alone: committed after the linger
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if left, err := s.Unfinished(ctx); err != nil || len(left) != 0 {
		t.Errorf("unfinished after reopen = %v, %v; want none", left, err)
	}
}

// Receive and Finish after Close fail instead of hanging.
func TestWriteAfterClose(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Receive(context.Background(), textMsg("late", "zhangsan", "help")); err == nil {
		t.Error("Receive after Close: got nil error")
	}
	if err := s.Finish(context.Background(), "late"); err == nil {
		t.Error("Finish after Close: got nil error")
	}
}

// BenchmarkReceiveFinishParallel64 is the bot under load: many callbacks and workers
// writing at once, which group commit turns into few transactions.
func BenchmarkReceiveFinishParallel64(b *testing.B) {
	s, _ := openTest(b, Options{})
	ctx := context.Background()
	var worker atomic.Int32
	b.ReportAllocs()
	b.SetParallelism(32) // 64 goroutines on 2 CPUs
	b.RunParallel(func(pb *testing.PB) {
		base := strconv.FormatInt(int64(worker.Add(1)), 10)
		for i := 0; pb.Next(); i++ {
			m := benchMsg(i)
			m.ID = base + "-" + m.ID
			if _, err := s.Receive(ctx, m); err != nil {
				b.Fatal(err)
			}
			if err := s.Finish(ctx, m.ID); err != nil {
				b.Fatal(err)
			}
		}
	})
}
