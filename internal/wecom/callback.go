package wecom

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

// Inbox takes verified messages off the HTTP request so that the callback can answer WeCom
// at once (WeCom gives up after 5 s and retries). Accept must not do the command work: it
// records and enqueues. It returns nil when the message is taken (new or a duplicate already
// seen); an error only when it could not be recorded (a store that cannot write).
type Inbox interface {
	Accept(ctx context.Context, m chat.Message) error
}

// InboxFunc adapts a function to Inbox.
type InboxFunc func(ctx context.Context, m chat.Message) error

// Accept calls f.
func (f InboxFunc) Accept(ctx context.Context, m chat.Message) error { return f(ctx, m) }

// DefaultMaxCallbackBody is the largest callback body read (64 KiB); larger bodies get 413.
// Real callbacks are a few KiB at most (a text message is at most 2048 bytes before
// encryption), and the body is read before anything proves who sent it.
const DefaultMaxCallbackBody = 64 << 10

// maxEnvelopeElements bounds the elements read from an envelope before its signature is
// checked: WeCom's has four (xml, ToUserName, Encrypt, AgentID).
const maxEnvelopeElements = 8

// Signed callbacks that do not decrypt: WeCom never sends one, so a burst of them means
// someone else can sign, or the EncodingAESKey does not match the admin console's.
// undecryptableBurst of them within undecryptableWindow log an error, at most once per
// undecryptableAlarmEvery.
const (
	undecryptableBurst      = 10
	undecryptableWindow     = time.Minute
	undecryptableAlarmEvery = 10 * time.Minute
)

