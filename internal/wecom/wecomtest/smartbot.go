package wecomtest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// SmartBot plays WeCom's long-connection endpoint for one smart bot (智能机器人 API mode,
// P101463; frame shapes from WecomTeam/aibot-node-sdk). Its frame types are its own, not
// the bot's, so that a wrong belief in the bot's frames shows up as a failing test.
//
// What it does as WeCom does:
//   - the first frame must be aibot_subscribe with the BotID and Secret; a wrong pair is
//     answered with a non-zero errcode and the connection closed (the code WeCom uses is
//     not documented; 40001 here [unverified]);
//   - one connection per bot: a newer subscription sends the older connection a
//     disconnected_event and closes it;
//   - ping is answered with errcode 0 and the ping's req_id;
//   - aibot_respond_msg must name the req_id of a callback it sent; aibot_send_msg must
//     name a chat that has talked to the bot ("需要用户在会话中给机器人发过消息");
//   - text is refused by aibot_send_msg with 40008;
//   - a stream takes frames for 6 minutes from its first and none after finish
//     (846608);
//   - per conversation at most 30 messages a minute and 1000 an hour, replies and sends
//     together; beyond, errcode 45009 [T WSD].
type SmartBot struct {
	BotID, Secret string
	// Events reports what happened, in order: "subscribed", "refused", "kicked",
	// "closed", "ping". Tests wait on it.
	Events chan SmartBotEvent
	// Out receives every message the bot sent (respond and send frames WeCom accepted).
	Out chan SmartBotOut
	// Now gives the clock of the rate limits (time.Now when nil).
	Now func() time.Time
	// ReqIDsPerConnection makes a callback's req_id valid only on the connection that
	// carried it. Whether WeCom takes a reply to a req_id of an earlier connection is not
	// documented [unverified]; tests run both ways.
	ReqIDsPerConnection bool

	srv *httptest.Server

	mu     sync.Mutex
	cur    *sbConn
	seq    int
	reqs   map[string]sbReq // callback req_id -> conversation
	talked map[string]bool  // chat ids that have talked to the bot
	sent   map[string][]time.Time
	// streams: when each stream got its first frame, and whether it finished
	streamAt   map[string]time.Time
	streamDone map[string]bool
	// Refuse, when set, answers every respond/send with this errcode (tests of the fallback).
	refuse map[string]int
}

// SmartBotEvent is one thing that happened on the fake's side.
type SmartBotEvent struct {
	Kind string
	Conn int // the connection's number, from 1
}

// SmartBotOut is one message the bot sent.
type SmartBotOut struct {
	Cmd      string // aibot_respond_msg or aibot_send_msg
	ReqID    string
	ChatID   string // the conversation (the callback's, for a respond)
	MsgType  string // stream, markdown, template_card
	Content  string // stream.content or markdown.content
	Finish   bool   // stream.finish
	StreamID string
	Card     json.RawMessage // template_card
}

type sbReq struct {
	chatID string
	conn   int
}

type sbConn struct {
	n    int
	ws   *websocket.Conn
	wmu  sync.Mutex
	done chan struct{}
}

type sbFrame struct {
	Cmd     string          `json:"cmd,omitempty"`
	Headers map[string]any  `json:"headers"`
	Body    json.RawMessage `json:"body,omitempty"`
	ErrCode *int            `json:"errcode,omitempty"`
	ErrMsg  string          `json:"errmsg,omitempty"`
}

