package smartbot

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
)

// Long-connection commands (WecomTeam/aibot-node-sdk src/types/api.ts WsCmd).
const (
	cmdSubscribe     = "aibot_subscribe"
	cmdPing          = "ping"
	cmdRespond       = "aibot_respond_msg"
	cmdSend          = "aibot_send_msg"
	cmdMsgCallback   = "aibot_msg_callback"
	cmdEventCallback = "aibot_event_callback"
)

// eventDisconnected is the event WeCom sends an older connection when a newer one for the
// same bot subscribed; the older one is closed right after.
const eventDisconnected = "disconnected_event"

// frame is every message on the long connection: {cmd, headers:{req_id}, body}. WeCom's
// answers to our frames (subscribe, ping, respond, send) carry no cmd, the req_id of the
// frame they answer, and errcode/errmsg.
type frame struct {
	Cmd     string          `json:"cmd,omitempty"`
	Headers headers         `json:"headers"`
	Body    json.RawMessage `json:"body,omitempty"`
	ErrCode *int            `json:"errcode,omitempty"`
	ErrMsg  string          `json:"errmsg,omitempty"`
}

type headers struct {
	ReqID string `json:"req_id"`
}

// newReqID returns a fresh req_id for a frame the bot starts: "<cmd>_<random>", the SDK's
// shape (it uses the prefix to tell answers apart; we match on the whole id).
func newReqID(cmd string) string { return cmd + "_" + rand.Text()[:16] }

// APIError is a non-zero errcode in WeCom's answer to a frame.
type APIError struct {
	Op   string // subscribe, respond, send
	Code int
	Msg  string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("smartbot: %s: errcode %d: %s", e.Op, e.Code, e.Msg)
}

// subscribeBody authenticates the connection.
type subscribeBody struct {
	BotID  string `json:"bot_id"`
	Secret string `json:"secret"`
}

// streamBody is a stream reply: WeCom shows content (markdown) in one bubble, replaced by
// each frame with the same id until finish.
type streamBody struct {
	MsgType string `json:"msgtype"` // stream
	Stream  struct {
		ID      string `json:"id"`
		Finish  bool   `json:"finish"`
		Content string `json:"content"`
	} `json:"stream"`
}

func newStream(id string, finish bool, content string) streamBody {
	b := streamBody{MsgType: "stream"}
	b.Stream.ID, b.Stream.Finish, b.Stream.Content = id, finish, content
	return b
}

// markdownBody is an aibot_send_msg (and response_url) markdown message.
type markdownBody struct {
	ChatID   string `json:"chatid,omitempty"`
	ChatType int    `json:"chat_type,omitempty"` // 1 single, 2 group
	MsgType  string `json:"msgtype"`             // markdown
	Markdown struct {
		Content string `json:"content"`
	} `json:"markdown"`
}

// cardBody is a template card reply or message (1:1 chats only).
type cardBody struct {
	ChatID       string `json:"chatid,omitempty"`
	ChatType     int    `json:"chat_type,omitempty"`
	MsgType      string `json:"msgtype"` // template_card
	TemplateCard any    `json:"template_card"`
}

func chatTypeCode(t string) int {
	if t == ChatGroup {
		return 2
	}
	return 1
}
