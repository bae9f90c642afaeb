package chat_test

import (
	"context"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

func TestSource(t *testing.T) {
	tests := []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"none is wecom", context.Background(), ""},
		{"console", chat.WithSource(context.Background(), "console"), "console"},
		{"explicit wecom", chat.WithSource(context.Background(), ""), ""},
		{"innermost wins", chat.WithSource(chat.WithSource(context.Background(), "console"), ""), ""},
		{"survives derived contexts", func() context.Context {
			ctx, cancel := context.WithCancel(chat.WithSource(context.Background(), "console"))
			cancel()
			return context.WithoutCancel(ctx)
		}(), "console"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := chat.SourceFrom(tt.ctx); got != tt.want {
				t.Errorf("SourceFrom = %q, want %q", got, tt.want)
			}
		})
	}
}
