//go:build unix

package store

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

func TestReceive(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, Options{})
	mustReceive(t, s, textMsg("seen", "zhangsan", "vm list"))
	mustReceive(t, s, textMsg("finished", "zhangsan", "vm list"))
	if err := s.Finish(ctx, "finished"); err != nil {
		t.Fatal(err)
	}
	mustReceive(t, s, textMsg("forgotten", "zhangsan", "vm list"))
	if err := s.Forget(ctx, "forgotten"); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name      string
		msg       chat.Message
		wantFresh bool
		wantErr   bool
	}{
		{"new message", textMsg("new", "zhangsan", "vm list"), true, false},
		{"retry of an unfinished one", textMsg("seen", "zhangsan", "vm list"), false, false},
		{"retry of a finished one", textMsg("finished", "zhangsan", "vm list"), false, false},
		{"retry after Forget", textMsg("forgotten", "zhangsan", "vm list"), true, false},
		{"card click", chat.Message{ID: "resp-code-1", User: "lisi", Kind: chat.KindCardClick, EventKey: "confirm:x", TaskID: "t1", ResponseCode: "resp-code-1"}, true, false},
		{"no id", textMsg("", "zhangsan", "vm list"), false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fresh, err := s.Receive(ctx, tt.msg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Receive err = %v, want error %v", err, tt.wantErr)
			}
			if fresh != tt.wantFresh {
				t.Errorf("Receive fresh = %v, want %v", fresh, tt.wantFresh)
			}
		})
	}
}

func TestReceiveConcurrentDuplicates(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, Options{})
	const deliveries = 16
	var fresh atomic.Int32
	var wg sync.WaitGroup
	for range deliveries {
		wg.Go(func() {
			ok, err := s.Receive(ctx, textMsg("same", "zhangsan", "vm start 101"))
			if err != nil {
				t.Errorf("Receive: %v", err)
			}
			if ok {
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	if got, want := fresh.Load(), int32(1); got != want {
		t.Errorf("fresh deliveries = %d, want %d", got, want)
	}
}

func TestFinish(t *testing.T) {
	ctx := context.Background()
	s, _ := openTest(t, Options{})
	mustReceive(t, s, textMsg("m1", "zhangsan", "vm list"))
	tests := []struct {
		name    string
		key     string
		wantErr error
	}{
		{"received", "m1", nil},
		{"twice", "m1", nil},
		{"unknown", "nope", ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := s.Finish(ctx, tt.key); !errors.Is(err, tt.wantErr) {
				t.Errorf("Finish(%q) = %v, want %v", tt.key, err, tt.wantErr)
			}
		})
	}
	if un, err := s.Unfinished(ctx); err != nil || len(un) != 0 {
		t.Errorf("Unfinished = %+v, %v; want none", un, err)
	}
}

func TestForgetUnknown(t *testing.T) {
	s, _ := openTest(t, Options{})
	if err := s.Forget(context.Background(), "never-seen"); err != nil {
		t.Errorf("Forget(unknown) = %v, want nil", err)
	}
}

func TestUnfinished(t *testing.T) {
	ctx := context.Background()
	s, clk := openTest(t, Options{})
	click := chat.Message{ID: "c", User: "lisi", Kind: chat.KindCardClick, EventKey: "confirm:abc", TaskID: "task-9",
		ResponseCode: "c", Time: time.Date(2026, 3, 1, 11, 0, 0, 0, time.UTC)}
	first := clk.Now()
	mustReceive(t, s, textMsg("b", "zhangsan", "vm list"))
	clk.Advance(time.Second)
	mustReceive(t, s, click)
	clk.Advance(time.Second)
	mustReceive(t, s, textMsg("a", "zhangsan", "vm status 101"))
	mustReceive(t, s, textMsg("done", "zhangsan", "help"))
	s.Finish(ctx, "done")

	got, err := s.Unfinished(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range got {
		keys = append(keys, r.Key)
	}
	if fmt.Sprint(keys) != "[b c a]" {
		t.Fatalf("Unfinished keys = %v, want [b c a] (oldest first)", keys)
	}
	if !got[0].At.Equal(first) {
		t.Errorf("At = %v, want %v", got[0].At, first)
	}
	gotClick := got[1].Msg
	if gotClick.ID != click.ID || gotClick.User != click.User || gotClick.Kind != click.Kind ||
		gotClick.EventKey != click.EventKey || gotClick.TaskID != click.TaskID ||
		gotClick.ResponseCode != click.ResponseCode || !gotClick.Time.Equal(click.Time) {
		t.Errorf("Msg = %+v, want %+v", gotClick, click)
	}
	if got[0].Attempts != 2 {
		t.Errorf("Attempts on first resume = %d, want 2", got[0].Attempts)
	}
	again, err := s.Unfinished(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if again[0].Attempts != 3 {
		t.Errorf("Attempts on second resume = %d, want 3", again[0].Attempts)
	}
}

func TestContextCancelled(t *testing.T) {
	s, _ := openTest(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Receive(ctx, textMsg("x", "zhangsan", "help")); !errors.Is(err, context.Canceled) {
		t.Errorf("Receive with a cancelled context = %v, want context.Canceled", err)
	}
}

// Backlog lists what is received and not finished, oldest first, up to a limit, and
// counts no attempt (the inbox reads it whenever a worker comes free).
func TestBacklog(t *testing.T) {
	st, _ := openTest(t, Options{})
	ctx := context.Background()
	for _, id := range []string{"a", "b", "c"} {
		if _, err := st.Receive(ctx, chat.Message{ID: id, User: "u", Kind: chat.KindText, Text: id, Source: "console"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Finish(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	got, err := st.Backlog(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "b" || got[0].Text != "b" || got[0].Source != "console" {
		t.Errorf("backlog(1) = %+v, want message b in full", got)
	}
	if got, _ := st.Backlog(ctx, 10); len(got) != 2 {
		t.Errorf("backlog(10) = %d messages, want 2", len(got))
	}
	un, err := st.Unfinished(ctx)
	if err != nil || len(un) != 2 || un[0].Attempts != 2 {
		t.Errorf("unfinished = %+v, %v; want 2 at attempt 2 (Backlog counted none)", un, err)
	}
}
