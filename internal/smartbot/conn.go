package smartbot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

// DefaultURL is WeCom's long-connection endpoint (P101463; the SDK's DEFAULT_WS_URL).
const DefaultURL = "wss://openws.work.weixin.qq.com"

// Connection states, as /status and the log show them.
const (
	StateConnecting = "connecting"
	StateOnline     = "online"
	StateRetrying   = "retrying"    // lost or refused; trying again after a pause
	StateAuthFailed = "auth_failed" // WeCom refused the BotID/Secret
	StateReplaced   = "replaced"    // another connection with this BotID took over
	StateStopped    = "stopped"
)

// Status is what an operator needs to know about the connection.
type Status struct {
	State string
	Since time.Time
	// Problem explains a state other than online in plain words (never a secret).
	Problem string
	// Reconnects counts sessions after the first.
	Reconnects int
}

// AcceptFunc takes one verified message; the inbox's Accept. Its error means the message
// was not recorded.
type AcceptFunc func(ctx context.Context, m chat.Message) error

// Options configures a Client.
type Options struct {
	URL     string // default DefaultURL
	BotID   string
	Secret  string
	BotName string // the bot's display name, removed as "@name" from texts (optional)
	// Heartbeat is the ping interval (default 30s, as documented); two pings without an
	// answer end the session.
	Heartbeat time.Duration
	// AckTimeout bounds the wait for WeCom's answer to a frame (default 5s, the SDK's).
	AckTimeout time.Duration
	// Backoff is the pause before reconnect attempt n (1, 2, ...). Default: 1s doubling to
	// 60s, each with up to 50% random jitter, so that many bots do not come back at once.
	Backoff func(n int) time.Duration
	// ReplacedPause is how long the bot waits after another connection with the same
	// BotID took over before it tries again (default 15m). WeCom keeps one connection per
	// bot and kicks the older one, so two processes retrying at once would take turns
	// forever; waiting long lets an operator see and stop the other one.
	ReplacedPause time.Duration
	HTTPClient    *http.Client
	Logger        *zap.Logger
	Now           func() time.Time
	// After is the timer of the pauses between sessions (tests see and skip them);
	// default time.After.
	After func(time.Duration) <-chan time.Time
	// OnState, when set, is called at every change of Status (tests wait on it).
	OnState func(Status)
}

// Client is one long connection to WeCom for one smart bot. Run keeps it up; Respond and
// Send write frames on the current session and wait for WeCom's answer.
type Client struct {
	o      Options
	accept AcceptFunc
	log    *zap.Logger

	mu      sync.Mutex
	conn    *websocket.Conn // nil between sessions
	status  Status
	pending map[string]chan frame
	online  chan struct{} // closed while a session is subscribed; replaced when it ends

	reqMu   sync.Mutex
	reqLock map[string]*reqLock // one frame in flight per req_id, in order
	missed  atomic.Int32

	chats map[string]bool // group chats seen since start (read loop only)
}

type reqLock struct {
	mu sync.Mutex
	n  int
}

// ErrOffline says there is no subscribed session at the moment.
var ErrOffline = errors.New("smartbot: not connected to WeCom")

// errReplaced ends a session that WeCom closed for a newer connection.
var errReplaced = errors.New("smartbot: another connection with this BotID took over")

