package wecom

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"go.uber.org/zap/zapcore"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

// The -update flag rewrites testdata/golden. It is registered only if no other test file of
// the package did so already.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite golden files under testdata/golden")
	}
}

func updatingGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// goldenReplies are the fixtures, one per reply kind, in each language: commands hand the
// renderer texts already in the user's language.
func goldenReplies(lang string) map[string]chat.Reply {
	zh := lang == "zh"
	pick := func(z, e string) string {
		if zh {
			return z
		}
		return e
	}
	return map[string]chat.Reply{
		"text": {Kind: chat.ReplyText, Lines: []string{
			pick("未知命令：vm strat 101", "Unknown command: vm strat 101"),
			pick("你是不是想输入：vm start 101", "Did you mean: vm start 101"),
			pick("发送「帮助」查看全部命令。", "Send `help` for every command."),
		}},
		"list": listReply(12, lang),
		"card": {Kind: chat.ReplyCard, Severity: chat.SeverityOK, Title: "homeassistant (101)",
			Fields: []chat.Field{
				{Label: pick("节点", "Node"), Value: "pve1"},
				{Label: pick("状态", "Status"), Value: pick("运行中", "running")},
				{Label: "CPU", Value: "3%"},
				{Label: pick("内存", "Memory"), Value: "1.2/4.0 GiB"},
				{Label: pick("运行时间", "Uptime"), Value: pick("3 天 2 小时", "3 d 2 h")},
				{Label: "HA", Value: pick("否", "no")},
				{Label: pick("标签", "Tags"), Value: "home;lab"},
			},
			Footer: pick("更新于 12:00:05", "as of 12:00:05")},
		"confirm": {Kind: chat.ReplyConfirm, Severity: chat.SeverityWarning,
			Title: pick("关机 homeassistant (101)？", "Shut down homeassistant (101)?"),
			Fields: []chat.Field{
				{Label: pick("节点", "Node"), Value: "pve1"},
				{Label: pick("当前状态", "Now"), Value: pick("运行中", "running")},
			},
			Lines: []string{pick("虚拟机将被正常关机。", "The guest will be shut down cleanly.")},
			Buttons: []chat.Button{
				{Text: pick("确认", "Confirm"), Key: "confirm:9f2c41d07a", Style: 1},
				{Text: pick("取消", "Cancel"), Key: "cancel:9f2c41d07a", Style: 2},
			},
			Code: "K7Q2", Footer: pick("5 分钟内有效", "valid for 5 minutes")},
		"longlist": listReply(260, lang),
		// linked is a card about a guest with its page in the PVE web UI, and a bold
		// heading line as the overview sends.
		"linked": {Kind: chat.ReplyCard, Title: "docker-host (104)",
			Fields: []chat.Field{{Label: pick("节点", "Node"), Value: "pve2"}},
			Lines:  []string{pick("**网络**", "**Network**"), "192.168.1.44"},
			Link:   chat.Link{Text: pick("在 PVE 中打开", "Open in PVE"), URL: "https://pve.example.lan:8006/#v1:0:=qemu%2F104:4:::::::"}},
		"result_update": {Kind: chat.ReplyCard, Severity: chat.SeverityOK, UpdateCode: "rc-click-1",
			Title:  pick("✅ homeassistant (101) 已关机 · 12 s", "✅ homeassistant (101) shut down · 12 s"),
			Fields: []chat.Field{{Label: pick("节点", "Node"), Value: "pve1"}, {Label: "UPID", Value: "UPID:pve1:0001:qmshutdown:101"}}},
		"text_update": {Kind: chat.ReplyText, UpdateCode: "rc-click-2",
			Lines: []string{pick("✅ 已关机 · 12 s", "✅ shut down · 12 s")}},
		// A short parse error whose suggestion is a button, and a status card with the
		// actions the user may run: cards with command buttons (issue 13).
		"suggest": {Kind: chat.ReplyCard, Severity: chat.SeverityWarning,
			Title:   pick("不认识“vm strat”", "Unknown command: vm strat"),
			Lines:   []string{pick("你是不是想输入：启动 101？", "Did you mean: vm start 101?"), pick("发送 帮助 查看全部命令", "Send help to see every command")},
			Buttons: []chat.Button{{Text: pick("启动 101", "vm start 101"), Key: pick("run:启动 101", "run:vm start 101"), Style: 1}}},
		"status": {Kind: chat.ReplyCard, Severity: chat.SeverityInfo, Title: "docker-host (104)",
			Fields: []chat.Field{
				{Label: pick("状态", "Status"), Value: pick("运行中", "running")},
				{Label: pick("节点", "Node"), Value: "pve2"},
				{Label: "CPU", Value: pick("21%（4 核）", "21% of 4 cores")},
			},
			Buttons: []chat.Button{
				{Text: pick("关机", "shut down"), Key: pick("run:关机 104", "run:vm shutdown 104"), Style: 1},
				{Text: pick("重启", "reboot"), Key: pick("run:重启 104", "run:vm reboot 104"), Style: 1},
				{Text: pick("强制关机", "force off"), Key: pick("run:强制关机 104", "run:vm stop 104"), Style: 3},
			}},
	}
}

func resultReply() chat.Reply { return goldenReplies("zh")["result_update"] }

