package wecom_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
)

func TestParseInbound(t *testing.T) {
	head := wecom.InboundMessage{
		ToUserName: testCorpID, FromUserName: "zhangsan", CreateTime: 1700000000, AgentID: "1000002",
	}
	with := func(f func(m *wecom.InboundMessage)) wecom.InboundMessage {
		m := head
		f(&m)
		return m
	}
	tests := []struct {
		file   string
		want   wecom.InboundMessage
		wantOK bool
		chat   chat.Message
	}{
		{
			file: "text.xml",
			want: with(func(m *wecom.InboundMessage) {
				m.MsgType, m.Content, m.MsgID = "text", "vm start 101", "CAIQg/PKxgYYgICAgICAgAMgAQ=="
			}),
			wantOK: true,
			chat:   chat.Message{ID: "CAIQg/PKxgYYgICAgICAgAMgAQ==", User: "zhangsan", Kind: chat.KindText, Text: "vm start 101"},
		},
		{
			file:   "click.xml",
			want:   with(func(m *wecom.InboundMessage) { m.MsgType, m.Event, m.EventKey = "event", "click", "vm list" }),
			wantOK: true,
			chat:   chat.Message{ID: "ev:zhangsan:1700000000:click:vm list", User: "zhangsan", Kind: chat.KindMenu, EventKey: "vm list"},
		},
		{
			file:   "enter_agent.xml",
			want:   with(func(m *wecom.InboundMessage) { m.MsgType, m.Event = "event", "enter_agent" }),
			wantOK: true,
			chat:   chat.Message{ID: "ev:zhangsan:1700000000:enter_agent:", User: "zhangsan", Kind: chat.KindEnter},
		},
		{
			file: "template_card_event.xml",
			want: with(func(m *wecom.InboundMessage) {
				m.MsgType, m.Event, m.EventKey = "event", "template_card_event", "confirm:ab12"
				m.TaskID, m.CardType, m.ResponseCode = "task_ab12", "vote_interaction", "ResponseCode_xyz"
				m.SelectedItems = []wecom.InboundSelectedItem{
					{QuestionKey: "q1", OptionIDs: []string{"o1", "o2"}},
					{QuestionKey: "q2", OptionIDs: []string{"o3"}},
				}
			}),
			wantOK: true,
			chat: chat.Message{ID: "rc:ResponseCode_xyz", User: "zhangsan", Kind: chat.KindCardClick,
				EventKey: "confirm:ab12", TaskID: "task_ab12", ResponseCode: "ResponseCode_xyz"},
		},
		{
			file: "image.xml",
			want: with(func(m *wecom.InboundMessage) { m.MsgType, m.MsgID = "image", "1234567890123456" }),
		},
		{
			file: "view_event.xml",
			want: with(func(m *wecom.InboundMessage) {
				m.MsgType, m.Event, m.EventKey = "event", "view", "https://example.invalid/"
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := wecom.ParseInbound(readCallbackFile(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseInbound =\n%+v\nwant\n%+v", got, tt.want)
			}
			msg, ok := got.ToChat()
			if ok != tt.wantOK {
				t.Fatalf("ToChat ok = %v, want %v", ok, tt.wantOK)
			}
			if ok {
				tt.chat.Time = time.Unix(1700000000, 0)
				assertMessage(t, msg, tt.chat)
			}
		})
	}
}

func TestParseInboundErrors(t *testing.T) {
	tests := map[string]string{
		"truncated":           "<xml><FromUserName>zhangsan</From",
		"other root":          "<msg><FromUserName>zhangsan</FromUserName></msg>",
		"CreateTime not int":  "<xml><CreateTime>yesterday</CreateTime></xml>",
		"empty":               "",
		"json":                `{"MsgType":"text"}`,
		"unclosed cdata":      "<xml><Content><![CDATA[hi</Content></xml>",
		"CreateTime overflow": "<xml><CreateTime>99999999999999999999</CreateTime></xml>",
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := wecom.ParseInbound([]byte(in)); err == nil {
				t.Error("err = nil, want an error")
			}
		})
	}
}

func TestToChat(t *testing.T) {
	base := wecom.InboundMessage{FromUserName: "zhangsan", CreateTime: 1700000000}
	with := func(f func(m *wecom.InboundMessage)) wecom.InboundMessage {
		m := base
		f(&m)
		return m
	}
	tests := []struct {
		name   string
		in     wecom.InboundMessage
		wantOK bool
		want   chat.Message
	}{
		{
			name:   "event names are case-insensitive",
			in:     with(func(m *wecom.InboundMessage) { m.MsgType, m.Event = "EVENT", " Enter_Agent " }),
			wantOK: true,
			want:   chat.Message{ID: "ev:zhangsan:1700000000:enter_agent:", User: "zhangsan", Kind: chat.KindEnter},
		},
		{
			name: "card click without ResponseCode keys on the event",
			in: with(func(m *wecom.InboundMessage) {
				m.MsgType, m.Event, m.EventKey, m.TaskID = "event", "template_card_event", "k", "t1"
			}),
			wantOK: true,
			want:   chat.Message{ID: "ev:zhangsan:1700000000:template_card_event:k", User: "zhangsan", Kind: chat.KindCardClick, EventKey: "k", TaskID: "t1"},
		},
		{
			name:   "no CreateTime leaves Time zero",
			in:     wecom.InboundMessage{FromUserName: "u", MsgType: "text", Content: "hi", MsgID: " 12 "},
			wantOK: true,
			want:   chat.Message{ID: "12", User: "u", Kind: chat.KindText, Text: "hi"},
		},
		{name: "no sender", in: with(func(m *wecom.InboundMessage) { m.FromUserName, m.MsgType, m.MsgID = " ", "text", "1" })},
		{name: "voice", in: with(func(m *wecom.InboundMessage) { m.MsgType = "voice" })},
		{name: "location event", in: with(func(m *wecom.InboundMessage) { m.MsgType, m.Event = "event", "LOCATION" })},
		{name: "no type", in: base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.in.ToChat()
			if ok != tt.wantOK {
				t.Fatalf("ok = %v, want %v", ok, tt.wantOK)
			}
			if !ok {
				if got != (chat.Message{}) {
					t.Errorf("ignored message = %+v, want zero", got)
				}
				return
			}
			if tt.in.CreateTime != 0 {
				tt.want.Time = time.Unix(tt.in.CreateTime, 0)
			}
			assertMessage(t, got, tt.want)
		})
	}

	t.Run("text without MsgId gets a stable key per content", func(t *testing.T) {
		a := with(func(m *wecom.InboundMessage) { m.MsgType, m.Content = "text", "vm list" })
		b := with(func(m *wecom.InboundMessage) { m.MsgType, m.Content = "text", "vm start 101" })
		ma, _ := a.ToChat()
		ma2, _ := a.ToChat()
		mb, _ := b.ToChat()
		if !strings.HasPrefix(ma.ID, "ev:zhangsan:1700000000:text:") {
			t.Errorf("ID = %q, want prefix ev:zhangsan:1700000000:text:", ma.ID)
		}
		if ma.ID != ma2.ID || ma.ID == mb.ID {
			t.Errorf("IDs %q, %q, %q: want the first two equal and the third different", ma.ID, ma2.ID, mb.ID)
		}
	})
}