// New returns a Client that hands messages to accept. It does not connect.
func New(o Options, accept AcceptFunc) *Client {
	if o.URL == "" {
		o.URL = DefaultURL
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 30 * time.Second
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = 5 * time.Second
	}
	if o.Backoff == nil {
		o.Backoff = Backoff(time.Second, time.Minute)
	}
	if o.ReplacedPause <= 0 {
		o.ReplacedPause = 15 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.After == nil {
		o.After = time.After
	}
	return &Client{o: o, accept: accept, log: o.Logger, pending: map[string]chan frame{},
		online: make(chan struct{}), reqLock: map[string]*reqLock{}, chats: map[string]bool{},
		status: Status{State: StateConnecting, Since: o.Now()}}
}

// Backoff returns the default reconnect pause: base doubling per attempt up to max, plus
// up to 50% jitter.
func Backoff(base, max time.Duration) func(int) time.Duration {
	return func(n int) time.Duration {
		d := base
		for i := 1; i < n && d < max; i++ {
			d *= 2
		}
		d = min(d, max)
		return d + time.Duration(rand.Int64N(int64(d)/2+1))
	}
}

// Status returns the connection's state.
func (c *Client) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

func (c *Client) setState(state, problem string) {
	c.mu.Lock()
	changed := c.status.State != state || c.status.Problem != problem
	if changed {
		c.status.State, c.status.Problem, c.status.Since = state, problem, c.o.Now()
	}
	st := c.status
	c.mu.Unlock()
	if changed && c.o.OnState != nil {
		c.o.OnState(st)
	}
}

// Run keeps the connection up until ctx ends: connect, subscribe, read, and after a loss
// reconnect with a growing pause. It returns nil when ctx ends.
func (c *Client) Run(ctx context.Context) error {
	defer c.setState(StateStopped, "")
	attempt := 0
	for sessions := 0; ; sessions++ {
		if sessions > 0 {
			c.mu.Lock()
			c.status.Reconnects++
			c.mu.Unlock()
		}
		subscribed, err := c.session(ctx, false)
		if ctx.Err() != nil {
			return nil
		}
		if subscribed {
			attempt = 0
		}
		attempt++
		wait := c.o.Backoff(attempt)
		var ae *APIError
		switch {
		case errors.Is(err, errReplaced):
			wait = c.o.ReplacedPause
			c.setState(StateReplaced, "another process connected with the same BotID and WeCom closed this connection; stop the other bot (only one may hold the connection)")
			c.log.Error("smartbot: another connection with the same BotID took over; WeCom keeps only one. Stop the other bot process: this one waits before trying again, so the two do not take turns",
				zap.String("bot_id", c.o.BotID), zap.Duration("retry_in", wait))
		case errors.As(err, &ae) && ae.Op == "subscribe" && ae.Code == 45009:
			wait = max(wait, time.Minute)
			c.setState(StateRetrying, "WeCom limits how often a bot may subscribe (errcode 45009); waiting before the next try")
			c.log.Warn("smartbot: WeCom refused the subscription for now: too many subscriptions (errcode 45009)", zap.Duration("retry_in", wait))
		case errors.As(err, &ae) && ae.Op == "subscribe":
			c.setState(StateAuthFailed, fmt.Sprintf("WeCom refused the BotID/Secret (errcode %d): check wecom.smartbot.bot_id and secret (智能机器人 → API 模式 → 长连接)", ae.Code))
			c.log.Error("smartbot: WeCom refused the subscription: check wecom.smartbot.bot_id and wecom.smartbot.secret",
				zap.String("bot_id", c.o.BotID), zap.Int("errcode", ae.Code), zap.String("errmsg", ae.Msg), zap.Duration("retry_in", wait))
		default:
			c.setState(StateRetrying, "connection to WeCom lost: "+errText(err))
			c.log.Warn("smartbot: connection to WeCom lost; reconnecting", zap.Error(err), zap.Duration("in", wait))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.o.After(wait):
		}
	}
}

// CheckOnline connects, subscribes once and disconnects: `check --online`. Like any new
// connection it makes WeCom close a running bot's.
func (c *Client) CheckOnline(ctx context.Context) error {
	_, err := c.session(ctx, true)
	return err
}

func errText(err error) string {
	if err == nil {
		return "closed"
	}
	return err.Error()
}

// session runs one connection: dial, subscribe, then read until it ends. subscribed says
// whether WeCom accepted the subscription. With once it returns right after subscribing.
func (c *Client) session(ctx context.Context, once bool) (subscribed bool, err error) {
	c.setState(StateConnecting, "")
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	conn, _, err := websocket.Dial(dctx, c.o.URL, &websocket.DialOptions{HTTPClient: c.o.HTTPClient})
	cancel()
	if err != nil {
		return false, fmt.Errorf("smartbot: connect: %w", err)
	}
	defer conn.CloseNow()
	conn.SetReadLimit(4 << 20)

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
	defer c.endSession(conn)

	readErr := make(chan error, 1)
	go func() { readErr <- c.read(sctx, conn) }()

	ack, err := c.roundTrip(sctx, conn, cmdSubscribe, newReqID(cmdSubscribe), subscribeBody{BotID: c.o.BotID, Secret: c.o.Secret})
	if err != nil {
		select {
		case rerr := <-readErr:
			if errors.Is(rerr, errReplaced) {
				return false, rerr
			}
		default:
		}
		return false, err
	}
	if code := ackCode(ack); code != 0 {
		return false, &APIError{Op: "subscribe", Code: code, Msg: ack.ErrMsg}
	}
	if once {
		_ = conn.Close(websocket.StatusNormalClosure, "")
		return true, nil
	}
	c.mu.Lock()
	close(c.online)
	c.mu.Unlock()
	c.setState(StateOnline, "")
	c.log.Info("smartbot: connected to WeCom", zap.String("bot_id", c.o.BotID))

	c.missed.Store(0)
	t := time.NewTicker(c.o.Heartbeat)
	defer t.Stop()
	for {
		select {
		case err := <-readErr:
			return true, err
		case <-ctx.Done():
			_ = conn.Close(websocket.StatusNormalClosure, "")
			return true, nil
		case <-t.C:
			if c.missed.Add(1) > 2 {
				return true, errors.New("smartbot: two pings went unanswered")
			}
			if err := c.write(sctx, conn, frame{Cmd: cmdPing, Headers: headers{ReqID: newReqID(cmdPing)}}); err != nil {
				return true, err
			}
		}
	}
}

// endSession forgets conn and fails the frames waiting for its answers.
func (c *Client) endSession(conn *websocket.Conn) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == conn {
		c.conn = nil
	}
	select {
	case <-c.online:
		c.online = make(chan struct{})
	default:
	}
	c.failPendingLocked()
}

