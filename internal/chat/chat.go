// Package chat holds the neutral types that flow between the chat side (WeCom callback,
// the local console) and the command side: an incoming Message and an outgoing Reply.
// It imports nothing of the project, so wecom, commands and the console can all share it
// without importing each other.
package chat

import (
	"context"
	"time"
)

// Kind says what a user did.
type Kind string

// The kinds of incoming message the bot acts on.
const (
	// KindText is a typed text message (Message.Text holds it).
	KindText Kind = "text"
	// KindMenu is a click on an app menu item (Message.EventKey holds the item's key,
	// which is the command to run).
	KindMenu Kind = "menu"
	// KindEnter is a user opening the app (enter_agent).
	KindEnter Kind = "enter"
	// KindCardClick is a click on a template card button (EventKey = button key,
	// TaskID = the card's task_id, ResponseCode = the one-time code to update that card).
	KindCardClick Kind = "card_click"
)

// Message is one thing a user did in the chat, after the transport verified it.
type Message struct {
	// ID is the stable de-duplication key: MsgId for messages, ResponseCode for card
	// clicks, user+CreateTime+Event+EventKey for other events. Retries carry the same ID.
	ID           string
	User         string // WeCom UserID (FromUserName) as sent
	Kind         Kind
	Text         string // KindText
	EventKey     string // KindMenu, KindCardClick
	TaskID       string // KindCardClick: the card's task_id
	ResponseCode string // KindCardClick: lets the bot update the clicked card once
	Time         time.Time
	// Source is the chat the message came from, so that its replies go back there:
	// "" for WeCom, "console" for the local console (which `serve` mounts next to the
	// WeCom callback when server.console is true), "smartbot?…" for the smart bot (the
	// conversation and how to answer it: package smartbot encodes and reads it). It is not
	// part of the de-duplication key; the console and the smart bot keep their IDs apart
	// by prefixing them "console:" and "smartbot:".
	Source string
	// Chat is the group chat a smart-bot message came from (its chatid), so that
	// `whoami` in a group can show what to put in a smartbot_chat target; empty in a 1:1
	// chat and for the app. Not kept across a restart.
	Chat string
}

// ReplyKind says what a reply is, so that a renderer can choose a fitting form.
type ReplyKind string

// The kinds of reply commands produce.
const (
	// ReplyText is a short plain answer (help, refusals, notices).
	ReplyText ReplyKind = "text"
	// ReplyList is a list or summary (vm list, status, audit): rendered as markdown.
	ReplyList ReplyKind = "list"
	// ReplyCard is a single object's state (vm status, a result): a text_notice card.
	ReplyCard ReplyKind = "card"
	// ReplyConfirm asks the user to confirm an action: a button_interaction card with
	// Buttons, or in text mode a line asking to reply "确认 <Code>".
	ReplyConfirm ReplyKind = "confirm"
)

// Severity colours a reply.
type Severity string

// Severities, from calm to alarming.
const (
	SeverityInfo    Severity = "info"
	SeverityOK      Severity = "ok"
	SeverityWarning Severity = "warning"
	SeverityError   Severity = "error"
)

// Field is one labelled value of a card ("节点: pve1").
type Field struct {
	Label string
	Value string
}

// Button is one button of a card: confirm/cancel on a confirmation, or a command to run.
type Button struct {
	Text  string
	Key   string // comes back as Message.EventKey
	Style int    // WeCom style: 1 primary (confirm), 2 secondary (cancel), 3 red, 4 blue
}

// Link is a web page a reply points at ("在 PVE 中打开" and the guest's page in the PVE web
// UI). Renderers show it the way their chat can: a tap on a card, a markdown link, a bare URL.
type Link struct {
	Text string // short label, a few words
	URL  string // absolute http(s) URL
}

// Reply is what a command answers, independent of how it looks. Renderers (WeCom card,
// markdown, text; the local console) decide the form.
type Reply struct {
	Kind     ReplyKind
	Severity Severity
	Title    string   // one line: "homeassistant (101)" or "虚拟机列表"
	Fields   []Field  // labelled values, in order
	Lines    []string // body lines (list rows, help text); renderers may shorten with "N more"
	// Omitted is how many more body lines there are than Lines holds (a list too long for
	// any message): renderers count them in their "N more".
	Omitted int
	Buttons []Button // a card's buttons: confirm/cancel, or commands to run (ReplyCard)
	Code    string   // ReplyConfirm: the short code for text mode ("确认 <Code>")
	Footer  string   // a last grey line (hints, "N more")
	// Link, when its URL is set, is a page about the reply's object (a guest or node in the
	// PVE web UI).
	Link Link
	// UpdateCode, when set, asks the renderer to update the clicked card (WeCom's
	// response_code) instead of sending a new message. Renderers that cannot update
	// send it as a new message.
	UpdateCode string
	// Image, when set, is a picture sent before the reply's text (a resource graph).
	Image *Image
	// FollowUp says that another reply will follow this one for the same message (a
	// task still running: its result comes later). A renderer that can keep a message
	// open (the smart bot's stream) shows the result in the same bubble.
	FollowUp bool
}

// Image is a picture that goes with a reply. The reply's own text says in words what it
// shows, so a transport that cannot send it still answers.
type Image struct {
	PNG []byte
	// Unsent is the line that stands in for the picture when it could not be sent
	// ("图片未能发送，以下是文字说明。"), in the user's language.
	Unsent string
}

// Replier delivers replies to one user.
type Replier interface {
	Reply(ctx context.Context, user string, r Reply) error
}

// Handler turns one incoming message into the replies to send back to its sender.
// It must be safe for concurrent use.
type Handler interface {
	Handle(ctx context.Context, m Message) []Reply
}

// sourceKey is the context key of the message source.
type sourceKey struct{}

// WithSource returns ctx carrying src (a Message.Source), so that whatever answers
// within ctx (the inbox's replies, a command's follow-up) can route the reply back to
// the chat the message came from without every signature carrying it.
func WithSource(ctx context.Context, src string) context.Context {
	return context.WithValue(ctx, sourceKey{}, src)
}

// SourceFrom returns the message source carried by ctx; "" (WeCom) when there is none.
func SourceFrom(ctx context.Context) string {
	s, _ := ctx.Value(sourceKey{}).(string)
	return s
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, m Message) []Reply

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, m Message) []Reply { return f(ctx, m) }