// NewSmartBot starts the fake endpoint; Close stops it.
func NewSmartBot(botID, secret string) *SmartBot {
	s := &SmartBot{BotID: botID, Secret: secret, Events: make(chan SmartBotEvent, 1024), Out: make(chan SmartBotOut, 1024),
		reqs: map[string]sbReq{}, talked: map[string]bool{}, sent: map[string][]time.Time{}, refuse: map[string]int{},
		streamAt: map[string]time.Time{}, streamDone: map[string]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the ws:// address to give the bot as wecom.smartbot.ws_url.
func (s *SmartBot) URL() string { return "ws" + strings.TrimPrefix(s.srv.URL, "http") }

// Close stops the fake.
func (s *SmartBot) Close() {
	s.Drop()
	s.srv.Close()
}

// RefuseCmd makes WeCom answer every frame of cmd with errcode (0 turns it off).
func (s *SmartBot) RefuseCmd(cmd string, errcode int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refuse[cmd] = errcode
}

// Drop kills the current connection without a word, as a network loss does.
func (s *SmartBot) Drop() {
	s.mu.Lock()
	c := s.cur
	s.cur = nil
	s.mu.Unlock()
	if c != nil {
		c.ws.CloseNow()
	}
}

func (s *SmartBot) event(kind string, n int) {
	select {
	case s.Events <- SmartBotEvent{Kind: kind, Conn: n}:
	default:
	}
}

func (s *SmartBot) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *SmartBot) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.seq++
	c := &sbConn{n: s.seq, ws: ws, done: make(chan struct{})}
	s.mu.Unlock()
	defer func() {
		ws.CloseNow()
		s.mu.Lock()
		if s.cur == c {
			s.cur = nil
		}
		s.mu.Unlock()
		s.event("closed", c.n)
	}()
	ctx := r.Context()
	subscribed := false
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		var f sbFrame
		if json.Unmarshal(data, &f) != nil {
			return
		}
		reqID, _ := f.Headers["req_id"].(string)
		if !subscribed {
			if f.Cmd != "aibot_subscribe" {
				return // WeCom expects the subscription first
			}
			var b struct {
				BotID  string `json:"bot_id"`
				Secret string `json:"secret"`
			}
			_ = json.Unmarshal(f.Body, &b)
			if b.BotID != s.BotID || b.Secret != s.Secret {
				c.answer(ctx, reqID, 40001, "invalid credential")
				s.event("refused", c.n)
				return
			}
			subscribed = true
			s.mu.Lock()
			old := s.cur
			s.cur = c
			s.mu.Unlock()
			c.answer(ctx, reqID, 0, "ok")
			if old != nil {
				old.send(ctx, sbFrame{Cmd: "aibot_event_callback", Headers: map[string]any{"req_id": newFakeReqID()},
					Body: mustJSON(map[string]any{"msgid": newFakeReqID(), "create_time": s.now().Unix(), "aibotid": s.BotID,
						"msgtype": "event", "event": map[string]any{"eventtype": "disconnected_event", "disconnected_event": map[string]any{}}})})
				s.event("kicked", old.n)
				old.ws.Close(websocket.StatusNormalClosure, "")
			}
			s.event("subscribed", c.n)
			continue
		}
		switch f.Cmd {
		case "ping":
			c.answer(ctx, reqID, 0, "ok")
			s.event("ping", c.n)
		case "aibot_respond_msg", "aibot_send_msg":
			code, msg := s.take(f, reqID, c.n)
			c.answer(ctx, reqID, code, msg)
		default:
			c.answer(ctx, reqID, 40058, "unknown cmd")
		}
	}
}