// goldenCall is one recorded request as kept in a golden file.
type goldenCall struct {
	Path string          `json:"path"`
	Body json.RawMessage `json:"body"`
}

func TestRenderGolden(t *testing.T) {
	kinds := []string{"text", "list", "card", "confirm", "longlist", "result_update", "text_update", "linked", "suggest", "status"}
	for _, kind := range kinds {
		for _, mode := range []string{"card", "text"} {
			for _, lang := range []string{"zh", "en"} {
				name := fmt.Sprintf("%s_%s_%s", kind, mode, lang)
				t.Run(name, func(t *testing.T) {
					s := wecomtest.NewServer(t)
					c, _ := newOutClient(t, s)
					r := NewReplier(c, mode, lang, nil)
					n := 0
					r.newTaskID = func() string { n++; return fmt.Sprintf("task-%04d", n) }
					if err := r.Reply(context.Background(), "zhangsan", goldenReplies(lang)[kind]); err != nil {
						t.Fatalf("Reply: %v", err)
					}
					var calls []goldenCall
					for _, call := range s.Calls() {
						if call.Path != "/cgi-bin/gettoken" {
							calls = append(calls, goldenCall{Path: call.Path, Body: call.Body})
						}
					}
					var buf bytes.Buffer
					enc := json.NewEncoder(&buf)
					enc.SetEscapeHTML(false)
					enc.SetIndent("", "  ")
					if err := enc.Encode(calls); err != nil {
						t.Fatal(err)
					}
					compareGolden(t, filepath.Join("testdata", "golden", name+".json"), buf.Bytes())
				})
			}
		}
	}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if updatingGolden() {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden (run go test -run TestRenderGolden -update to create it): %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test -run TestRenderGolden -update rewrites it)\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

var taskIDPattern = regexp.MustCompile(`^[0-9A-Za-z_\-@]{1,128}$`)

func TestReplierFreshTaskIDPerCard(t *testing.T) {
	s := wecomtest.NewServer(t)
	c, _ := newOutClient(t, s)
	r := NewReplier(c, "card", "zh", nil)
	rep := goldenReplies("zh")["confirm"]
	for range 3 {
		if err := r.Reply(context.Background(), "zhangsan", rep); err != nil {
			t.Fatalf("Reply: %v", err)
		}
	}
	seen := map[string]bool{}
	for _, m := range s.Sent() {
		id := m.Card.TaskID
		if !taskIDPattern.MatchString(id) || seen[id] {
			t.Errorf("task_id %q: want a fresh id of [0-9A-Za-z_-@], at most 128 bytes", id)
		}
		seen[id] = true
	}
	if len(seen) != 3 {
		t.Errorf("cards sent = %d, want 3", len(seen))
	}
}

func TestReplierUpdate(t *testing.T) {
	tests := []struct {
		name        string
		mode        string
		rep         chat.Reply
		strict      bool // the fake accepts only response codes it issued: the update fails
		wantUpdates int
		wantSent    []string // msgtypes of new messages
		wantWarn    bool
	}{
		{"card result replaces the card", "card", resultReply(), false, 1, nil, false},
		{"short text greys the buttons", "card", goldenReplies("zh")["text_update"], false, 1, nil, false},
		{"long text replaces the card", "card", chat.Reply{Kind: chat.ReplyText, UpdateCode: "rc",
			Lines: []string{"第一行", "第二行"}}, false, 1, nil, false},
		{"failed update sends a new card", "card", resultReply(), true, 0, []string{"template_card"}, true},
		{"failed button update sends a new text", "card", goldenReplies("zh")["text_update"], true, 0, []string{"text"}, true},
		{"list is sent, not squeezed into the card", "card", chat.Reply{Kind: chat.ReplyList, UpdateCode: "rc",
			Lines: []string{"a", "b"}}, false, 0, []string{"markdown"}, false},
		{"text mode never updates", "text", resultReply(), false, 0, []string{"text"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var opts []wecomtest.ServerOption
			if tt.strict {
				opts = append(opts, wecomtest.WithStrictResponseCodes())
			}
			s := wecomtest.NewServer(t, opts...)
			c, logs := newOutClient(t, s)
			r := NewReplier(c, tt.mode, "zh", c.log)
			if err := r.Reply(context.Background(), "zhangsan", tt.rep); err != nil {
				t.Fatalf("Reply: %v", err)
			}
			if got := len(s.Updates()); got != tt.wantUpdates {
				t.Errorf("updates = %d, want %d", got, tt.wantUpdates)
			}
			var types []string
			for _, m := range s.Sent() {
				types = append(types, m.MsgType)
			}
			if fmt.Sprint(types) != fmt.Sprint(tt.wantSent) {
				t.Errorf("new messages = %v, want %v", types, tt.wantSent)
			}
			warned := logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("new message").Len() > 0
			if warned != tt.wantWarn {
				t.Errorf("warned about the failed update = %v, want %v", warned, tt.wantWarn)
			}
		})
	}
}

func TestReplierReturnsSendErrors(t *testing.T) {
	s := wecomtest.NewServer(t)
	c, _ := newOutClient(t, s)
	s.FailNext("message/send", 40058, 1)
	err := NewReplier(c, "card", "zh", nil).Reply(context.Background(), "zhangsan", listReply(3, "zh"))
	if err == nil {
		t.Fatalf("Reply = nil, want the send error")
	}
}
