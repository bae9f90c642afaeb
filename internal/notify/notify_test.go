package notify

import (
	"context"
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
	wc    *wecomtest.Server
	n     *Notifier
	st    *store.Store
	clock *schedule.ManualClock
}

func newEnv(t *testing.T) *env {
	t.Helper()
	wc := wecomtest.NewServer(t)
	wc.AddChat("opsroom", "ops", "zhangsan", "zhangsan", "lisi")
	client, err := wecom.NewClient(wecom.ClientConfig{CorpID: wecomtest.FakeCorpID, AgentID: wecomtest.FakeAgentID,
		Secret: wecomtest.FakeCorpSecret, BaseURL: wc.URL(), MaxRetries: 1, Backoff: time.Millisecond}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	clock := schedule.NewManualClock(time.Date(2026, 5, 1, 1, 5, 0, 0, time.UTC)) // 09:05 Shanghai
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
	return &env{wc: wc, st: st, clock: clock, n: New(cfg, client, st, Options{Logger: zaptest.NewLogger(t), Clock: clock})}
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
