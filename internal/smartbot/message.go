// Package smartbot is the bot's transport for a WeCom smart bot (智能机器人) in API mode:
// the long connection (a WebSocket the bot opens to WeCom with a BotID and Secret: no
// public URL, no message crypto) and the webhook (encrypted JSON callbacks). Both turn
// what members type, 1:1 or with an @ in a group chat, into the same neutral chat.Message
// the self-built app produces, and render chat.Reply values as the smart bot can show them:
// markdown inside a stream, template cards in 1:1 chats, text confirmation codes in groups.
//
// Facts (frames, fields, limits) come from WeCom's smart-bot pages and its official Node
// SDK for the long connection (WecomTeam/aibot-node-sdk); see docs/setup.md.
package smartbot

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

// SourcePrefix starts the chat.Message.Source of every smart-bot message. The rest of the
// source is the conversation (chat type, chat id, and how to answer this one message), so
// that replies, the follow-ups of actions and what a restart resumes all go back to the
// conversation the message came from: the inbox, the dispatcher and the store carry
// Source through unchanged.
const SourcePrefix = "smartbot"

// IDPrefix starts the de-duplication key of every smart-bot message ("smartbot:" + msgid),
// keeping WeCom's smart-bot msgids apart from the app's MsgIds in the store.
const IDPrefix = "smartbot:"

// Chat types as WeCom names them in callbacks.
const (
	ChatSingle = "single"
	ChatGroup  = "group"
)

// Conversation is where a smart-bot message came from and how to answer it.
type Conversation struct {
	Type string // ChatSingle or ChatGroup
	// ID is the group's chatid, or the member's userid in a 1:1 chat (what aibot_send_msg
	// takes as chatid in both cases).
	ID string
	// ReqID is the long connection's req_id of the callback: replies to this message are
	// aibot_respond_msg frames carrying it. Empty in webhook mode.
	ReqID string
	// Stream is the webhook stream id that answers this message (webhook mode only).
	Stream string
	// ResponseURL is the callback's one-time URL for a late answer (webhook mode).
	ResponseURL string
	// Click is true for a template-card click: WeCom takes no stream in answer to one.
	Click bool
	// Webhook is true for a message that came through the webhook.
	Webhook bool
}

// Group reports whether the conversation is a group chat.
func (c Conversation) Group() bool { return c.Type == ChatGroup }

// Source encodes c as a chat.Message.Source.
func (c Conversation) Source() string {
	v := url.Values{}
	v.Set("t", c.Type)
	v.Set("c", c.ID)
	if c.ReqID != "" {
		v.Set("r", c.ReqID)
	}
	if c.Stream != "" {
		v.Set("s", c.Stream)
	}
	if c.ResponseURL != "" {
		v.Set("u", c.ResponseURL)
	}
	if c.Click {
		v.Set("k", "1")
	}
	if c.Webhook {
		v.Set("w", "1")
	}
	return SourcePrefix + "?" + v.Encode()
}

// ParseSource decodes a Source made by Conversation.Source; ok is false for any other
// source (WeCom's app, the console).
func ParseSource(src string) (c Conversation, ok bool) {
	rest, found := strings.CutPrefix(src, SourcePrefix+"?")
	if !found {
		return Conversation{}, false
	}
	v, err := url.ParseQuery(rest)
	if err != nil || v.Get("c") == "" {
		return Conversation{}, false
	}
	return Conversation{Type: v.Get("t"), ID: v.Get("c"), ReqID: v.Get("r"), Stream: v.Get("s"),
		ResponseURL: v.Get("u"), Click: v.Get("k") == "1", Webhook: v.Get("w") == "1"}, true
}

