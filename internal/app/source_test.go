package app

import (
	"context"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/console"
)

// recordReplier records the users it was asked to reply to.
type recordReplier struct{ users []string }

func (r *recordReplier) Reply(_ context.Context, user string, _ chat.Reply) error {
	r.users = append(r.users, user)
	return nil
}

func TestSourceReplierRoutes(t *testing.T) {
	tests := []struct {
		name        string
		ctx         context.Context
		wantConsole int
		wantWeCom   int
	}{
		{"no source is wecom", context.Background(), 0, 1},
		{"wecom", chat.WithSource(context.Background(), ""), 0, 1},
		{"console", chat.WithSource(context.Background(), console.Source), 1, 0},
		{"unknown source is wecom", chat.WithSource(context.Background(), "telegram"), 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, w := &recordReplier{}, &recordReplier{}
			r := sourceReplier{console: c, wecom: w}
			if err := r.Reply(tt.ctx, "zhangsan", chat.Reply{Kind: chat.ReplyText, Title: "hi"}); err != nil {
				t.Fatal(err)
			}
			if got, want := len(c.users), tt.wantConsole; got != want {
				t.Errorf("console replies = %d, want %d", got, want)
			}
			if got, want := len(w.users), tt.wantWeCom; got != want {
				t.Errorf("wecom replies = %d, want %d", got, want)
			}
		})
	}
}
