package smartbot

import (
	"testing"
	"time"
)

var testNow = time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)

func TestStripMention(t *testing.T) {
	tests := []struct{ in, name, want string }{
		{"@RobotA hello robot", "", "hello robot"},
		{"vm list@运维助手 ", "运维助手", "vm list"},
		{"vm list@运维助手 ", "", "vm list"},
		{"@运维助手 vm shutdown 104", "运维助手", "vm shutdown 104"},
		{"启动 @运维助手 homeassistant", "运维助手", "启动 homeassistant"},
		{"@My Bot status", "My Bot", "status"},
		{"  help\u3000", "", "help"},
		{"@运维助手", "运维助手", ""},
	}
	for _, tt := range tests {
		if got := stripMention(tt.in, tt.name); got != tt.want {
			t.Errorf("stripMention(%q, %q) = %q, want %q", tt.in, tt.name, got, tt.want)
		}
	}
}

func TestSourceRoundTrip(t *testing.T) {
	convs := []Conversation{
		{Type: ChatGroup, ID: "wrk&id=1", ReqID: "req?x"},
		{Type: ChatSingle, ID: "WangHao", Stream: "ops1", ResponseURL: "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=a&b", Webhook: true},
		{Type: ChatSingle, ID: "u", Click: true},
	}
	for _, c := range convs {
		got, ok := ParseSource(c.Source())
		if !ok || got != c {
			t.Errorf("ParseSource(%q) = %+v, %v; want %+v", c.Source(), got, ok, c)
		}
	}
	for _, src := range []string{"", "console", "smartbot", "smartbot?t=group"} {
		if _, ok := ParseSource(src); ok {
			t.Errorf("ParseSource(%q) ok", src)
		}
	}
}

func TestParseCallbackKinds(t *testing.T) {
	tests := []struct {
		name, body string
		wantErr    bool
		wantText   string
	}{
		{"voice is text", `{"msgid":"1","from":{"userid":"u"},"chattype":"single","msgtype":"voice","voice":{"content":"列表"}}`, false, "列表"},
		{"mixed keeps the text", `{"msgid":"2","from":{"userid":"u"},"chatid":"g","chattype":"group","msgtype":"mixed","mixed":{"msg_item":[{"msgtype":"text","text":{"content":"@bot vm"}},{"msgtype":"image","image":{"url":"x"}},{"msgtype":"text","text":{"content":"list"}}]}}`, false, "vm list"},
		{"image is ignored", `{"msgid":"3","from":{"userid":"u"},"msgtype":"image","image":{"url":"x"}}`, true, ""},
		{"no msgid", `{"from":{"userid":"u"},"msgtype":"text","text":{"content":"x"}}`, true, ""},
		{"not json", `<xml/>`, true, ""},
	}
	for _, tt := range tests {
		m, _, err := parseCallback([]byte(tt.body), Conversation{}, "", testNow)
		if (err != nil) != tt.wantErr || m.Text != tt.wantText {
			t.Errorf("%s: %+v, %v", tt.name, m, err)
		}
	}
}
