package smartbot

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
)

// MaxContentBytes is the limit of a stream's or a markdown message's content (P101031,
// P101138: 20480 bytes of UTF-8), ten times an app message's.
const MaxContentBytes = 20480

// Replier renders replies for the smart bot and sends them back to the conversation the
// message came from (carried by the context's source, chat.SourceFrom):
//   - a group gets markdown only: cards are for 1:1 chats, so a confirmation becomes a
//     text code ("确认 AB12") that only the member who asked can use;
//   - a 1:1 chat gets template cards for objects and confirmations, markdown otherwise;
//   - on the long connection a reply answers the message's req_id with a finished stream
//     (and falls back to aibot_send_msg when WeCom will not take it); in webhook mode it
//     goes into the message's stream, or to its response_url once the stream is closed.
//
// Every message counts against the conversation's budget (30 a minute, 1000 an hour).
type Replier struct {
	ws     *Client  // nil without a long connection
	hook   *Webhook // nil without a webhook
	lang   string
	budget *wecom.Budget
	log    *zap.Logger
	newID  func() string

	mu   sync.Mutex
	open map[string]openStream // by req_id: a stream waiting for a task's result
}

// openStream is a long-connection stream left unfinished by a FollowUp reply.
type openStream struct {
	id, content string
	at          time.Time
}

var _ chat.Replier = (*Replier)(nil)

// NewReplier returns a Replier over the long connection ws and/or the webhook hook.
func NewReplier(ws *Client, hook *Webhook, lang string, budget *wecom.Budget, log *zap.Logger) *Replier {
	if log == nil {
		log = zap.NewNop()
	}
	return &Replier{ws: ws, hook: hook, lang: lang, budget: budget, log: log, newID: func() string { return "s" + rand.Text() },
		open: map[string]openStream{}}
}

// Reply sends rep to the conversation in ctx; user is the member who asked.
func (r *Replier) Reply(ctx context.Context, user string, rep chat.Reply) error {
	conv, ok := ParseSource(chat.SourceFrom(ctx))
	if !ok {
		// No conversation (an action recovered from before the source was kept): the
		// member's 1:1 chat with the bot.
		conv = Conversation{Type: ChatSingle, ID: user}
	}
	if !conv.Group() && !conv.Webhook && r.ws != nil && (rep.Kind == chat.ReplyCard || rep.Kind == chat.ReplyConfirm) {
		return r.card(ctx, conv, rep)
	}
	parts := wecom.RenderMarkdown(rep, r.lang, MaxContentBytes)
	for i, part := range parts {
		if err := r.markdown(ctx, conv, part, rep.FollowUp && i == len(parts)-1); err != nil {
			return err
		}
	}
	return nil
}

// markdown sends one markdown part. On the long connection a part whose result follows
// (followUp) leaves its stream open, and the next part for the same message finishes it
// with both: a power action shows "running" and then its result in one bubble, within
// the stream's 6 minutes (pve.task_timeout is 5m by default; past it WeCom refuses with
// 846608 and the result goes to the chat as a new message).
func (r *Replier) markdown(ctx context.Context, conv Conversation, content string, followUp bool) error {
	if _, err := r.budget.Wait(ctx, conv.ID); err != nil {
		return err
	}
	if conv.Webhook {
		if r.hook == nil {
			return errors.New("smartbot: webhook mode is off; cannot answer a webhook message")
		}
		return r.hook.reply(ctx, conv, content)
	}
	if r.ws == nil {
		return errors.New("smartbot: no long connection to send on")
	}
	if conv.ReqID != "" && !conv.Click {
		// The stream id follows from the message and the content, so that the inbox's
		// retry of a reply whose acknowledgement was lost is the same stream, not a
		// second bubble.
		id, full, fresh := streamFor(conv.ReqID, content), content, true
		r.mu.Lock()
		if st, ok := r.open[conv.ReqID]; ok {
			id, full, fresh = st.id, st.content+"\n\n"+content, false
		}
		r.mu.Unlock()
		err := r.ws.Respond(ctx, conv.ReqID, newStream(id, !followUp, full))
		if err == nil {
			r.keepOpen(conv.ReqID, id, full, followUp)
			return nil
		}
		var ae *APIError
		if !errors.As(err, &ae) {
			return err // the connection is down: the inbox tries again
		}
		if ae.Code == errcodeStreamExpired && fresh && !followUp {
			// This finished stream went out before; only WeCom's answer was lost.
			r.log.Info("smartbot: a reply already delivered was not sent again")
			return nil
		}
		r.keepOpen(conv.ReqID, "", "", false)
		r.log.Info("smartbot: WeCom would not take a reply to the message; sending it to the chat instead", zap.Int("errcode", ae.Code))
	}
	b := markdownBody{ChatID: conv.ID, ChatType: chatTypeCode(conv.Type), MsgType: "markdown"}
	b.Markdown.Content = content
	return r.ws.Send(ctx, b)
}

