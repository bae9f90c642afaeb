// Package notify delivers pushes (scheduled reports, alerts) to the targets of the
// config: app-owned group chats (appchat), group robots and app users. A push that
// WeCom does not take even after the client's retries is kept in an outbox in the
// store and delivered, oldest first and once, when WeCom answers again, marked with
// the time it was made.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/schedule"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
)

// OutboxBucket is the store bucket holding undelivered pushes, keyed so that the
// keys sort by creation time.
const OutboxBucket = "push_outbox"

// maxOutbox bounds the outbox: a WeCom outage of days must not fill the disk.
const maxOutbox = 1000

// Sender is the part of the WeCom client pushes use; *wecom.Client implements it.
type Sender interface {
	Send(ctx context.Context, m wecom.Message) (wecom.SendResult, error)
	AppChatSend(ctx context.Context, chatID, msgtype, content string) error
	AppChatGet(ctx context.Context, chatID string) (wecom.AppChat, error)
	AppChatCreate(ctx context.Context, chatID, name, owner string, users []string) error
	RobotSend(ctx context.Context, key, msgtype, content string) error
	SendImage(ctx context.Context, touser []string, data []byte) error
	AppChatSendImage(ctx context.Context, chatID string, data []byte) error
	RobotSendImage(ctx context.Context, key string, data []byte) error
}

// KV is the store's bucketed key/value table; *store.Store implements it.
type KV interface {
	Get(ctx context.Context, bucket, key string) ([]byte, bool, error)
	Put(ctx context.Context, bucket, key string, val []byte) error
	Delete(ctx context.Context, bucket, key string) error
	List(ctx context.Context, bucket string) (map[string][]byte, error)
}

// Message is one push. Markdown renders it within a byte limit (each kind of target
// has its own: appchat 2048, robot 4096, app 2048); Card, when set, is sent to users
// targets as an interactive card instead (groups get Markdown).
type Message struct {
	Time     time.Time // when it was made; shown when it is delivered late
	Markdown func(limit int) string
	Card     *chat.Reply
	// Image, when set, is a picture (PNG) sent to every target before the text. It is
	// sent once, now: a picture that fails is logged and the text goes alone, and the
	// outbox keeps only texts (a late chart would show the wrong day).
	Image []byte
}

// Options tune a Notifier.
type Options struct {
	Logger *zap.Logger
	Clock  schedule.Clock
	// RetryEvery is how often the outbox is retried (default 1m).
	RetryEvery time.Duration
	// RobotRate is the per-robot limit (default 20 per minute, WeCom's).
	RobotRate config.Rate
	// Smartbot sends to smartbot_chat and smartbot_user targets (nil: no smart bot).
	Smartbot SmartbotSender
	// Budget is the per-member send budget that replies share (WeCom drops app messages
	// beyond 30 a minute or 1000 an hour to one member). A push to users that finds no
	// room waits in the outbox and goes out, marked late, when there is. Nil: no budget.
	Budget *wecom.Budget
}

// overBudget is a push to members held back by the send budget: it waits in the outbox.
type overBudget struct{ wait time.Duration }

func (e overBudget) Error() string {
	return fmt.Sprintf("notify: over the members' send budget (30 a minute, 1000 an hour); room again in %s", e.wait)
}

// SmartbotSender posts markdown to a conversation through the smart bot's long
// connection; *smartbot.Replier implements it.
type SmartbotSender interface {
	Push(ctx context.Context, chatID string, group bool, content string) error
}

// smartbotMaxBytes is the smart bot's markdown limit (20480 bytes, P101138).
const smartbotMaxBytes = 20480

// Notifier delivers pushes. It is safe for concurrent use; deliveries are serialized so
// the outbox keeps its order.
type Notifier struct {
	targets  map[string]config.Target
	sender   Sender
	kv       KV
	lang     string
	textMode bool
	loc      *time.Location
	o        Options
	log      *zap.Logger

	mu     sync.Mutex // one delivery at a time
	seq    int
	robots map[string]*rate.Limiter
	kick   chan struct{}
}