// CallbackConfig is what the callback needs of the app's settings. Token and
// EncodingAESKey are secrets: they are never logged nor echoed.
type CallbackConfig struct {
	Token          string
	EncodingAESKey string
	CorpID         string
	AgentID        int
	// MaxClockSkew refuses callbacks whose timestamp is further than this from Now;
	// 0 turns the check off.
	MaxClockSkew time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// CallbackOption changes a callback handler's defaults.
type CallbackOption func(*callback)

// WithMaxCallbackBody sets the largest body read (DefaultMaxCallbackBody by default).
func WithMaxCallbackBody(n int64) CallbackOption {
	return func(c *callback) {
		if n > 0 {
			c.maxBody = n
		}
	}
}

// callback is the http.Handler NewCallback returns.
type callback struct {
	crypto  *Crypto
	agentID string
	skew    time.Duration
	now     func() time.Time
	inbox   Inbox
	log     *zap.Logger
	maxBody int64
	alarm   undecryptable
}

// undecryptable counts signed callbacks that did not decrypt, for the Token-leak alarm.
type undecryptable struct {
	mu        sync.Mutex
	since     time.Time // start of the current window
	n         int       // in the current window
	lastAlarm time.Time
}

// note counts one at now and reports whether the alarm is due, with the window's count.
func (u *undecryptable) note(now time.Time) (alarm bool, n int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if now.Sub(u.since) > undecryptableWindow || now.Before(u.since) {
		u.since, u.n = now, 0
	}
	u.n++
	if u.n < undecryptableBurst || (!u.lastAlarm.IsZero() && now.Sub(u.lastAlarm) < undecryptableAlarmEvery) {
		return false, u.n
	}
	u.lastAlarm = now
	return true, u.n
}

// NewCallback returns the handler for the app's callback URL: GET answers WeCom's URL
// verification, POST verifies, decrypts and parses a message and hands it to inbox,
// answering an empty 200 as soon as inbox took it. Everything else is refused with a short
// generic body; the reason goes to log at warn level, never with plaintext or secrets.
// Whatever fails once the signature holds (clock, decryption, receive id, inner XML,
// AgentID, a GET whose echostr is not WeCom's) is answered exactly like a bad signature.
func NewCallback(cfg CallbackConfig, inbox Inbox, log *zap.Logger, opts ...CallbackOption) (http.Handler, error) {
	if inbox == nil {
		return nil, errors.New("wecom: new callback: inbox is nil")
	}
	if cfg.AgentID <= 0 {
		return nil, errors.New("wecom: new callback: agent id must be positive")
	}
	if cfg.MaxClockSkew < 0 {
		return nil, errors.New("wecom: new callback: max clock skew is negative")
	}
	cr, err := NewCrypto(cfg.Token, cfg.EncodingAESKey, cfg.CorpID)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	c := &callback{
		crypto:  cr,
		agentID: strconv.Itoa(cfg.AgentID),
		skew:    cfg.MaxClockSkew,
		now:     cfg.Now,
		inbox:   inbox,
		log:     log,
		maxBody: DefaultMaxCallbackBody,
	}
	if c.now == nil {
		c.now = time.Now
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// cbEnvelope is the outer POST body.
type cbEnvelope struct {
	ToUserName string
	AgentID    string
	Encrypt    string
}

// errEnvelope is any envelope that is not WeCom's shape.
var errEnvelope = errors.New("wecom: malformed envelope")

// readEnvelope reads the fields of an envelope (the root <xml> and its ToUserName, Encrypt
// and AgentID) and stops at the root's end: what follows is never looked at. It refuses
// more than maxEnvelopeElements elements, a DOCTYPE and another root, so that an unsigned
// body costs little whatever its shape. A repeated field keeps its last value.
func readEnvelope(body []byte) (cbEnvelope, error) {
	var env cbEnvelope
	d := xml.NewDecoder(bytes.NewReader(body))
	depth, elems := 0, 0
	var field *string
	for {
		tok, err := d.Token()
		if err != nil {
			return cbEnvelope{}, errEnvelope
		}
		switch t := tok.(type) {
		case xml.StartElement:
			elems++
			depth++
			if elems > maxEnvelopeElements || (depth == 1 && t.Name.Local != "xml") {
				return cbEnvelope{}, errEnvelope
			}
			field = nil
			if depth == 2 {
				switch t.Name.Local {
				case "ToUserName":
					field = &env.ToUserName
				case "Encrypt":
					field = &env.Encrypt
				case "AgentID":
					field = &env.AgentID
				}
				if field != nil {
					*field = ""
				}
			}
		case xml.CharData:
			if field != nil {
				*field += string(t)
			}
		case xml.EndElement:
			depth--
			field = nil
			if depth == 0 {
				return env, nil
			}
		case xml.Directive:
			return cbEnvelope{}, errEnvelope
		}
	}
}

// cbParams are the signed query parameters of every callback.
type cbParams struct {
	signature, timestamp, nonce string
}

func (c *callback) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		c.serveVerify(w, r)
	case http.MethodPost:
		c.serveMessage(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		cbFail(w, http.StatusMethodNotAllowed)
	}
}

// serveVerify answers the URL verification: the decrypted echostr as the raw body.
func (c *callback) serveVerify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, ok := c.params(w, r, q)
	if !ok {
		return
	}
	// WeCom percent-encodes echostr. If a proxy left a '+' unencoded, the query parser has
	// turned it into a space; base64 has no spaces, so putting it back is safe.
	echo := strings.ReplaceAll(q.Get("echostr"), " ", "+")
	if echo == "" {
		c.refuse(w, r, http.StatusBadRequest, "verify: echostr missing")
		return
	}
	if !c.checkSigned(w, r, p, echo) {
		return
	}
	// Echo only what WeCom's echostr decrypts to (a short string of digits): decrypting any
	// signed value on request would hand a captured message's plaintext to whoever holds
	// the Token.
	msg, ok := c.crypto.open(echo, c.crypto.receiveID)
	if !ok || !EchostrLike(msg) {
		c.refuseSigned(w, r, "verify: echostr does not decrypt to an echostr")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(msg)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(msg)
	c.log.Info("wecom callback url verified", zap.String("remote", r.RemoteAddr))
}

// serveMessage handles one POSTed message.
func (c *callback) serveMessage(w http.ResponseWriter, r *http.Request) {
	p, ok := c.params(w, r, r.URL.Query())
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			c.refuse(w, r, http.StatusRequestEntityTooLarge, "body over limit")
			return
		}
		c.refuse(w, r, http.StatusBadRequest, "read body failed")
		return
	}
	env, err := readEnvelope(body)
	if err != nil {
		c.refuse(w, r, http.StatusBadRequest, "malformed envelope xml")
		return
	}
	env.Encrypt = strings.TrimSpace(env.Encrypt)
	if env.Encrypt == "" {
		c.refuse(w, r, http.StatusBadRequest, "envelope without Encrypt")
		return
	}
	if !c.checkSigned(w, r, p, env.Encrypt) {
		return
	}
	// From here on the sender holds the Token. Every failure gets the same answer after
	// the same work (decrypt, parse, both AgentID checks): a difference would be an oracle
	// that decrypts captured messages and forges new ones.
	plain, decrypted := c.crypto.open(env.Encrypt, c.crypto.receiveID)
	in, perr := ParseInbound(plain)
	envAgent, msgAgent := c.agentOK(env.AgentID), c.agentOK(in.AgentID)
	if !decrypted || perr != nil || !envAgent || !msgAgent {
		reason := "message: does not decrypt"
		switch {
		case !decrypted:
		case perr != nil:
			reason = "message: malformed xml"
		case !envAgent:
			reason = "envelope AgentID is not this app's"
		default:
			reason = "message AgentID is not this app's"
		}
		c.refuseSigned(w, r, reason)
		return
	}
	msg, ok := in.ToChat()
	if !ok {
		c.log.Debug("wecom callback ignored",
			zap.String("msg_type", in.MsgType), zap.String("event", in.Event))
		w.WriteHeader(http.StatusOK)
		return
	}
	if msg.Time.IsZero() {
		msg.Time = c.now()
	}
	switch err := c.inbox.Accept(r.Context(), msg); {
	case err == nil:
		w.WriteHeader(http.StatusOK)
	default:
		c.log.Error("wecom callback: inbox accept failed",
			zap.String("remote", r.RemoteAddr), zap.String("id", msg.ID), zap.Error(err))
		cbFail(w, http.StatusInternalServerError)
	}
}

