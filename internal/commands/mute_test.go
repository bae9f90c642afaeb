package commands

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/alert"
	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

func TestMuteButton(t *testing.T) {
	now := time.Date(2026, 5, 1, 4, 0, 0, 0, time.UTC)
	tests := []struct {
		name, user, key string
		wantMuted       bool
		wantDecision    string
		wantText        string
	}{
		{"operator mutes", "lisi", "mute:node:home/pve2:1h", true, store.DecisionAllowed, "已静音 node:home/pve2"},
		{"viewer refused", "wangwu", "mute:node:home/pve2:1h", false, store.DecisionRefused, ""},
		{"bad subject", "lisi", "mute:whatever:1h", false, "", "无法识别的静音按钮"},
		{"too long", "lisi", "mute:node:home/pve2:9999h", false, "", "无法识别的静音按钮"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, err := store.Open(t.TempDir(), store.Options{Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			cfg := config.Default()
			cfg.Users = []config.User{{ID: "lisi", Role: "operator"}, {ID: "wangwu", Role: "viewer"}}
			d := New(cfg, Options{Store: st, Now: func() time.Time { return now }})
			reps := d.Handle(context.Background(), chat.Message{ID: "c1", User: tt.user, Kind: chat.KindCardClick, EventKey: tt.key, ResponseCode: "rc"})
			if len(reps) != 1 {
				t.Fatalf("got %d replies, want 1", len(reps))
			}
			if tt.wantText != "" && !strings.Contains(reps[0].Title, tt.wantText) {
				t.Errorf("reply = %q, want it to contain %q", reps[0].Title, tt.wantText)
			}
			raw, ok, err := st.Get(context.Background(), alert.MuteBucket, "node:home/pve2")
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantMuted {
				t.Fatalf("muted = %v, want %v", ok, tt.wantMuted)
			}
			if ok {
				var m alert.Mute
				if err := json.Unmarshal(raw, &m); err != nil {
					t.Fatal(err)
				}
				if got, want := m.Until, now.Add(time.Hour); !got.Equal(want) || m.By != "lisi" {
					t.Errorf("mute = %+v, want until %v by lisi", m, want)
				}
			}
			audit, err := st.RecentAudit(context.Background(), 5)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantDecision == "" {
				return
			}
			if len(audit) != 1 || audit[0].Decision != tt.wantDecision || !strings.HasPrefix(audit[0].Command, "mute node:home/pve2") {
				t.Errorf("audit = %+v, want one %s entry for the mute", audit, tt.wantDecision)
			}
		})
	}
}
