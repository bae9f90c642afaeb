package wecomtest

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
)

// The options a load program uses: the hook sees every accepted message, WithoutHistory
// keeps nothing, and ConnsAccepted counts TCP connections.
func TestServerLoadOptions(t *testing.T) {
	tests := []struct {
		name      string
		noHistory bool
		wantSent  int
		wantCalls int
	}{
		{"with history", false, 2, 3}, // gettoken and two sends
		{"without history", true, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var hooked []SentMessage
			opts := []ServerOption{WithSentHook(func(m SentMessage) {
				mu.Lock()
				hooked = append(hooked, m)
				mu.Unlock()
			})}
			if tt.noHistory {
				opts = append(opts, WithoutHistory())
			}
			s := NewServer(t, opts...)
			tok := token(t, s)
			for _, user := range []string{"zhangsan", "lisi"} {
				body := `{"touser":"` + user + `","msgtype":"text","agentid":1000002,"text":{"content":"hi"}}`
				if _, out := wx(t, s, http.MethodPost, "/cgi-bin/message/send", url.Values{"access_token": {tok}}, body); errcode(out) != 0 {
					t.Fatalf("send = %v", out)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(hooked) != 2 || hooked[0].ToUser[0] != "zhangsan" || hooked[1].ToUser[0] != "lisi" {
				t.Errorf("hook saw %+v, want the two messages in order", hooked)
			}
			if got := len(s.Sent()); got != tt.wantSent {
				t.Errorf("Sent() = %d messages, want %d", got, tt.wantSent)
			}
			if got := len(s.Calls()); got != tt.wantCalls {
				t.Errorf("Calls() = %d, want %d", got, tt.wantCalls)
			}
			// http.DefaultClient keeps its connection alive: three calls, one connection.
			if got := s.ConnsAccepted(); got != 1 {
				t.Errorf("ConnsAccepted = %d, want 1", got)
			}
		})
	}
}