// params reads the signed query parameters; all three must be present.
func (c *callback) params(w http.ResponseWriter, r *http.Request, q map[string][]string) (cbParams, bool) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	p := cbParams{signature: get("msg_signature"), timestamp: get("timestamp"), nonce: get("nonce")}
	switch {
	case p.signature == "":
		c.refuse(w, r, http.StatusForbidden, "msg_signature missing")
	case p.timestamp == "":
		c.refuse(w, r, http.StatusForbidden, "timestamp missing")
	case p.nonce == "":
		c.refuse(w, r, http.StatusForbidden, "nonce missing")
	default:
		return p, true
	}
	return p, false
}

// checkSigned verifies the signature over encrypt, then the timestamp's distance from now.
// The signature comes first so that forged requests cannot fill the log with clock warnings.
func (c *callback) checkSigned(w http.ResponseWriter, r *http.Request, p cbParams, encrypt string) bool {
	if !c.crypto.Verify(p.signature, p.timestamp, p.nonce, encrypt) {
		c.refuse(w, r, http.StatusForbidden, "bad signature")
		return false
	}
	if c.skew <= 0 {
		return true
	}
	ts, err := strconv.ParseInt(p.timestamp, 10, 64)
	if err != nil {
		c.refuse(w, r, http.StatusForbidden, "timestamp is not a number")
		return false
	}
	now := c.now()
	d := now.Sub(time.Unix(ts, 0))
	if d > c.skew || d < -c.skew {
		c.log.Warn("wecom callback refused: timestamp too far from now, check this machine's clock",
			zap.String("remote", r.RemoteAddr),
			zap.Duration("offset", d.Round(time.Second)),
			zap.Duration("max_clock_skew", c.skew),
			zap.Time("local_time", now))
		cbFail(w, http.StatusForbidden)
		return false
	}
	return true
}

// agentOK reports whether an AgentID, when present, is this app's.
func (c *callback) agentOK(id string) bool {
	id = strings.TrimSpace(id)
	return id == "" || id == c.agentID
}

// EchostrLike reports whether a decrypted echostr looks like WeCom's: a short run of
// digits (the official vectors' is 19), letters, '-' or '_', never markup. A URL
// verification echoes nothing else, so that it cannot decrypt a captured message on request.
func EchostrLike(b []byte) bool {
	if len(b) == 0 || len(b) > 64 {
		return false
	}
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// refuseSigned refuses a signed request whose content does not hold up. It answers exactly
// like a bad signature, and a burst of them raises the Token-leak alarm.
func (c *callback) refuseSigned(w http.ResponseWriter, r *http.Request, reason string) {
	if alarm, n := c.alarm.note(c.now()); alarm {
		c.log.Error("wecom callback: signed callbacks that do not decrypt: the callback Token may have leaked: "+
			"rotate Token and EncodingAESKey in the WeCom admin console "+
			"(or encoding_aes_key does not match the console's)",
			zap.Int("count", n), zap.Duration("within", undecryptableWindow), zap.String("remote", r.RemoteAddr))
	}
	c.refuse(w, r, http.StatusForbidden, reason)
}

// refuse logs why a request was refused and answers a generic body.
func (c *callback) refuse(w http.ResponseWriter, r *http.Request, status int, reason string) {
	c.log.Warn("wecom callback refused",
		zap.String("remote", r.RemoteAddr),
		zap.String("method", r.Method),
		zap.Int("status", status),
		zap.String("reason", reason))
	cbFail(w, status)
}

// cbFail writes a short generic body that tells nothing about secrets or content.
func cbFail(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, strings.ToLower(http.StatusText(status)))
}