// failPendingLocked ends the waits for answers that will not come; c.mu is held.
func (c *Client) failPendingLocked() {
	for id, ch := range c.pending {
		close(ch)
		delete(c.pending, id)
	}
}

func ackCode(f frame) int {
	if f.ErrCode == nil {
		return 0
	}
	return *f.ErrCode
}

// read handles incoming frames until the connection ends.
func (c *Client) read(ctx context.Context, conn *websocket.Conn) error {
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			c.mu.Lock()
			c.failPendingLocked()
			c.mu.Unlock()
			return fmt.Errorf("smartbot: read: %w", err)
		}
		var f frame
		if err := json.Unmarshal(data, &f); err != nil {
			c.log.Warn("smartbot: a frame that is not JSON was ignored", zap.Int("bytes", len(data)))
			continue
		}
		switch f.Cmd {
		case cmdMsgCallback, cmdEventCallback:
			if c.callback(ctx, f) {
				c.mu.Lock()
				c.failPendingLocked()
				c.mu.Unlock()
				return errReplaced
			}
		case "":
			if strings.HasPrefix(f.Headers.ReqID, cmdPing+"_") {
				c.missed.Store(0)
				continue
			}
			c.mu.Lock()
			ch, ok := c.pending[f.Headers.ReqID]
			delete(c.pending, f.Headers.ReqID)
			c.mu.Unlock()
			if ok {
				ch <- f
			}
		default:
			c.log.Debug("smartbot: frame of an unknown cmd ignored", zap.String("cmd", f.Cmd))
		}
	}
}