// errcodeStreamExpired is WeCom's answer to a frame for a stream that is finished or
// older than 6 minutes (846608, "stream message update expired") [T WSD].
const errcodeStreamExpired = 846608

// streamFor is the stream id of a reply: the same for the same message and content.
func streamFor(reqID, content string) string {
	h := sha1.Sum([]byte(reqID + "\x00" + content))
	return "ops" + hex.EncodeToString(h[:12])
}

// keepOpen remembers (open) or forgets the unfinished stream of reqID.
func (r *Replier) keepOpen(reqID, id, content string, open bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !open {
		delete(r.open, reqID)
		return
	}
	now := time.Now()
	for k, st := range r.open { // results that never came (a restart, a cancelled wait)
		if now.Sub(st.at) > 10*time.Minute {
			delete(r.open, k)
		}
	}
	r.open[reqID] = openStream{id: id, content: content, at: now}
}

// card sends a template card to a 1:1 chat.
func (r *Replier) card(ctx context.Context, conv Conversation, rep chat.Reply) error {
	if r.ws == nil {
		return errors.New("smartbot: no long connection to send on")
	}
	if _, err := r.budget.Wait(ctx, conv.ID); err != nil {
		return err
	}
	card := wecom.RenderCard(rep, taskID(r.newID()), r.lang)
	if conv.ReqID != "" && !conv.Click {
		err := r.ws.Respond(ctx, conv.ReqID, cardBody{MsgType: "template_card", TemplateCard: card})
		var ae *APIError
		if !errors.As(err, &ae) {
			return err
		}
		r.log.Info("smartbot: WeCom would not take a card reply; sending it to the chat instead", zap.Int("errcode", ae.Code))
	}
	return r.ws.Send(ctx, cardBody{ChatID: conv.ID, ChatType: 1, MsgType: "template_card", TemplateCard: card})
}

// taskID makes a card task_id: [0-9A-Za-z_-@], at most 128 bytes, never reused.
func taskID(id string) string { return "ops_" + strings.ToLower(id) }

// Push sends a scheduled report or an alert (markdown) to a conversation that has talked
// to the bot: a group's chatid (group true) or a member's userid. Long connection only.
func (r *Replier) Push(ctx context.Context, chatID string, group bool, content string) error {
	if r.ws == nil {
		return errors.New("smartbot: pushes need the long connection (webhook mode cannot send unasked)")
	}
	t := ChatSingle
	if group {
		t = ChatGroup
	}
	if _, err := r.budget.Wait(ctx, chatID); err != nil {
		return err
	}
	b := markdownBody{ChatID: chatID, ChatType: chatTypeCode(t), MsgType: "markdown"}
	b.Markdown.Content = wecom.Truncate(content, MaxContentBytes)
	if err := r.ws.Send(ctx, b); err != nil {
		return fmt.Errorf("smartbot: push: %w", err)
	}
	return nil
}
