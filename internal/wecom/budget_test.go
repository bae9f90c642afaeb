package wecom

import (
	"context"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

func TestMemberBudget(t *testing.T) {
	b := newMemberBudget(2, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	for i := range 2 {
		if err := b.wait(ctx, "zhangsan"); err != nil {
			t.Fatalf("send %d within the budget: %v", i+1, err)
		}
	}
	// Another member has a budget of their own.
	if err := b.wait(ctx, "lisi"); err != nil {
		t.Fatalf("another member: %v", err)
	}
	// The third message to zhangsan within a minute must wait ~30 s: longer than ctx.
	if err := b.wait(ctx, "zhangsan"); err == nil {
		t.Fatal("third send within a minute did not wait for room")
	}
}

// The Replier holds back sends beyond the member's budget rather than letting WeCom drop them.
func TestReplierKeepsMemberBudget(t *testing.T) {
	srv := wecomtest.NewServer(t)
	c, err := NewClient(ClientConfig{CorpID: srv.CorpID(), AgentID: srv.AgentID(), Secret: srv.Secret(), BaseURL: srv.URL()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReplier(c, "card", "zh", nil)
	r.LimitPerMember(3, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var sendErr error
	for i := range 5 {
		if sendErr = r.Reply(ctx, "zhangsan", chat.Reply{Kind: chat.ReplyText, Title: "hello"}); sendErr != nil {
			if i != 3 {
				t.Fatalf("reply %d failed: %v", i+1, sendErr)
			}
			break
		}
	}
	if sendErr == nil {
		t.Fatal("all 5 replies went out at once; want the 4th held back")
	}
	if got := len(srv.Sent()); got != 3 {
		t.Errorf("sent %d messages, want 3 (the budget)", got)
	}
}

func TestReplierBudgetOff(t *testing.T) {
	srv := wecomtest.NewServer(t)
	c, err := NewClient(ClientConfig{CorpID: srv.CorpID(), AgentID: srv.AgentID(), Secret: srv.Secret(), BaseURL: srv.URL()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := NewReplier(c, "card", "zh", nil)
	r.LimitPerMember(0, time.Minute)
	for i := range 40 {
		if err := r.Reply(context.Background(), "zhangsan", chat.Reply{Kind: chat.ReplyText, Title: "hi"}); err != nil {
			t.Fatalf("reply %d: %v", i+1, err)
		}
	}
	if got := len(srv.Sent()); got != 40 {
		t.Errorf("sent %d, want 40 with the budget off", got)
	}
}