// callback hands one callback to the inbox; it reports true for disconnected_event.
func (c *Client) callback(ctx context.Context, f frame) (replaced bool) {
	var probe struct {
		Event struct {
			EventType string `json:"eventtype"`
		} `json:"event"`
	}
	if json.Unmarshal(f.Body, &probe) == nil && probe.Event.EventType == eventDisconnected {
		return true
	}
	m, conv, err := parseCallback(f.Body, Conversation{ReqID: f.Headers.ReqID}, c.o.BotName, c.o.Now())
	if errors.Is(err, errIgnored) {
		return false
	}
	if err != nil {
		c.log.Warn("smartbot: a callback the bot cannot read was ignored", zap.Error(err))
		return false
	}
	if conv.Group() && !c.chats[conv.ID] && len(c.chats) < 1000 {
		c.chats[conv.ID] = true
		c.log.Info("smartbot: a group chat talks to the bot; to push reports and alerts there, use this target",
			zap.String("smartbot_chat", conv.ID), zap.String("from", m.User))
	}
	// The inbox records every message it is given (the store is the queue); only a store
	// that cannot write refuses, and the long connection has no answer that would make WeCom
	// deliver the message again.
	if err := c.accept(ctx, m); err != nil {
		c.log.Error("smartbot: a message could not be recorded and is lost", zap.String("id", m.ID), zap.Error(err))
	}
	return false
}

func (c *Client) write(ctx context.Context, conn *websocket.Conn, f frame) error {
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("smartbot: encode frame: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, c.o.AckTimeout)
	defer cancel()
	if err := conn.Write(wctx, websocket.MessageText, data); err != nil {
		return fmt.Errorf("smartbot: write: %w", err)
	}
	return nil
}

// roundTrip writes a frame and waits for WeCom's answer to it.
func (c *Client) roundTrip(ctx context.Context, conn *websocket.Conn, cmd, reqID string, body any) (frame, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return frame{}, fmt.Errorf("smartbot: encode %s: %w", cmd, err)
	}
	ch := make(chan frame, 1)
	c.mu.Lock()
	c.pending[reqID] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		if c.pending[reqID] == ch {
			delete(c.pending, reqID)
		}
		c.mu.Unlock()
	}()
	if err := c.write(ctx, conn, frame{Cmd: cmd, Headers: headers{ReqID: reqID}, Body: raw}); err != nil {
		return frame{}, err
	}
	t := time.NewTimer(c.o.AckTimeout)
	defer t.Stop()
	select {
	case f, ok := <-ch:
		if !ok {
			return frame{}, fmt.Errorf("smartbot: %s: connection closed before WeCom answered", cmd)
		}
		return f, nil
	case <-t.C:
		return frame{}, fmt.Errorf("smartbot: %s: no answer from WeCom in %s", cmd, c.o.AckTimeout)
	case <-ctx.Done():
		return frame{}, ctx.Err()
	}
}

// request sends one frame on the current session and waits for its answer; frames with
// the same req_id go one at a time, in order, as WeCom expects of a stream.
func (c *Client) request(ctx context.Context, op, cmd, reqID string, body any) error {
	c.lockReq(reqID)
	defer c.unlockReq(reqID)
	c.mu.Lock()
	conn := c.conn
	online := c.online
	c.mu.Unlock()
	select {
	case <-online:
	default:
		return ErrOffline
	}
	f, err := c.roundTrip(ctx, conn, cmd, reqID, body)
	if err != nil {
		return err
	}
	if code := ackCode(f); code != 0 {
		return &APIError{Op: op, Code: code, Msg: f.ErrMsg}
	}
	return nil
}

func (c *Client) lockReq(id string) {
	c.reqMu.Lock()
	l := c.reqLock[id]
	if l == nil {
		l = &reqLock{}
		c.reqLock[id] = l
	}
	l.n++
	c.reqMu.Unlock()
	l.mu.Lock()
}

func (c *Client) unlockReq(id string) {
	c.reqMu.Lock()
	l := c.reqLock[id]
	l.n--
	if l.n == 0 {
		delete(c.reqLock, id)
	}
	c.reqMu.Unlock()
	l.mu.Unlock()
}

// Respond answers the callback with req_id reqID (aibot_respond_msg).
func (c *Client) Respond(ctx context.Context, reqID string, body any) error {
	return c.request(ctx, "respond", cmdRespond, reqID, body)
}

// Send posts a message to a conversation that has talked to the bot (aibot_send_msg):
// chatID is a group's chatid or a member's userid.
func (c *Client) Send(ctx context.Context, body any) error {
	return c.request(ctx, "send", cmdSend, newReqID(cmdSend), body)
}
