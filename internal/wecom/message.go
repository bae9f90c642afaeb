package wecom

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

// InboundMessage is the decrypted plaintext of one WeCom callback, for the message types
// and events the bot understands. MsgID and AgentID are strings: WeCom sends MsgId values
// such as "CAIQg/PKxgYY...==" since 2025.
type InboundMessage struct {
	ToUserName   string `xml:"ToUserName"`
	FromUserName string `xml:"FromUserName"`
	CreateTime   int64  `xml:"CreateTime"`
	MsgType      string `xml:"MsgType"`
	AgentID      string `xml:"AgentID"`
	MsgID        string `xml:"MsgId"`

	// text
	Content string `xml:"Content"`

	// event: click, enter_agent, template_card_event, ...
	Event        string `xml:"Event"`
	EventKey     string `xml:"EventKey"`
	TaskID       string `xml:"TaskId"`
	CardType     string `xml:"CardType"`
	ResponseCode string `xml:"ResponseCode"`
	// SelectedItems holds the choices of vote and multiple-choice cards.
	SelectedItems []InboundSelectedItem `xml:"SelectedItems>SelectedItem"`
}

// InboundSelectedItem is one answered question of a template_card_event
// (SelectedItems>SelectedItem).
type InboundSelectedItem struct {
	QuestionKey string   `xml:"QuestionKey"`
	OptionIDs   []string `xml:"OptionIds>OptionId"`
}

// ParseInbound parses a decrypted callback plaintext. It only fails on malformed XML
// (or a root element other than <xml>); unknown types parse fine and are left to ToChat.
func ParseInbound(plaintext []byte) (InboundMessage, error) {
	var v struct {
		XMLName xml.Name `xml:"xml"`
		InboundMessage
	}
	if err := xml.Unmarshal(plaintext, &v); err != nil {
		return InboundMessage{}, fmt.Errorf("wecom: parse message: %w", err)
	}
	return v.InboundMessage, nil
}

// ToChat maps the message to the neutral chat.Message the command side acts on.
// ok is false for what the bot ignores: other message types (image, voice, location...),
// other events, and messages without a sender.
func (m InboundMessage) ToChat() (msg chat.Message, ok bool) {
	user := strings.TrimSpace(m.FromUserName)
	if user == "" {
		return chat.Message{}, false
	}
	msg = chat.Message{User: user}
	if m.CreateTime > 0 {
		msg.Time = time.Unix(m.CreateTime, 0)
	}
	switch strings.ToLower(strings.TrimSpace(m.MsgType)) {
	case "text":
		msg.Kind = chat.KindText
		msg.Text = m.Content
		msg.ID = strings.TrimSpace(m.MsgID)
		if msg.ID == "" {
			// WeCom always sends a MsgId; without one, retries still share this key.
			sum := sha256.Sum256([]byte(m.Content))
			msg.ID = m.eventID(user, "text", hex.EncodeToString(sum[:8]))
		}
		return msg, true
	case "event":
		event := strings.ToLower(strings.TrimSpace(m.Event))
		switch event {
		case "click":
			msg.Kind = chat.KindMenu
			msg.EventKey = m.EventKey
			msg.ID = m.eventID(user, event, m.EventKey)
		case "enter_agent":
			msg.Kind = chat.KindEnter
			msg.ID = m.eventID(user, event, m.EventKey)
		case "template_card_event":
			msg.Kind = chat.KindCardClick
			msg.EventKey = m.EventKey
			msg.TaskID = m.TaskID
			msg.ResponseCode = strings.TrimSpace(m.ResponseCode)
			if msg.ResponseCode != "" {
				msg.ID = "rc:" + msg.ResponseCode
			} else {
				msg.ID = m.eventID(user, event, m.EventKey)
			}
		default:
			return chat.Message{}, false
		}
		return msg, true
	default:
		return chat.Message{}, false
	}
}

// eventID is the dedupe key of events without a MsgId or ResponseCode:
// "ev:" + user + ":" + CreateTime + ":" + event + ":" + key.
func (m InboundMessage) eventID(user, event, key string) string {
	return "ev:" + user + ":" + strconv.FormatInt(m.CreateTime, 10) + ":" + event + ":" + key
}
