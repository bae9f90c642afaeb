package inbox

import (
	"context"
	"sync"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

// sourceReplier records the source each reply's context carried, by reply title.
type sourceReplier struct {
	mu  sync.Mutex
	got map[string]string
}

func (r *sourceReplier) Reply(ctx context.Context, _ string, rep chat.Reply) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got[rep.Title] = chat.SourceFrom(ctx)
	return nil
}

func TestProcessCarriesSource(t *testing.T) {
	tests := []struct {
		name, source string
	}{
		{"wecom", ""},
		{"console", "console"},
	}
	j := newMemJournal()
	rep := &sourceReplier{got: map[string]string{}}
	var mu sync.Mutex
	handled := map[string]string{} // message text -> source seen by the handler
	h := chat.HandlerFunc(func(ctx context.Context, m chat.Message) []chat.Reply {
		mu.Lock()
		handled[m.Text] = chat.SourceFrom(ctx)
		mu.Unlock()
		return []chat.Reply{{Kind: chat.ReplyText, Title: m.Text}}
	})
	in := New(Options{Journal: j, Handler: h, Replier: rep, Workers: 2})
	for _, tt := range tests {
		m := chat.Message{ID: "id-" + tt.name, User: "zhangsan", Kind: chat.KindText, Text: tt.name, Source: tt.source}
		if err := in.Accept(context.Background(), m); err != nil {
			t.Fatalf("Accept: %v", err)
		}
	}
	waitFinished(t, j, len(tests))
	if err := in.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mu.Lock()
			got, ok := handled[tt.name]
			mu.Unlock()
			if !ok || got != tt.source {
				t.Errorf("handler ctx source = %q (handled %v), want %q", got, ok, tt.source)
			}
			rep.mu.Lock()
			got, ok = rep.got[tt.name]
			rep.mu.Unlock()
			if !ok || got != tt.source {
				t.Errorf("replier ctx source = %q (replied %v), want %q", got, ok, tt.source)
			}
		})
	}
}