// New returns a Notifier for cfg's targets.
func New(cfg *config.Config, sender Sender, kv KV, o Options) *Notifier {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Clock == nil {
		o.Clock = schedule.SystemClock{}
	}
	if o.RetryEvery <= 0 {
		o.RetryEvery = time.Minute
	}
	if o.RobotRate.Off() {
		o.RobotRate = config.Rate{N: 20, Per: time.Minute}
	}
	return &Notifier{
		targets: maps.Clone(cfg.Targets), sender: sender, kv: kv, lang: cfg.Language,
		textMode: cfg.WeCom.ReplyMode == "text", loc: cfg.Location(), o: o, log: o.Logger,
		robots: map[string]*rate.Limiter{}, kick: make(chan struct{}, 1),
	}
}

// item is one outbox entry: a message already rendered for one target.
type item struct {
	Target  string      `json:"target"`
	MsgType string      `json:"msgtype"` // markdown | text | card
	Content string      `json:"content,omitempty"`
	Reply   *chat.Reply `json:"reply,omitempty"`
	Created time.Time   `json:"created"`
}

// Push delivers m to every named target. What WeCom does not take goes to the outbox
// (and is retried by Run); errors that retrying cannot fix (a wrong robot key, an
// unknown chat) are logged and dropped. It returns how many targets got m now.
func (n *Notifier) Push(ctx context.Context, to []string, m Message) int {
	if m.Time.IsZero() {
		m.Time = n.o.Clock.Now()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	queued := n.queuedTargets(ctx)
	sent := 0
	for _, name := range to {
		t, ok := n.targets[name]
		if !ok {
			n.log.Error("push to an unknown target dropped", zap.String("target", name))
			continue
		}
		it := n.render(name, t, m)
		if queued[name] {
			// Older pushes for this target wait in the outbox: keep the order.
			n.enqueue(ctx, it, errors.New("older pushes are still waiting"))
			continue
		}
		if m.Image != nil {
			n.sendImage(ctx, name, t, m.Image)
		}
		if err := n.deliver(ctx, t, it, false); err != nil {
			n.failed(ctx, it, err)
			continue
		}
		sent++
	}
	if len(queued) > 0 {
		n.Kick()
	}
	return sent
}

func (n *Notifier) render(name string, t config.Target, m Message) item {
	it := item{Target: name, MsgType: "markdown", Created: m.Time}
	switch t.Kind() {
	case "users":
		if m.Card != nil {
			r := *m.Card
			it.MsgType, it.Reply = "card", &r
			return it
		}
		it.Content = m.Markdown(wecom.MaxTextBytes)
	case "robot":
		it.Content = m.Markdown(wecom.MaxRobotMarkdownBytes)
	case "smartbot_chat", "smartbot_user":
		it.Content = m.Markdown(smartbotMaxBytes)
	default:
		it.Content = m.Markdown(wecom.MaxTextBytes)
	}
	return it
}

// errNoSender says a target's kind has no sender in this bot (a smart bot alone has no
// self-built app); sending again cannot help.
var errNoSender = errors.New("notify: this kind of target needs a part of WeCom the bot is not configured for")

// retryable tells a WeCom outage (network, HTTP 5xx, busy, rate limit) or a full send
// budget from an error that sending again cannot fix.
func retryable(err error) bool {
	var ae *wecom.APIError
	if errors.As(err, &ae) {
		return ae.Code == -1 || ae.Code == 45009 || ae.Code == 45033
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, errNoSender)
}

func (n *Notifier) failed(ctx context.Context, it item, err error) {
	if !retryable(err) {
		n.log.Error("push refused by WeCom; dropped (fix the target in the config)",
			zap.String("target", it.Target), zap.Error(err))
		return
	}
	n.enqueue(ctx, it, err)
}

func (n *Notifier) enqueue(ctx context.Context, it item, cause error) {
	ctx = context.WithoutCancel(ctx)
	all, err := n.kv.List(ctx, OutboxBucket)
	if err != nil {
		n.log.Error("push lost: cannot read the outbox", zap.String("target", it.Target), zap.Error(err))
		return
	}
	if len(all) >= maxOutbox {
		n.log.Error("push lost: the outbox is full", zap.String("target", it.Target), zap.Int("size", len(all)))
		return
	}
	val, err := json.Marshal(it)
	if err != nil {
		n.log.Error("push lost: cannot encode it", zap.Error(err))
		return
	}
	n.seq++
	key := fmt.Sprintf("%020d-%06d", it.Created.UnixNano(), n.seq%1000000)
	if err := n.kv.Put(ctx, OutboxBucket, key, val); err != nil {
		n.log.Error("push lost: cannot write the outbox", zap.String("target", it.Target), zap.Error(err))
		return
	}
	n.log.Warn("push not delivered; kept in the outbox and retried until WeCom takes it",
		zap.String("target", it.Target), zap.Error(cause))
}

func (n *Notifier) queuedTargets(ctx context.Context) map[string]bool {
	all, err := n.kv.List(ctx, OutboxBucket)
	if err != nil {
		return nil
	}
	out := map[string]bool{}
	for _, v := range all {
		var it item
		if json.Unmarshal(v, &it) == nil {
			out[it.Target] = true
		}
	}
	return out
}

// deliver sends one rendered item. late adds the "delivered late" line.
func (n *Notifier) deliver(ctx context.Context, t config.Target, it item, late bool) error {
	note := ""
	if late {
		note = n.lateNote(it.Created)
	}
	switch t.Kind() {
	case "smartbot_chat", "smartbot_user":
		if n.o.Smartbot == nil {
			return errNoSender
		}
		if t.SmartbotChat != "" {
			return n.o.Smartbot.Push(ctx, t.SmartbotChat, true, joinNote(note, it.Content, true))
		}
		return n.o.Smartbot.Push(ctx, t.SmartbotUser, false, joinNote(note, it.Content, true))
	}
	if n.sender == nil {
		return errNoSender
	}
	switch t.Kind() {
	case "appchat":
		return n.sender.AppChatSend(ctx, t.AppChat, "markdown", joinNote(note, it.Content, true))
	case "robot":
		key := t.WebhookKey.Value()
		if err := n.robot(key).Wait(ctx); err != nil {
			return err
		}
		return n.sender.RobotSend(ctx, key, "markdown", joinNote(note, it.Content, true))
	case "users":
		if wait := n.o.Budget.Reserve(t.Users...); wait > 0 {
			return overBudget{wait}
		}
		msg := wecom.Message{ToUser: t.Users, DuplicateCheck: time.Hour}
		switch {
		case it.Reply != nil && !n.textMode:
			r := *it.Reply
			if note != "" {
				r.Footer = strings.TrimSpace(note + " " + r.Footer)
			}
			n.seq++
			card := wecom.RenderCard(r, fmt.Sprintf("push-%d-%d", n.o.Clock.Now().UnixNano(), n.seq), n.lang)
			msg.MsgType, msg.Card = "template_card", &card
		case it.Reply != nil:
			parts := wecom.RenderText(*it.Reply, n.lang, wecom.MaxTextBytes)
			msg.MsgType, msg.Content = "text", joinNote(note, strings.Join(parts[:1], ""), false)
		default:
			msg.MsgType, msg.Content = "markdown", joinNote(note, it.Content, true)
		}
		_, err := n.sender.Send(ctx, msg)
		return err
	}
	return fmt.Errorf("notify: target %q has no kind", it.Target)
}

func joinNote(note, content string, md bool) string {
	if note == "" {
		return content
	}
	if md {
		note = `<font color="comment">` + note + `</font>`
	}
	return note + "\n" + content
}

func (n *Notifier) lateNote(at time.Time) string {
	at = at.In(n.loc)
	now := n.o.Clock.Now().In(n.loc)
	layout := "15:04"
	if at.YearDay() != now.YearDay() || at.Year() != now.Year() {
		layout = "01-02 15:04"
	}
	if n.lang == "en" {
		return "(message from " + at.Format(layout) + ", delivered late)"
	}
	return "（" + at.Format(layout) + " 的消息，延迟送达）"
}

func (n *Notifier) robot(key string) *rate.Limiter {
	l := n.robots[key]
	if l == nil {
		l = rate.NewLimiter(rate.Every(n.o.RobotRate.Interval()), n.o.RobotRate.N)
		n.robots[key] = l
	}
	return l
}

// Kick asks Run to retry the outbox now.
func (n *Notifier) Kick() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// Run retries the outbox every RetryEvery (and when kicked) until ctx ends.
func (n *Notifier) Run(ctx context.Context) {
	for {
		if _, err := n.Flush(ctx); err != nil && ctx.Err() == nil {
			n.log.Debug("outbox not empty yet", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-n.kick:
		case <-n.o.Clock.After(n.o.RetryEvery):
		}
	}
}

// Flush sends what waits in the outbox, oldest first, and deletes each entry once
// WeCom took it. A target that still fails keeps its entries (and their order); the
// others go on. It returns how many were delivered and the last error.
func (n *Notifier) Flush(ctx context.Context) (int, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	all, err := n.kv.List(ctx, OutboxBucket)
	if err != nil {
		return 0, err
	}
	blocked := map[string]bool{}
	sent := 0
	var last error
	for _, key := range slices.Sorted(maps.Keys(all)) {
		var it item
		if err := json.Unmarshal(all[key], &it); err != nil {
			n.log.Error("dropping an unreadable outbox entry", zap.String("key", key), zap.Error(err))
			_ = n.kv.Delete(ctx, OutboxBucket, key)
			continue
		}
		if blocked[it.Target] {
			continue
		}
		t, ok := n.targets[it.Target]
		if !ok {
			n.log.Warn("dropping an outbox entry for a target no longer in the config", zap.String("target", it.Target))
			_ = n.kv.Delete(ctx, OutboxBucket, key)
			continue
		}
		if err := n.deliver(ctx, t, it, true); err != nil {
			if retryable(err) {
				blocked[it.Target] = true
				last = err
				continue
			}
			n.log.Error("push refused by WeCom; dropped from the outbox", zap.String("target", it.Target), zap.Error(err))
		} else {
			sent++
			n.log.Info("delayed push delivered", zap.String("target", it.Target), zap.Time("created", it.Created))
		}
		if err := n.kv.Delete(ctx, OutboxBucket, key); err != nil {
			n.log.Error("cannot remove a delivered push from the outbox; it may be sent again", zap.Error(err))
		}
	}
	return sent, last
}

// Pending is how many pushes wait in the outbox.
func (n *Notifier) Pending(ctx context.Context) int {
	all, err := n.kv.List(ctx, OutboxBucket)
	if err != nil {
		return 0
	}
	return len(all)
}

// EnsureChats creates, for every appchat target with appchat_members, the group chat
// when WeCom does not know it yet. Refusals are logged in plain words; they never stop
// the bot (pushes to that chat will fail and be logged).
func (n *Notifier) EnsureChats(ctx context.Context) {
	for _, name := range slices.Sorted(maps.Keys(n.targets)) {
		t := n.targets[name]
		if t.Kind() != "appchat" || len(t.AppChatMembers) < 2 {
			continue
		}
		log := n.log.With(zap.String("target", name), zap.String("chatid", t.AppChat))
		_, err := n.sender.AppChatGet(ctx, t.AppChat)
		var ae *wecom.APIError
		switch {
		case err == nil:
			log.Debug("group chat exists")
			continue
		case !errors.As(err, &ae) || ae.Code != 86003:
			log.Warn("cannot check the group chat; not creating it", zap.Error(err))
			continue
		}
		err = n.sender.AppChatCreate(ctx, t.AppChat, name, t.AppChatMembers[0], t.AppChatMembers)
		if err == nil {
			log.Info("group chat created", zap.Strings("members", t.AppChatMembers))
			continue
		}
		log.Error("cannot create the group chat: "+chatRefusal(err), zap.Error(err))
	}
}

// chatRefusal explains why WeCom refused appchat/create.
func chatRefusal(err error) string {
	var ae *wecom.APIError
	if !errors.As(err, &ae) {
		return "WeCom could not be reached"
	}
	switch ae.Code {
	case 48002, 60011, 86215, 86216, 86217, 301002, 60102:
		if ae.Code == 86215 {
			return "a chat with that chatid already exists but belongs to another app, or was dissolved; pick another appchat id"
		}
		return "the app's visible range (可见范围) must be the root department to create group chats; set it in the admin console, or create the chat by other means"
	case 60111, 81013, 40003:
		return "a member in appchat_members is not a valid UserID inside the app's visible range"
	case 86001:
		return "the appchat id is not one WeCom accepts: at most 32 characters, letters and digits only"
	case 86006:
		return "appchat_members must list 2 to 2000 members"
	case 86008:
		return "the chat was created by another app, and only its creator can send to it; pick another appchat id"
	}
	return "WeCom refused it (see the error)"
}
