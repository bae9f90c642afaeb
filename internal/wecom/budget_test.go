package wecom

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/schedule"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

var budgetStart = time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)

// The budget is a sliding window: at most 30 in ANY 60 s, not a bucket that lets a full
// burst through and then refills (which gave about 59 in the first minute).
func TestBudgetSlidingWindow(t *testing.T) {
	clock := schedule.NewManualClock(budgetStart)
	b := NewBudget(30, time.Minute, clock)
	sent := 0
	var times []time.Time
	// Offer one message a second for two minutes and take what the budget allows.
	for range 120 {
		if b.Reserve("zhangsan") == 0 {
			sent++
			times = append(times, clock.Now())
		}
		clock.Advance(time.Second)
	}
	if sent != 60 {
		t.Errorf("sent %d in 120 s, want 60 (30 per minute)", sent)
	}
	for i := 30; i < len(times); i++ {
		if d := times[i].Sub(times[i-30]); d < time.Minute {
			t.Fatalf("messages %d and %d are %s apart: 31 in under a minute", i-30, i, d)
		}
	}
	// Another member has a budget of their own.
	if d := b.Reserve("lisi"); d != 0 {
		t.Errorf("another member waits %s, want 0", d)
	}
}

func TestBudgetBurstThenWait(t *testing.T) {
	clock := schedule.NewManualClock(budgetStart)
	b := NewBudget(30, time.Minute, clock)
	for i := range 30 {
		if d := b.Reserve("zhangsan"); d != 0 {
			t.Fatalf("message %d of a burst of 30 waits %s", i+1, d)
		}
	}
	if d := b.Reserve("zhangsan"); d != time.Minute {
		t.Errorf("31st waits %s, want 1m0s (until the first leaves the window)", d)
	}
	clock.Advance(59 * time.Second)
	if d := b.Reserve("zhangsan"); d != time.Second {
		t.Errorf("31st after 59 s waits %s, want 1s", d)
	}
	// All or none: zhangsan is full, so lisi's share of a message to both is not taken.
	if d := b.Reserve("lisi", "zhangsan"); d == 0 {
		t.Fatal("a message to a full member went out")
	}
	for i := range 30 {
		if d := b.Reserve("lisi"); d != 0 {
			t.Fatalf("lisi's message %d waits %s: a refused joint message was counted for him", i+1, d)
		}
	}
}

func TestBudgetHourLimit(t *testing.T) {
	clock := schedule.NewManualClock(budgetStart)
	b := NewBudget(30, time.Minute, clock)
	sent := 0
	for range 3600 {
		if b.Reserve("zhangsan") == 0 {
			sent++
		}
		clock.Advance(time.Second)
	}
	if sent != 1000 {
		t.Errorf("sent %d in an hour, want 1000", sent)
	}
}

func TestBudgetWaitUsesTheClock(t *testing.T) {
	clock := schedule.NewManualClock(budgetStart)
	b := NewBudget(1, time.Minute, clock)
	if _, err := b.Wait(context.Background(), "zhangsan"); err != nil {
		t.Fatal(err)
	}
	done := make(chan time.Duration, 1)
	go func() {
		d, _ := b.Wait(context.Background(), "zhangsan")
		done <- d
	}()
	if !clock.BlockUntil(nil, 1) {
		t.Fatal("Wait did not wait on the clock")
	}
	clock.Advance(time.Minute)
	if d := <-done; d != time.Minute {
		t.Errorf("waited %s, want 1m0s", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Wait(ctx, "zhangsan"); err == nil {
		t.Error("Wait over budget with a cancelled context: no error")
	}
}

// Over the budget the Replier holds a reply back instead of letting WeCom drop it, and
// the reply that waited long says so.
func TestReplierKeepsMemberBudget(t *testing.T) {
	clock := schedule.NewManualClock(budgetStart)
	srv := wecomtest.NewServer(t, wecomtest.WithServerClock(clock.Now))
	c, err := NewClient(ClientConfig{CorpID: srv.CorpID(), AgentID: srv.AgentID(), Secret: srv.Secret(), BaseURL: srv.URL(), Now: clock.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReplier(c, "card", "zh", nil)
	r.UseBudget(NewBudget(30, time.Minute, clock))
	for i := range 30 {
		if err := r.Reply(context.Background(), "zhangsan", chat.Reply{Kind: chat.ReplyText, Title: "hello"}); err != nil {
			t.Fatalf("reply %d: %v", i+1, err)
		}
	}
	done := make(chan error, 1)
	go func() {
		done <- r.Reply(context.Background(), "zhangsan", chat.Reply{Kind: chat.ReplyText, Title: "31st"})
	}()
	if !clock.BlockUntil(nil, 1) {
		t.Fatal("the 31st reply did not wait")
	}
	if got := len(srv.Sent()); got != 30 {
		t.Fatalf("sent %d before the minute passed, want 30", got)
	}
	clock.Advance(time.Minute)
	if err := <-done; err != nil {
		t.Fatalf("31st reply: %v", err)
	}
	sent := srv.Sent()
	if len(sent) != 31 || len(srv.Dropped()) != 0 {
		t.Fatalf("delivered %d, dropped %d; want 31 delivered, none dropped", len(sent), len(srv.Dropped()))
	}
	if last := sent[30].Content; !strings.Contains(last, "31st") || !strings.Contains(last, "延迟 1 分 0 秒") {
		t.Errorf("held-back reply = %q, want it to say it was delayed 1 minute", last)
	}
}

// Without the budget WeCom drops what is over its limit, and the fake shows the loss.
func TestReplierBudgetOffLosesMessages(t *testing.T) {
	srv := wecomtest.NewServer(t)
	c, err := NewClient(ClientConfig{CorpID: srv.CorpID(), AgentID: srv.AgentID(), Secret: srv.Secret(), BaseURL: srv.URL()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReplier(c, "card", "zh", nil)
	r.UseBudget(nil)
	for i := range 40 {
		if err := r.Reply(context.Background(), "zhangsan", chat.Reply{Kind: chat.ReplyText, Title: "hi"}); err != nil {
			t.Fatalf("reply %d: %v", i+1, err)
		}
	}
	if got, lost := len(srv.Sent()), len(srv.Dropped()); got != 30 || lost != 10 {
		t.Errorf("delivered %d, dropped %d; want 30 and 10 (WeCom's silent drop)", got, lost)
	}
}

// Every card the Replier sends carries a task_id, a status card too: when the answer to
// a send is lost, the retry is answered 42014 and the user sees the card once.
func TestReplierCardShownOnceWhenAnswerLost(t *testing.T) {
	srv := wecomtest.NewServer(t)
	c, err := NewClient(ClientConfig{CorpID: srv.CorpID(), AgentID: srv.AgentID(), Secret: srv.Secret(), BaseURL: srv.URL(),
		Backoff: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReplier(c, "card", "zh", nil)
	srv.LoseAnswerNext("message/send", 1)
	rep := chat.Reply{Kind: chat.ReplyCard, Title: "homeassistant (101)", Fields: []chat.Field{{Label: "状态", Value: "运行中"}}}
	if err := r.Reply(context.Background(), "zhangsan", rep); err != nil {
		t.Fatalf("Reply after a lost answer: %v", err)
	}
	if got := len(srv.Sent()); got != 1 {
		t.Errorf("the card was delivered %d times, want once", got)
	}
}