// take checks and records one respond or send frame; it returns WeCom's errcode.
func (s *SmartBot) take(f sbFrame, reqID string, conn int) (int, string) {
	var b struct {
		ChatID  string `json:"chatid"`
		MsgType string `json:"msgtype"`
		Stream  struct {
			ID      string `json:"id"`
			Finish  bool   `json:"finish"`
			Content string `json:"content"`
		} `json:"stream"`
		Markdown struct {
			Content string `json:"content"`
		} `json:"markdown"`
		Card json.RawMessage `json:"template_card"`
	}
	if json.Unmarshal(f.Body, &b) != nil {
		return 40058, "invalid body"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if code := s.refuse[f.Cmd]; code != 0 {
		return code, "refused by the test"
	}
	out := SmartBotOut{Cmd: f.Cmd, ReqID: reqID, MsgType: b.MsgType, Card: b.Card}
	switch f.Cmd {
	case "aibot_respond_msg":
		req, ok := s.reqs[reqID]
		if !ok || s.ReqIDsPerConnection && req.conn != conn {
			return 846605, "invalid req_id"
		}
		out.ChatID = req.chatID
		if b.MsgType != "stream" && b.MsgType != "template_card" {
			return 40008, "invalid message type"
		}
		out.Content, out.Finish, out.StreamID = b.Stream.Content, b.Stream.Finish, b.Stream.ID
		if b.MsgType == "stream" {
			// A stream lives 6 minutes from its first frame and ends with finish [T WSD].
			first, seen := s.streamAt[b.Stream.ID]
			if b.Stream.ID == "" || s.streamDone[b.Stream.ID] || seen && s.now().Sub(first) > 6*time.Minute {
				return 846608, "stream message update expired"
			}
			if !seen {
				s.streamAt[b.Stream.ID] = s.now()
			}
			s.streamDone[b.Stream.ID] = b.Stream.Finish
		}
	default:
		if !s.talked[b.ChatID] {
			return 40003, "chat has not talked to the bot"
		}
		out.ChatID = b.ChatID
		if b.MsgType != "markdown" && b.MsgType != "template_card" {
			return 40008, "invalid message type"
		}
		out.Content = b.Markdown.Content
	}
	if len(out.Content) > 20480 {
		return 40058, "content too long"
	}
	now := s.now()
	var recent []time.Time
	minute := 0
	for _, t := range s.sent[out.ChatID] {
		if now.Sub(t) < time.Hour {
			recent = append(recent, t)
			if now.Sub(t) < time.Minute {
				minute++
			}
		}
	}
	if minute >= 30 || len(recent) >= 1000 {
		s.sent[out.ChatID] = recent
		return 45009, "api freq out of limit"
	}
	s.sent[out.ChatID] = append(recent, now)
	select {
	case s.Out <- out:
	default:
	}
	return 0, "ok"
}

func (c *sbConn) send(ctx context.Context, f sbFrame) error {
	data, _ := json.Marshal(f)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.Write(ctx, websocket.MessageText, data)
}

func (c *sbConn) answer(ctx context.Context, reqID string, code int, msg string) {
	_ = c.send(ctx, sbFrame{Headers: map[string]any{"req_id": reqID}, ErrCode: &code, ErrMsg: msg})
}

// SmartBotMessage is a member's message as the fake delivers it.
type SmartBotMessage struct {
	MsgID    string // a fresh one when empty
	User     string
	ChatID   string // a group's chatid; empty for a 1:1 chat
	Text     string
	EventKey string // a card click instead of a text: the button's key
	TaskID   string // the clicked card's task_id
}

// Deliver sends m to the bot on the current connection as an aibot_msg_callback (or an
// aibot_event_callback for a click) and returns its req_id and msgid. Delivering the same
// MsgID again is what WeCom does when it is not sure the bot got it.
func (s *SmartBot) Deliver(ctx context.Context, m SmartBotMessage) (reqID, msgID string, err error) {
	s.mu.Lock()
	c := s.cur
	s.mu.Unlock()
	if c == nil {
		return "", "", errors.New("wecomtest: smartbot: no subscribed connection")
	}
	if m.MsgID == "" {
		m.MsgID = newFakeReqID()
	}
	body := map[string]any{"msgid": m.MsgID, "aibotid": s.BotID, "from": map[string]any{"userid": m.User},
		"response_url": "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=fake"}
	chatID := m.User
	if m.ChatID != "" {
		body["chatid"], body["chattype"] = m.ChatID, "group"
		chatID = m.ChatID
	} else {
		body["chattype"] = "single"
	}
	cmd := "aibot_msg_callback"
	if m.EventKey != "" {
		cmd = "aibot_event_callback"
		body["msgtype"] = "event"
		body["create_time"] = s.now().Unix()
		body["event"] = map[string]any{"eventtype": "template_card_event",
			"template_card_event": map[string]any{"card_type": "button_interaction", "event_key": m.EventKey, "task_id": m.TaskID}}
	} else {
		body["msgtype"] = "text"
		body["text"] = map[string]any{"content": m.Text}
	}
	reqID = newFakeReqID()
	s.mu.Lock()
	s.reqs[reqID] = sbReq{chatID: chatID, conn: c.n}
	s.talked[chatID] = true
	s.mu.Unlock()
	if err := c.send(ctx, sbFrame{Cmd: cmd, Headers: map[string]any{"req_id": reqID}, Body: mustJSON(body)}); err != nil {
		return "", "", fmt.Errorf("wecomtest: smartbot: deliver: %w", err)
	}
	return reqID, m.MsgID, nil
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func newFakeReqID() string { return rand.Text()[:20] }
