package notify

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/schedule"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

const robotKey = "robot-KEY-never-log-me"

type env struct {
	wc     *wecomtest.Server
	n      *Notifier
	st     *store.Store
	clock  *schedule.ManualClock
	budget *wecom.Budget
}

func newEnv(t *testing.T) *env {
	t.Helper()
	clock := schedule.NewManualClock(time.Date(2026, 5, 1, 1, 5, 0, 0, time.UTC)) // 09:05 Shanghai
	wc := wecomtest.NewServer(t, wecomtest.WithServerClock(clock.Now))
	wc.AddChat("opsroom", "ops", "zhangsan", "zhangsan", "lisi")
	client, err := wecom.NewClient(wecom.ClientConfig{CorpID: wecomtest.FakeCorpID, AgentID: wecomtest.FakeAgentID,
		Secret: wecomtest.FakeCorpSecret, BaseURL: wc.URL(), MaxRetries: 1, Backoff: time.Millisecond}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir(), store.Options{Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	cfg := config.Default()
	cfg.Targets = map[string]config.Target{
		"ops":    {AppChat: "opsroom"},
		"robot":  {WebhookKey: robotKey},
		"admins": {Users: []string{"zhangsan"}},
	}
	budget := wecom.NewBudget(30, time.Minute, clock)
	return &env{wc: wc, st: st, clock: clock, budget: budget,
		n: New(cfg, client, st, Options{Logger: zaptest.NewLogger(t), Clock: clock, Budget: budget})}
}

func md(s string) Message {
	return Message{Markdown: func(int) string { return s }}
}

func TestPushEachTarget(t *testing.T) {
	e := newEnv(t)
	card := chat.Reply{Kind: chat.ReplyConfirm, Title: "节点离线：pve2", Buttons: []chat.Button{{Text: "静音 1 小时", Key: "mute:node:home/pve2:1h"}}}
	m := md("**report**")
	m.Card = &card
	if got := e.n.Push(context.Background(), []string{"ops", "robot", "admins"}, m); got != 3 {
		t.Fatalf("delivered to %d targets, want 3", got)
	}
	sent := e.wc.Sent()
	if len(sent) != 3 {
		t.Fatalf("%d sent, want 3", len(sent))
	}
	tests := []struct{ via, check string }{{"appchat", "**report**"}, {"robot", "**report**"}, {"app", ""}}
	for i, tt := range tests {
		t.Run(tt.via, func(t *testing.T) {
			if got := sent[i].Via; got != tt.via {
				t.Errorf("via = %q, want %q", got, tt.via)
			}
			if tt.check != "" && sent[i].Content != tt.check {
				t.Errorf("content = %q, want %q", sent[i].Content, tt.check)
			}
			if tt.via == "app" && (sent[i].Card == nil || !sent[i].DuplicateCheck) {
				t.Errorf("app message = %+v, want a card with duplicate check", sent[i])
			}
		})
	}
}

func TestOutboxWhenWeComDown(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.wc.FailHTTP("/cgi-bin/appchat/send", 500, 100) // down for a while
	if got := e.n.Push(ctx, []string{"ops"}, md("first")); got != 0 {
		t.Fatalf("delivered %d while WeCom is down", got)
	}
	e.clock.Advance(time.Minute)
	e.n.Push(ctx, []string{"ops"}, md("second"))
	if got := e.n.Pending(ctx); got != 2 {
		t.Fatalf("outbox holds %d, want 2", got)
	}
	if n, err := e.n.Flush(ctx); n != 0 || err == nil {
		t.Fatalf("Flush while down = %d, %v; want 0 and an error", n, err)
	}
	e.clearFailures(t)
	if n, err := e.n.Flush(ctx); n != 2 || err != nil {
		t.Fatalf("Flush after recovery = %d, %v; want 2, nil", n, err)
	}
	if n, _ := e.n.Flush(ctx); n != 0 {
		t.Errorf("second Flush sent %d again", n)
	}
	var got []string
	for _, m := range e.wc.Sent() {
		got = append(got, m.Content)
	}
	want := []string{
		"<font color=\"comment\">（09:05 的消息，延迟送达）</font>\nfirst",
		"<font color=\"comment\">（09:06 的消息，延迟送达）</font>\nsecond",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("sent %q, want %q (once each, oldest first, with their time)", got, want)
	}
}

// clearFailures sends until the injected failures are used up.
func (e *env) clearFailures(t *testing.T) {
	t.Helper()
	for i := 0; i < 200; i++ {
		err := e.n.sender.AppChatSend(context.Background(), "nochat", "text", "x")
		if err != nil && strings.Contains(err.Error(), "86003") {
			return
		}
	}
	t.Fatal("failures never cleared")
}

func TestRefusedPushIsDropped(t *testing.T) {
	e := newEnv(t)
	e.wc.FailNext("/cgi-bin/webhook/send", wecomtest.ErrcodeInvalidRobotKey, 1)
	e.n.Push(context.Background(), []string{"robot"}, md("x"))
	if got := e.n.Pending(context.Background()); got != 0 {
		t.Errorf("outbox holds %d after a wrong key, want 0 (retrying cannot help)", got)
	}
}

func TestEnsureChats(t *testing.T) {
	e := newEnv(t)
	e.n.targets["new"] = config.Target{AppChat: "newroom", AppChatMembers: []string{"zhangsan", "lisi"}}
	e.n.targets["ops"] = config.Target{AppChat: "opsroom", AppChatMembers: []string{"zhangsan", "lisi"}}
	e.n.EnsureChats(context.Background())
	var created []string
	for _, c := range e.wc.Calls() {
		if c.Path == "/cgi-bin/appchat/create" {
			created = append(created, string(c.Body))
		}
	}
	if len(created) != 1 || !strings.Contains(created[0], `"chatid":"newroom"`) {
		t.Errorf("created %q, want only newroom", created)
	}
}

// A chat id WeCom refuses (86001) is explained with its rule, not "WeCom refused it".
func TestChatRefusalExplainsChatID(t *testing.T) {
	for code, want := range map[int]string{86001: "32 characters", 86008: "another app", 86006: "2 to 2000"} {
		if got := chatRefusal(&wecom.APIError{Op: "appchat create", Code: code}); !strings.Contains(got, want) {
			t.Errorf("chatRefusal(%d) = %q, want it to mention %q", code, got, want)
		}
	}
}

// Pushes to users count in the members' send budget, which replies share. What finds no
// room waits in the outbox (WeCom would drop it silently) and goes out, marked late, once
// the window has room again.
func TestPushToUsersKeepsMemberBudget(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for range 25 { // replies to zhangsan this minute
		if d := e.budget.Reserve("zhangsan"); d != 0 {
			t.Fatalf("reply held back %s", d)
		}
	}
	delivered := 0
	for i := range 8 {
		delivered += e.n.Push(ctx, []string{"admins"}, md(fmt.Sprintf("alert %d", i)))
	}
	if delivered != 5 {
		t.Errorf("delivered %d pushes at once, want 5 (30 minus 25 replies)", delivered)
	}
	if got := e.n.Pending(ctx); got != 3 {
		t.Errorf("outbox holds %d, want 3", got)
	}
	e.clock.Advance(time.Minute)
	if n, err := e.n.Flush(ctx); n != 3 || err != nil {
		t.Errorf("flush delivered %d (%v), want 3", n, err)
	}
	if d := e.wc.Dropped(); len(d) != 0 {
		t.Errorf("WeCom dropped %d messages, want none: %+v", len(d), d)
	}
	sent := e.wc.Sent()
	if len(sent) != 8 {
		t.Fatalf("delivered %d, want all 8", len(sent))
	}
	for i, m := range sent {
		if want := fmt.Sprintf("alert %d", i); !strings.Contains(m.Content, want) {
			t.Errorf("message %d = %q, want %q (in order)", i, m.Content, want)
		}
	}
	if last := sent[7].Content; !strings.Contains(last, "延迟送达") {
		t.Errorf("held-back push = %q, want it marked late", last)
	}
}