// callback is the decoded body of a message or event callback, the same JSON in both
// modes (the long connection's frame body, the webhook's decrypted plaintext).
type callback struct {
	MsgID    string `json:"msgid"`
	AIBotID  string `json:"aibotid"`
	ChatID   string `json:"chatid"`
	ChatType string `json:"chattype"`
	From     struct {
		UserID string `json:"userid"`
	} `json:"from"`
	CreateTime  int64  `json:"create_time"`
	ResponseURL string `json:"response_url"`
	MsgType     string `json:"msgtype"`
	Text        struct {
		Content string `json:"content"`
	} `json:"text"`
	Voice struct {
		Content string `json:"content"`
	} `json:"voice"`
	Mixed struct {
		Items []struct {
			MsgType string `json:"msgtype"`
			Text    struct {
				Content string `json:"content"`
			} `json:"text"`
		} `json:"msg_item"`
	} `json:"mixed"`
	Stream struct {
		ID string `json:"id"`
	} `json:"stream"`
	Event struct {
		EventType string `json:"eventtype"`
		Card      struct {
			CardType string `json:"card_type"`
			EventKey string `json:"event_key"`
			TaskID   string `json:"task_id"`
		} `json:"template_card_event"`
	} `json:"event"`
}

// errIgnored says a callback carries nothing the bot acts on (an image, a feedback event).
var errIgnored = errors.New("smartbot: nothing to act on")

// parseCallback decodes body into a chat.Message for conv (whose Type and ID it fills).
// botName, when set, is the bot's display name, removed as "@name" wherever it stands.
func parseCallback(body []byte, conv Conversation, botName string, now time.Time) (chat.Message, Conversation, error) {
	var cb callback
	if err := json.Unmarshal(body, &cb); err != nil {
		return chat.Message{}, conv, fmt.Errorf("smartbot: decode callback: %w", err)
	}
	if cb.From.UserID == "" {
		return chat.Message{}, conv, errIgnored
	}
	conv.Type = cb.ChatType
	if conv.Type == "" {
		conv.Type = ChatSingle
	}
	conv.ID = cb.ChatID
	if conv.Type != ChatGroup || conv.ID == "" {
		conv.Type, conv.ID = ChatSingle, cb.From.UserID
	}
	if conv.ResponseURL == "" {
		conv.ResponseURL = cb.ResponseURL
	}
	m := chat.Message{User: cb.From.UserID, Time: now}
	if cb.CreateTime > 0 {
		m.Time = time.Unix(cb.CreateTime, 0)
	}
	switch cb.MsgType {
	case "text":
		m.Kind, m.Text = chat.KindText, stripMention(cb.Text.Content, botName)
	case "voice":
		m.Kind, m.Text = chat.KindText, stripMention(cb.Voice.Content, botName)
	case "mixed":
		var parts []string
		for _, it := range cb.Mixed.Items {
			if it.MsgType == "text" {
				parts = append(parts, it.Text.Content)
			}
		}
		m.Kind, m.Text = chat.KindText, stripMention(strings.Join(parts, " "), botName)
	case "event":
		switch cb.Event.EventType {
		case "template_card_event":
			m.Kind, m.EventKey, m.TaskID = chat.KindCardClick, cb.Event.Card.EventKey, cb.Event.Card.TaskID
			conv.Click = true
		case "enter_chat":
			m.Kind = chat.KindEnter
		default:
			return chat.Message{}, conv, errIgnored
		}
	default:
		return chat.Message{}, conv, errIgnored
	}
	if cb.MsgID == "" {
		return chat.Message{}, conv, errors.New("smartbot: callback without msgid")
	}
	m.ID = IDPrefix + cb.MsgID
	m.Source = conv.Source()
	if conv.Group() {
		m.Chat = conv.ID
	}
	return m, conv, nil
}

// mentionRe is an @mention: "@" and what follows up to a space. WeCom leaves the mention
// where the member typed it ("hello@助手 ", "@RobotA hello"), and commands never hold "@".
var mentionRe = regexp.MustCompile(`@[^\s@]+`)

// stripMention removes "@botName" (or, without a name, every @word) wherever it stands,
// and trims what is left.
func stripMention(s, botName string) string {
	if botName != "" {
		s = strings.ReplaceAll(s, "@"+botName, " ")
	} else {
		s = mentionRe.ReplaceAllString(s, " ")
	}
	return strings.Join(strings.Fields(s), " ")
}
