package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

func TestMenuCreate(t *testing.T) {
	tests := []struct {
		name     string
		buttons  []MenuButton
		agent    int // 0: the fake's
		wantCode int // 0: accepted
		wantJSON string
	}{
		{"default menu", []MenuButton{ClickButton("概览", "status"), ClickButton("列表", "vm list"), ClickButton("帮助", "help")}, 0, 0,
			`{"button":[{"type":"click","name":"概览","key":"status"},{"type":"click","name":"列表","key":"vm list"},{"type":"click","name":"帮助","key":"help"}]}`},
		{"sub buttons", []MenuButton{{Name: "更多", SubButtons: []MenuButton{ClickButton("任务", "task")}}}, 0, 0,
			`{"button":[{"name":"更多","sub_button":[{"type":"click","name":"任务","key":"task"}]}]}`},
		{"four buttons", []MenuButton{ClickButton("a", "a"), ClickButton("b", "b"), ClickButton("c", "c"), ClickButton("d", "d")}, 0, wecomtest.ErrcodeMenuButtons, ""},
		{"wrong agent", []MenuButton{ClickButton("a", "a")}, 7, wecomtest.ErrcodeInvalidAgentID, ""},
		{"another app's agent", []MenuButton{ClickButton("a", "a")}, 1000003, wecomtest.ErrcodeAgentMismatch, ""},
		{"name over 16 bytes", []MenuButton{ClickButton("虚拟机列表和概览", "a")}, 0, wecomtest.ErrcodeMenuName, ""},
		{"key over 128 bytes", []MenuButton{ClickButton("a", strings.Repeat("k", 129))}, 0, wecomtest.ErrcodeMenuKey, ""},
		{"six sub-buttons", []MenuButton{{Name: "更多", SubButtons: []MenuButton{ClickButton("1", "1"), ClickButton("2", "2"),
			ClickButton("3", "3"), ClickButton("4", "4"), ClickButton("5", "5"), ClickButton("6", "6")}}}, 0, wecomtest.ErrcodeMenuSubButtons, ""},
		{"sub-button name over 40 bytes", []MenuButton{{Name: "更多", SubButtons: []MenuButton{ClickButton(strings.Repeat("长", 14), "1")}}}, 0, wecomtest.ErrcodeMenuSubName, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := wecomtest.NewServer(t, wecomtest.WithOtherApps(1000003))
			c, _ := newOutClient(t, s, func(cfg *ClientConfig) {
				if tt.agent != 0 {
					cfg.AgentID = tt.agent
				}
			})
			err := c.MenuCreate(context.Background(), tt.buttons)
			var apiErr *APIError
			switch {
			case tt.wantCode == 0 && err != nil:
				t.Fatalf("MenuCreate: %v", err)
			case tt.wantCode != 0 && (!errors.As(err, &apiErr) || apiErr.Code != tt.wantCode):
				t.Fatalf("MenuCreate error = %v, want errcode %d", err, tt.wantCode)
			}
			if tt.wantJSON == "" {
				return
			}
			if got := string(s.Menu()); got != tt.wantJSON {
				t.Errorf("menu body = %s, want %s", got, tt.wantJSON)
			}
			for _, call := range s.Calls() {
				if strings.HasSuffix(call.Path, "/menu/create") {
					if got, want := call.Query.Get("agentid"), "1000002"; got != want {
						t.Errorf("agentid = %q, want %q", got, want)
					}
					var v any
					if json.Unmarshal(call.Body, &v) != nil {
						t.Errorf("body is not JSON: %s", call.Body)
					}
				}
			}
		})
	}
	t.Run("no buttons", func(t *testing.T) {
		c, _ := newOutClient(t, wecomtest.NewServer(t))
		if err := c.MenuCreate(context.Background(), nil); err == nil {
			t.Error("MenuCreate(nil) succeeded")
		}
	})
}
