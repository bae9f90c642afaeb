package smartbot

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
)

// WebhookOptions configures a Webhook.
type WebhookOptions struct {
	Token          string
	EncodingAESKey string // 43 characters
	BotName        string
	// FirstWait is how long the answer to a message callback waits for the bot's first
	// reply before it answers with an open stream (default 3s: WeCom's deadline for a
	// passive reply is not documented; 5 s like every other callback is assumed).
	FirstWait time.Duration
	// StreamWindow is how long a stream may stay open (default 5m30s: WeCom stops
	// asking 6 minutes after the member's message).
	StreamWindow time.Duration
	// MaxClockSkew refuses callbacks whose signed timestamp is further than this from
	// Now (wecom.max_clock_skew); 0 turns the check off.
	MaxClockSkew time.Duration
	HTTPClient   *http.Client // for response_url; a 10 s client when nil
	Logger       *zap.Logger
	Now          func() time.Time
}

// Webhook serves the smart bot's encrypted JSON callbacks (P101033): GET verifies the
// URL, POST delivers messages and stream refreshes. Answers are passive replies: a
// message is answered with a stream that the bot's replies fill; WeCom polls the stream
// until it is finished; what comes after (a task's result) goes to the message's
// response_url, once.
type Webhook struct {
	o      WebhookOptions
	crypto *wecom.Crypto // the empty receive id: no-oracle decrypt, signatures, encryption
	accept AcceptFunc
	log    *zap.Logger

	mu      sync.Mutex
	streams map[string]*stream
}

type stream struct {
	parts       []string
	done        bool
	changed     chan struct{} // closed and replaced at every change
	created     time.Time
	responseURL string
	urlUsed     bool
}

// NewWebhook checks the key and returns a Webhook handing messages to accept.
func NewWebhook(o WebhookOptions, accept AcceptFunc) (*Webhook, error) {
	crypto, err := wecom.NewSmartBotCrypto(o.Token, o.EncodingAESKey)
	if err != nil {
		return nil, fmt.Errorf("smartbot: webhook: %w", err)
	}
	if o.FirstWait <= 0 {
		o.FirstWait = 3 * time.Second
	}
	if o.StreamWindow <= 0 {
		o.StreamWindow = 5*time.Minute + 30*time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Webhook{o: o, crypto: crypto, accept: accept, log: o.Logger, streams: map[string]*stream{}}, nil
}

// refuse answers every request that failed after its signature was checked, whatever the
// reason, exactly like a bad signature: a probe learns nothing of the plaintext, and nothing
// tells a valid signature from a wrong one.
func refuse(w http.ResponseWriter) { http.Error(w, "forbidden", http.StatusForbidden) }

// ServeHTTP handles GET (URL verification) and POST (callbacks).
func (h *Webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sig, ts, nonce := q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce")
	switch r.Method {
	case http.MethodGet:
		echo := q.Get("echostr")
		if !h.verify(sig, ts, nonce, echo) {
			refuse(w)
			return
		}
		// Echo only what WeCom's echostr decrypts to: decrypting anything on request
		// would hand a captured message's plaintext to whoever holds the Token.
		pt, err := h.crypto.DecryptFor(echo, "")
		if err != nil || !wecom.EchostrLike(pt) {
			refuse(w)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write(pt)
	case http.MethodPost:
		var env struct {
			Encrypt string `json:"encrypt"`
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil || json.Unmarshal(body, &env) != nil || env.Encrypt == "" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		if !h.verify(sig, ts, nonce, env.Encrypt) {
			refuse(w)
			return
		}
		pt, err := h.crypto.DecryptFor(env.Encrypt, "")
		if err != nil {
			refuse(w)
			return
		}
		h.callback(w, r.Context(), pt, nonce)
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

// verify checks the signature, then (so that forged requests cannot fill the log) the
// timestamp's distance from now.
func (h *Webhook) verify(sig, ts, nonce, encrypt string) bool {
	if sig == "" || ts == "" || nonce == "" || encrypt == "" {
		return false
	}
	if !h.crypto.Verify(sig, ts, nonce, encrypt) {
		return false
	}
	if h.o.MaxClockSkew <= 0 {
		return true
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return false
	}
	if d := h.o.Now().Sub(time.Unix(sec, 0)); d > h.o.MaxClockSkew || d < -h.o.MaxClockSkew {
		h.log.Warn("smartbot webhook refused: timestamp too far from now, check this machine's clock",
			zap.Duration("offset", d.Round(time.Second)), zap.Duration("max_clock_skew", h.o.MaxClockSkew))
		return false
	}
	return true
}

// callback handles one decrypted callback and writes the passive reply.
func (h *Webhook) callback(w http.ResponseWriter, ctx context.Context, pt []byte, nonce string) {
	var probe struct {
		MsgID   string `json:"msgid"`
		MsgType string `json:"msgtype"`
		Stream  struct {
			ID string `json:"id"`
		} `json:"stream"`
	}
	if json.Unmarshal(pt, &probe) != nil {
		refuse(w)
		return
	}
	if probe.MsgType == "stream" { // WeCom asks for the stream's current state
		h.answerStream(w, ctx, probe.Stream.ID, nonce, false)
		return
	}
	sid := streamID(probe.MsgID)
	m, conv, err := parseCallback(pt, Conversation{Webhook: true, Stream: sid}, h.o.BotName, h.o.Now())
	if errors.Is(err, errIgnored) {
		h.passive(w, []byte("{}"), nonce)
		return
	}
	if err != nil {
		refuse(w)
		return
	}
	if conv.Click {
		// A click is answered by replacing the card or not at all; the bot's replies to
		// it go to its response_url.
		m.Source = Conversation{Type: conv.Type, ID: conv.ID, ResponseURL: conv.ResponseURL, Click: true, Webhook: true}.Source()
	}
	if m.Kind == chat.KindEnter {
		h.passive(w, []byte("{}"), nonce)
		return
	}
	if !conv.Click {
		h.open(sid, conv.ResponseURL)
	}
	if err := h.accept(ctx, m); err != nil {
		h.log.Error("smartbot: webhook message not recorded", zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if conv.Click {
		h.passive(w, []byte("{}"), nonce)
		return
	}
	h.answerStream(w, ctx, sid, nonce, true)
}

// streamID derives the stream of a message from its msgid, so that WeCom's retry of the
// message finds the same stream.
func streamID(msgID string) string {
	s := sha1.Sum([]byte(msgID))
	return "ops" + hex.EncodeToString(s[:10])
}

func (h *Webhook) open(sid, responseURL string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.o.Now()
	for id, s := range h.streams { // forget streams WeCom stopped asking about
		if now.Sub(s.created) > time.Hour {
			delete(h.streams, id)
		}
	}
	if _, ok := h.streams[sid]; !ok {
		h.streams[sid] = &stream{changed: make(chan struct{}), created: now, responseURL: responseURL}
	}
}

// answerStream writes the stream's state. The first answer to a message waits (up to
// FirstWait) until the bot has something to show; a refresh answers at once when the
// stream is finished, otherwise at its next change or after FirstWait, so that WeCom's
// polls are not answered in a busy loop.
func (h *Webhook) answerStream(w http.ResponseWriter, ctx context.Context, sid, nonce string, first bool) {
	t := time.NewTimer(h.o.FirstWait)
	defer t.Stop()
	changedOnce := false
	for {
		h.mu.Lock()
		s, ok := h.streams[sid]
		var (
			content string
			done    bool
			changed chan struct{}
		)
		if ok {
			if !s.done && h.o.Now().Sub(s.created) > h.o.StreamWindow {
				s.done = true // what comes later goes to response_url
			}
			content, done, changed = strings.Join(s.parts, "\n\n"), s.done, s.changed
		}
		h.mu.Unlock()
		if !ok {
			h.passive(w, mustStream(sid, true, "…"), nonce)
			return
		}
		if done || changedOnce || first && content != "" {
			h.passive(w, mustStream(sid, done, content), nonce)
			return
		}
		select {
		case <-changed:
			changedOnce = true
		case <-t.C:
			h.passive(w, mustStream(sid, false, content), nonce)
			return
		case <-ctx.Done():
			return
		}
	}
}

func mustStream(id string, finish bool, content string) []byte {
	b, _ := json.Marshal(newStream(id, finish, content))
	return b
}

// passive writes an encrypted passive reply, signed with the callback's nonce.
func (h *Webhook) passive(w http.ResponseWriter, msg []byte, nonce string) {
	ts := strconv.FormatInt(h.o.Now().Unix(), 10)
	enc, sig, err := h.crypto.Encrypt(msg, ts, nonce)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	out, _ := json.Marshal(map[string]string{"encrypt": enc, "msgsignature": sig, "timestamp": ts, "nonce": nonce})
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write(out)
}

// reply adds content to the message's open stream, or sends it to the response_url once
// the stream is closed.
func (h *Webhook) reply(ctx context.Context, conv Conversation, content string) error {
	h.mu.Lock()
	s, ok := h.streams[conv.Stream]
	if ok && !s.done {
		s.parts = append(s.parts, content)
		close(s.changed)
		s.changed = make(chan struct{})
		h.mu.Unlock()
		return nil
	}
	url := conv.ResponseURL
	if ok {
		if s.urlUsed {
			h.mu.Unlock()
			h.log.Warn("smartbot: a late reply was dropped: WeCom allows one late answer (response_url) per message")
			return nil
		}
		s.urlUsed = true
		url = s.responseURL
	}
	h.mu.Unlock()
	if url == "" {
		h.log.Warn("smartbot: a late reply was dropped: the message had no response_url")
		return nil
	}
	b := markdownBody{MsgType: "markdown"}
	b.Markdown.Content = content
	data, _ := json.Marshal(b)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("smartbot: response_url: bad url")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.o.HTTPClient.Do(req)
	if err != nil {
		return errors.New("smartbot: response_url: WeCom did not answer") // the URL holds a one-time code: not logged
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("smartbot: response_url: HTTP %d", resp.StatusCode)
	}
	return nil
}

// Finished closes the stream of the message with de-duplication key id (its replies are
// all in): the next refresh tells WeCom the answer is complete.
func (h *Webhook) Finished(id string) {
	msgID, ok := strings.CutPrefix(id, IDPrefix)
	if !ok {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if s, ok := h.streams[streamID(msgID)]; ok && !s.done {
		s.done = true
		close(s.changed)
		s.changed = make(chan struct{})
	}
}
