// Package wecom is the bot's WeCom (企业微信) transport. Inbound, it verifies, decrypts and
// parses the app's callbacks; outbound, it holds the API client (token source, message/send,
// update_template_card, appchat, group robot) and renders neutral chat.Reply values as
// template cards, markdown or plain text.
package wecom

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// DefaultBaseURL is WeCom's API host, without /cgi-bin.
const DefaultBaseURL = "https://qyapi.weixin.qq.com"

// Limits WeCom applies to message bodies, in bytes. WeCom cuts longer content itself,
// possibly in the middle of a character, so the client cuts first (see Truncate).
const (
	// MaxTextBytes bounds text and markdown content of app messages, appchat messages and
	// robot text messages.
	MaxTextBytes = 2048
	// MaxRobotMarkdownBytes bounds a group robot's markdown content.
	MaxRobotMarkdownBytes = 4096
)

const (
	defaultHTTPTimeout = 10 * time.Second
	defaultMaxRetries  = 3
	defaultBackoff     = 200 * time.Millisecond
	maxBackoff         = 5 * time.Second
	// tokenMargin is how long before WeCom's expires_in the cached token is dropped, so a
	// token is never used in its last minutes (clock skew, slow calls).
	tokenMargin = 5 * time.Minute
	// maxResponseBytes bounds what the client reads of a response: WeCom's are small.
	maxResponseBytes = 1 << 20
	// maxIdleConns is how many kept-alive connections to WeCom the client keeps: as many
	// as the inbox runs messages at once (inbox.Options.Workers' default).
	maxIdleConns = 128
)

// ClientConfig configures a Client. CorpID, AgentID and Secret identify the self-built app.
type ClientConfig struct {
	CorpID  string
	AgentID int
	Secret  string
	// BaseURL replaces DefaultBaseURL for every call (token, send, card update, appchat,
	// robot): a fixed-IP egress proxy, or a fake in tests. http:// is allowed. Given
	// without /cgi-bin (a trailing /cgi-bin is tolerated).
	BaseURL string
	// HTTPClient sends the requests. Default: its own transport, timeout 10 s. Each attempt
	// is also bounded by the client's timeout (10 s when it has none).
	HTTPClient *http.Client
	// Now gives the time for token expiry. Default time.Now.
	Now func() time.Time
	// MaxRetries is how many times a call is retried after a network error, an HTTP 5xx or
	// errcode -1 (busy) or 45033 (too many concurrent calls). A message/send retried after
	// a network error or a 5xx may already have been delivered: a card's retry answered
	// 42014 (task_id spent) counts as delivered; a text may arrive twice. 0 means the default (3); a negative value turns retries off.
	MaxRetries int
	// Backoff is the first retry's wait; each further retry doubles it, capped at 5 s (or at
	// Backoff when that is larger). 0 means 200 ms.
	Backoff time.Duration
	// Observe, when set, learns the outcome of every API call after its retries (op is
	// "gettoken", "message/send", …; err nil on success), so that /status can say WeCom
	// is unhealthy when even gettoken fails. Calls the caller gave up on are not reported.
	Observe func(op string, err error)
}

// Client calls WeCom's server API for one self-built app. It keeps its own access token
// and its own HTTP transport: no process-wide state, so several clients (and several fake
// servers in one test binary) can run side by side. It is safe for concurrent use.
//
// Client does not wrap github.com/silenceper/wechat/v2: that library's hosts are
// hard-coded (redirecting them means the process-wide util.SetURIModifier), its HTTP
// client is process-wide without a timeout, its memory cache races under -race, it never
// invalidates a token WeCom rejected, and its typed requests send agentid as a string.
// What remains useful (a GET for the token, a POST of JSON) is a few dozen lines here.
type Client struct {
	corpID     string
	agentID    int
	secret     string
	base       string
	hc         *http.Client
	attemptTTL time.Duration
	now        func() time.Time
	maxRetries int
	backoff    time.Duration
	backoffCap time.Duration
	log        *zap.Logger
	observe    func(op string, err error)

	mu       sync.Mutex
	token    string
	tokenExp time.Time
	fetching *tokenFetch
	// rejected is the last token WeCom refused (40014/42001): a fetch that brings it back
	// asks again.
	rejected string
	// reported holds the config-problem errcodes already logged at error level, so that a
	// misconfigured bot says it once in plain words instead of on every call.
	reported map[int]bool

	media mediaCache // uploaded pictures still valid (media.go)
}

// tokenFetch is one gettoken call shared by every caller that needs a token meanwhile.
type tokenFetch struct {
	done  chan struct{}
	token string
	err   error
}

// NewClient checks cfg and returns a Client. It makes no network call.
func NewClient(cfg ClientConfig, log *zap.Logger) (*Client, error) {
	if strings.TrimSpace(cfg.CorpID) == "" {
		return nil, errors.New("wecom: new client: corp id is empty")
	}
	if cfg.Secret == "" {
		return nil, errors.New("wecom: new client: secret is empty")
	}
	if cfg.AgentID <= 0 {
		return nil, fmt.Errorf("wecom: new client: agent id %d: must be a positive integer", cfg.AgentID)
	}
	base, err := normalizeBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	c := &Client{
		corpID:     cfg.CorpID,
		agentID:    cfg.AgentID,
		secret:     cfg.Secret,
		base:       base,
		hc:         cfg.HTTPClient,
		attemptTTL: defaultHTTPTimeout,
		now:        cfg.Now,
		maxRetries: cfg.MaxRetries,
		backoff:    cfg.Backoff,
		log:        log,
		observe:    cfg.Observe,
		reported:   map[int]bool{},
	}
	if c.hc == nil {
		// A transport of its own: connections are reused per Client, and nothing the
		// process does to http.DefaultTransport changes how WeCom is reached.
		tr, ok := http.DefaultTransport.(*http.Transport)
		if ok {
			tr = tr.Clone()
		} else {
			tr = &http.Transport{Proxy: http.ProxyFromEnvironment}
		}
		// Every call goes to one host. The default keeps 2 idle connections per host, so
		// a burst of replies from many workers would open (TLS handshake and all) and
		// close a connection for nearly every message; keep as many as can be busy.
		tr.MaxIdleConns = maxIdleConns
		tr.MaxIdleConnsPerHost = maxIdleConns
		c.hc = &http.Client{Timeout: defaultHTTPTimeout, Transport: tr}
	}
	if c.hc.Timeout > 0 {
		c.attemptTTL = c.hc.Timeout
	}
	if c.now == nil {
		c.now = time.Now
	}
	switch {
	case c.maxRetries == 0:
		c.maxRetries = defaultMaxRetries
	case c.maxRetries < 0:
		c.maxRetries = 0
	}
	if c.backoff <= 0 {
		c.backoff = defaultBackoff
	}
	c.backoffCap = max(maxBackoff, c.backoff)
	return c, nil
}

func normalizeBaseURL(raw string) (string, error) {
	if raw == "" {
		return DefaultBaseURL, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("wecom: new client: base url %q: want http(s)://host[:port]", Scrub(raw))
	}
	if u.RawQuery != "" || u.User != nil {
		return "", errors.New("wecom: new client: base url: must not carry a query or user info")
	}
	s := strings.TrimRight(u.String(), "/")
	s = strings.TrimSuffix(s, "/cgi-bin")
	return s, nil
}

// APIError is an errcode other than 0 in a WeCom answer. Op names the call (send,
// gettoken...), Code is WeCom's errcode and Msg its errmsg (which carries the calling IP
// and a hint id, useful to an operator; never shown to a chat user).
type APIError struct {
	Op   string
	Code int
	Msg  string
}

// errcodeHelp explains the errcodes an operator meets, in plain words with the config key
// to fix where there is one.
var errcodeHelp = map[int]string{
	-1:    "WeCom is busy; the call is retried with backoff",
	40001: "wrong app secret: set wecom.secret to this app's Secret (admin console > 应用管理 > the app > Secret; resetting it there invalidates the old one)",
	40013: "wrong corp id: set wecom.corp_id to the CorpID shown under 我的企业 > 企业信息",
	40014: "the access token is invalid; a new one is fetched once",
	40016: "the app menu must have 1 to 3 buttons (ops.menu)",
	40018: "an app menu button name is longer than 16 bytes, or empty (ops.menu)",
	40019: "an app menu click key is longer than 128 bytes, or empty (ops.menu)",
	40023: "an app menu button has more than 5 sub-buttons (ops.menu)",
	40025: "an app menu sub-button name is longer than 40 bytes, or empty (ops.menu)",
	40056: "no app has this agent id: set wecom.agent_id to the AgentId shown on this app's page (应用管理 > the app), a whole number",
	41001: "the access token is missing",
	42001: "the access token expired; a new one is fetched once",
	42014: "the card's task_id was used before (a retried send already delivered it) or is empty or too long",
	44004: "the message content is empty",
	45009: "WeCom rate-limits this app or this IP; wait (repeated calls with a wrong secret ban the IP for an hour)",
	45033: "too many calls to WeCom at once; the call is retried with backoff",
	48002: "the app may not call this API (appchat needs the app's visible range to be the root department)",
	60020: "this server's IP is not in the app's trusted IP list (企业可信IP): add it in the admin console, or use a fixed-IP egress proxy via wecom.api_base_url",
	60140: "the card can no longer be updated (its response code was used or is older than 72 hours); the reply goes out as a new message",
	81013: "no recipient can receive it: the user ids are unknown or outside the app's visible range (可见范围)",
	86001: "the group chat id is not valid: targets.<name>.appchat must be at most 32 letters and digits (0-9a-zA-Z)",
	86003: "the group chat does not exist: create it first (appchat/create)",
	86008: "the group chat was created by another app: only the app that created a chat can send to it; use a new appchat id",
	93000: "the robot webhook key is wrong or the robot was removed from its group",
	// 301002: the agent id is an app of this corp, but not the one whose secret fetched the
	// token: wecom.agent_id and wecom.secret belong to two different apps.
	301002: "wecom.agent_id and wecom.secret belong to two different apps: set wecom.agent_id to the AgentId shown on the same app page (应用管理 > the app) as the Secret in wecom.secret",
}

// configErrcodes are errcodes that only an operator can fix; they are logged once at
// error level and reported by ConfigProblem.
var configErrcodes = map[int]bool{40001: true, 40013: true, 40056: true, 48002: true, 60020: true,
	86001: true, 86008: true, 93000: true, 301002: true}

// Card field errors (42027-42051) are the bot's own bug, not a config problem.
func cardFieldHelp(code int) (string, bool) {
	if code >= 42027 && code <= 42051 {
		return "WeCom refused a field of the template card (a bug in the bot: please report it with this error)", true
	}
	return "", false
}

// Error explains the errcode in plain words where it is known, then gives WeCom's errmsg.
func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "wecom: %s: errcode %d", e.Op, e.Code)
	if h, ok := errcodeHelp[e.Code]; ok {
		b.WriteString(": ")
		b.WriteString(h)
	} else if h, ok := cardFieldHelp(e.Code); ok {
		b.WriteString(": ")
		b.WriteString(h)
	}
	if e.Msg != "" {
		b.WriteString(" (")
		b.WriteString(e.Msg)
		b.WriteString(")")
	}
	return b.String()
}

// ConfigProblem reports whether only an operator can fix the error (wrong secret, corp id
// or agent id, untrusted IP...): retrying or asking the user again will not help.
func (e *APIError) ConfigProblem() bool { return configErrcodes[e.Code] }

// apiStatus is the errcode/errmsg pair every WeCom answer carries.
type apiStatus struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

// apiCall is one API call, described once and replayed by retries.
type apiCall struct {
	op          string
	method      string
	path        string // after the base URL, e.g. /cgi-bin/message/send
	query       url.Values
	body        any    // JSON-encoded once; nil for GET
	raw         []byte // sent as is instead of body, with contentType (media/upload's multipart)
	contentType string
	withToken   bool // adds access_token and handles 40014/42001
	secrets     []string
	// taskID marks a send of a card with a task_id: when a retry is answered 42014, an
	// earlier attempt whose answer was lost delivered it, and the call succeeded.
	taskID bool
}

// Token returns a valid access token, fetching one when the cached token is missing or
// close to expiry. Concurrent callers share one fetch. The fetch itself is not cancelled
// when ctx is (others may be waiting on it); it is bounded by the client's timeouts.
func (c *Client) Token(ctx context.Context) (string, error) {
	c.mu.Lock()
	if c.token != "" && c.now().Before(c.tokenExp) {
		t := c.token
		c.mu.Unlock()
		return t, nil
	}
	f := c.fetching
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		c.fetching = f
		go c.runTokenFetch(context.WithoutCancel(ctx), f)
	}
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.token, f.err
	case <-ctx.Done():
		return "", fmt.Errorf("wecom: gettoken: %w", ctx.Err())
	}
}

func (c *Client) runTokenFetch(ctx context.Context, f *tokenFetch) {
	// Bound the detached fetch: every attempt plus every backoff, and a little slack so that
	// an attempt's own timeout reports first.
	budget := time.Duration(c.maxRetries+1)*c.attemptTTL + time.Duration(c.maxRetries)*c.backoffCap + time.Second
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	var resp struct {
		apiStatus
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	err := c.do(ctx, apiCall{
		op: "gettoken", method: http.MethodGet, path: "/cgi-bin/gettoken",
		query: url.Values{"corpid": {c.corpID}, "corpsecret": {c.secret}},
	}, &resp)
	if err == nil && resp.AccessToken == "" {
		err = errors.New("wecom: gettoken: answer has no access_token")
	}
	c.mu.Lock()
	if err == nil && resp.AccessToken == c.rejected && c.rejected != "" {
		// WeCom handed back the token it just refused (its cache lags): ask once more
		// after a pause rather than fail the call with the same refusal.
		c.mu.Unlock()
		t := time.NewTimer(c.backoff)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		err = c.do(ctx, apiCall{
			op: "gettoken", method: http.MethodGet, path: "/cgi-bin/gettoken",
			query: url.Values{"corpid": {c.corpID}, "corpsecret": {c.secret}},
		}, &resp)
		c.mu.Lock()
	}
	if err == nil {
		// WeCom answers a token asked for while it is valid with the same token and what
		// remains of its lifetime. Refresh a full-length token a margin early; a token
		// with less than two margins left is the same one again: fetching before its end
		// would only bring it back once more, so use it to its end.
		ttl := time.Duration(resp.ExpiresIn) * time.Second
		if ttl <= 0 {
			ttl = 7200 * time.Second
		}
		if ttl > 2*tokenMargin {
			ttl -= tokenMargin
		}
		c.token, c.tokenExp = resp.AccessToken, c.now().Add(ttl)
		c.rejected = ""
		clear(c.reported) // a working secret: a later config problem is news again
	}
	c.fetching = nil
	c.mu.Unlock()
	f.token, f.err = resp.AccessToken, err
	close(f.done)
}

// dropToken forgets tok if it is still the cached token (another caller may already have
// replaced it after the same rejection).
func (c *Client) dropToken(tok string) {
	c.mu.Lock()
	if c.token == tok {
		c.token = ""
	}
	c.rejected = tok
	c.mu.Unlock()
}

// call runs a call that needs an access token: on 40014/42001 it drops the token, fetches
// a new one and tries once more.
func (c *Client) call(ctx context.Context, ac apiCall, out any) error {
	ac.withToken = true
	for refreshed := false; ; refreshed = true {
		tok, err := c.Token(ctx)
		if err != nil {
			return err
		}
		q := url.Values{}
		for k, v := range ac.query {
			q[k] = v
		}
		q.Set("access_token", tok)
		one := ac
		one.query = q
		one.secrets = append(append([]string(nil), ac.secrets...), tok)
		err = c.do(ctx, one, out)
		var apiErr *APIError
		if !refreshed && errors.As(err, &apiErr) && (apiErr.Code == 40014 || apiErr.Code == 42001) {
			c.log.Info("wecom: access token rejected, fetching a new one",
				zap.String("op", ac.op), zap.Int("errcode", apiErr.Code))
			c.dropToken(tok)
			continue
		}
		return err
	}
}

// do sends one call with retries on network errors, HTTP 5xx/429 and errcodes -1 and 45033, and
// decodes a successful answer into out (which may be nil).
func (c *Client) do(ctx context.Context, ac apiCall, out any) (err error) {
	if c.observe != nil {
		defer func() {
			if ctx.Err() == nil {
				c.observe(ac.op, err)
			}
		}()
	}
	payload := ac.raw
	if ac.body != nil && ac.raw == nil {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // markdown's <font> stays readable on the wire
		if err := enc.Encode(ac.body); err != nil {
			return fmt.Errorf("wecom: %s: encode: %w", ac.op, err)
		}
		payload = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	secrets := append([]string{c.secret}, ac.secrets...)
	for attempt := 0; ; attempt++ {
		retry, err := c.once(ctx, ac, payload, out)
		if err == nil {
			return nil
		}
		var apiErr *APIError
		if attempt > 0 && ac.taskID && errors.As(err, &apiErr) && apiErr.Code == 42014 {
			// The task_id is spent: an earlier attempt whose answer was lost delivered
			// the card. Sending it again under a new task_id would show it twice.
			c.log.Info("wecom: a retried card was already delivered (42014 on the retry)", zap.String("op", ac.op))
			return nil
		}
		if !retry || attempt >= c.maxRetries || ctx.Err() != nil {
			if ctx.Err() != nil && retry {
				return scrubError(ac.op, fmt.Errorf("%w (last error: %v)", ctx.Err(), err), secrets...)
			}
			return c.finish(ac.op, err, secrets)
		}
		wait := c.backoffFor(attempt)
		c.log.Warn("wecom: call failed, retrying",
			zap.String("op", ac.op), zap.Int("attempt", attempt+1), zap.Duration("wait", wait),
			zap.String("error", redactValues(Scrub(err.Error()), secrets...)))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return scrubError(ac.op, fmt.Errorf("%w (last error: %v)", ctx.Err(), err), secrets...)
		case <-t.C:
		}
	}
}

// finish turns the last error of a call into what the caller gets, logging a config
// problem once in plain words.
func (c *Client) finish(op string, err error, secrets []string) error {
	var apiErr *APIError
	if errors.As(err, &apiErr) {
		apiErr.Op = op
		apiErr.Msg = redactValues(Scrub(apiErr.Msg), secrets...)
		if apiErr.ConfigProblem() {
			c.mu.Lock()
			first := !c.reported[apiErr.Code]
			c.reported[apiErr.Code] = true
			c.mu.Unlock()
			if first {
				c.log.Error("wecom: configuration problem: "+errcodeHelp[apiErr.Code],
					zap.String("op", op), zap.Int("errcode", apiErr.Code), zap.String("errmsg", apiErr.Msg))
			}
		}
		return apiErr
	}
	return scrubError(op, err, secrets...)
}

func (c *Client) backoffFor(attempt int) time.Duration {
	d := c.backoff
	for i := 0; i < attempt && d < c.backoffCap; i++ {
		d *= 2
	}
	return min(d, c.backoffCap)
}

// once makes one HTTP request. retry says whether the error is worth another attempt.
func (c *Client) once(ctx context.Context, ac apiCall, payload []byte, out any) (retry bool, err error) {
	u := c.base + ac.path
	if len(ac.query) > 0 {
		u += "?" + ac.query.Encode()
	}
	actx, cancel := context.WithTimeout(ctx, c.attemptTTL)
	defer cancel()
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, ac.method, u, body)
	if err != nil {
		return false, err
	}
	if payload != nil {
		ct := ac.contentType
		if ct == "" {
			ct = "application/json; charset=utf-8"
		}
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("User-Agent", "wecom-home-ops")
	resp, err := c.hc.Do(req)
	if err != nil {
		return true, err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		_ = resp.Body.Close()
	}()
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests {
		return true, fmt.Errorf("http status %d", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("http status %d", resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return true, fmt.Errorf("read answer: %w", err)
	}
	var st apiStatus
	if err := json.Unmarshal(raw, &st); err != nil {
		return false, fmt.Errorf("decode answer: %w", err)
	}
	if st.ErrCode != 0 {
		// -1 is "busy", 45033 "too many concurrent calls": both pass after a backoff.
		return st.ErrCode == -1 || st.ErrCode == 45033, &APIError{Op: ac.op, Code: st.ErrCode, Msg: st.ErrMsg}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return false, fmt.Errorf("decode answer: %w", err)
		}
	}
	return false, nil
}

// userList is a list of user ids that WeCom writes either as "a|b" or as ["a","b"].
type userList []string

// UnmarshalJSON accepts both forms WeCom uses.
func (l *userList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = nil
		for _, p := range strings.Split(s, "|") {
			if p != "" {
				*l = append(*l, p)
			}
		}
		return nil
	}
	var a []string
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	*l = a
	return nil
}

// SendResult is what WeCom answers to message/send.
type SendResult struct {
	MsgID string
	// ResponseCode lets the bot update an interactive card once (update_template_card).
	ResponseCode string
	// InvalidUsers are recipients WeCom did not deliver to: unknown, or outside the app's
	// visible range. WeCom reports them with errcode 0.
	InvalidUsers []string
}

// Message is one app message for Send.
type Message struct {
	ToUser  []string
	MsgType string // text | markdown | template_card
	Content string // text, markdown
	Card    *TemplateCard
	// DuplicateCheck, when positive, asks WeCom to drop an identical message sent again
	// within that interval (enable_duplicate_check; WeCom caps it at 4 h). Meant for
	// pushes that may be retried; not for replies a user may legitimately ask for twice.
	DuplicateCheck time.Duration
}

type contentBody struct {
	Content string `json:"content"`
}

type sendBody struct {
	ToUser                 string        `json:"touser"`
	MsgType                string        `json:"msgtype"`
	AgentID                int           `json:"agentid"`
	Text                   *contentBody  `json:"text,omitempty"`
	Markdown               *contentBody  `json:"markdown,omitempty"`
	TemplateCard           *TemplateCard `json:"template_card,omitempty"`
	EnableDuplicateCheck   int           `json:"enable_duplicate_check,omitempty"`
	DuplicateCheckInterval int           `json:"duplicate_check_interval,omitempty"`
}

// Send sends an app message (message/send). Text and markdown content is cut to
// MaxTextBytes on a character (and preferably a line) boundary. Recipients WeCom did not
// deliver to are logged as a warning and returned in SendResult.InvalidUsers.
func (c *Client) Send(ctx context.Context, m Message) (SendResult, error) {
	if len(m.ToUser) == 0 {
		return SendResult{}, errors.New("wecom: send: no recipient")
	}
	body := sendBody{ToUser: strings.Join(m.ToUser, "|"), MsgType: m.MsgType, AgentID: c.agentID}
	switch m.MsgType {
	case "text":
		body.Text = &contentBody{Content: Truncate(m.Content, MaxTextBytes)}
	case "markdown":
		body.Markdown = &contentBody{Content: Truncate(m.Content, MaxTextBytes)}
	case "template_card":
		if m.Card == nil {
			return SendResult{}, errors.New("wecom: send: template_card without a card")
		}
		body.TemplateCard = m.Card
	default:
		return SendResult{}, fmt.Errorf("wecom: send: unsupported msgtype %q", m.MsgType)
	}
	if (body.Text != nil && body.Text.Content == "") || (body.Markdown != nil && body.Markdown.Content == "") {
		return SendResult{}, errors.New("wecom: send: empty content")
	}
	if m.DuplicateCheck > 0 {
		body.EnableDuplicateCheck = 1
		body.DuplicateCheckInterval = int(min(m.DuplicateCheck, 4*time.Hour) / time.Second)
	}
	var resp struct {
		apiStatus
		MsgID        string   `json:"msgid"`
		ResponseCode string   `json:"response_code"`
		InvalidUser  userList `json:"invaliduser"`
	}
	ac := apiCall{op: "send", method: http.MethodPost, path: "/cgi-bin/message/send", body: body,
		taskID: body.TemplateCard != nil && body.TemplateCard.TaskID != ""}
	if err := c.call(ctx, ac, &resp); err != nil {
		return SendResult{}, err
	}
	if len(resp.InvalidUser) > 0 {
		c.log.Warn("wecom: some recipients did not get the message: unknown user ids, or outside the app's visible range (可见范围)",
			zap.Strings("invalid_users", resp.InvalidUser), zap.String("msgtype", m.MsgType))
	}
	return SendResult{MsgID: resp.MsgID, ResponseCode: resp.ResponseCode, InvalidUsers: resp.InvalidUser}, nil
}

// SendText sends a text message to the users (content cut to MaxTextBytes).
func (c *Client) SendText(ctx context.Context, touser []string, content string) error {
	_, err := c.Send(ctx, Message{ToUser: touser, MsgType: "text", Content: content})
	return err
}

// SendMarkdown sends a markdown message to the users (content cut to MaxTextBytes).
// Markdown does not render in the WeChat plugin (微工作台): see reply_mode text.
func (c *Client) SendMarkdown(ctx context.Context, touser []string, content string) error {
	_, err := c.Send(ctx, Message{ToUser: touser, MsgType: "markdown", Content: content})
	return err
}

// SendCard sends a template card. For an interactive card the result's ResponseCode
// allows one update of it.
func (c *Client) SendCard(ctx context.Context, touser []string, card TemplateCard) (SendResult, error) {
	return c.Send(ctx, Message{ToUser: touser, MsgType: "template_card", Card: &card})
}

type updateCardBody struct {
	UserIDs      []string       `json:"userids"`
	AgentID      int            `json:"agentid"`
	ResponseCode string         `json:"response_code"`
	Button       *replaceButton `json:"button,omitempty"`
	TemplateCard *TemplateCard  `json:"template_card,omitempty"`
}

type replaceButton struct {
	ReplaceName string `json:"replace_name"`
}

// UpdateCardButtons greys the buttons of the card that responseCode belongs to, showing
// replaceName instead (update_template_card with button.replace_name). A response code
// works once and for 72 h.
func (c *Client) UpdateCardButtons(ctx context.Context, userids []string, responseCode, replaceName string) error {
	if responseCode == "" || replaceName == "" {
		return errors.New("wecom: update card: response code and replace name are required")
	}
	return c.call(ctx, apiCall{op: "update card", method: http.MethodPost, path: "/cgi-bin/message/update_template_card",
		body: updateCardBody{UserIDs: userids, AgentID: c.agentID, ResponseCode: responseCode,
			Button: &replaceButton{ReplaceName: replaceName}}}, nil)
}

// UpdateCard replaces the card that responseCode belongs to with card (any card type).
func (c *Client) UpdateCard(ctx context.Context, userids []string, responseCode string, card TemplateCard) error {
	if responseCode == "" {
		return errors.New("wecom: update card: response code is required")
	}
	return c.call(ctx, apiCall{op: "update card", method: http.MethodPost, path: "/cgi-bin/message/update_template_card",
		body: updateCardBody{UserIDs: userids, AgentID: c.agentID, ResponseCode: responseCode, TemplateCard: &card}}, nil)
}

// AppChat is a group chat owned by the app (appchat/get).
type AppChat struct {
	ChatID string   `json:"chatid"`
	Name   string   `json:"name"`
	Owner  string   `json:"owner"`
	Users  []string `json:"userlist"`
}

// AppChatCreate creates a group chat owned by the app (at least two members). chatID may
// be empty to let WeCom choose one, but then nobody learns it: give one.
func (c *Client) AppChatCreate(ctx context.Context, chatID, name, owner string, users []string) error {
	body := struct {
		Name     string   `json:"name,omitempty"`
		Owner    string   `json:"owner,omitempty"`
		UserList []string `json:"userlist"`
		ChatID   string   `json:"chatid,omitempty"`
	}{name, owner, users, chatID}
	return c.call(ctx, apiCall{op: "appchat create", method: http.MethodPost, path: "/cgi-bin/appchat/create", body: body}, nil)
}

// AppChatGet returns a group chat owned by the app.
func (c *Client) AppChatGet(ctx context.Context, chatID string) (AppChat, error) {
	var resp struct {
		apiStatus
		ChatInfo AppChat `json:"chat_info"`
	}
	err := c.call(ctx, apiCall{op: "appchat get", method: http.MethodGet, path: "/cgi-bin/appchat/get",
		query: url.Values{"chatid": {chatID}}}, &resp)
	if err != nil {
		return AppChat{}, err
	}
	return resp.ChatInfo, nil
}

// AppChatSend sends text or markdown to a group chat owned by the app (appchat takes no
// template cards). Content is cut to MaxTextBytes.
func (c *Client) AppChatSend(ctx context.Context, chatID, msgtype, content string) error {
	if chatID == "" {
		return errors.New("wecom: appchat send: no chat id")
	}
	text, md, err := contentFor("appchat send", msgtype, content, MaxTextBytes)
	if err != nil {
		return err
	}
	body := struct {
		ChatID   string       `json:"chatid"`
		MsgType  string       `json:"msgtype"`
		Text     *contentBody `json:"text,omitempty"`
		Markdown *contentBody `json:"markdown,omitempty"`
		Safe     int          `json:"safe"`
	}{ChatID: chatID, MsgType: msgtype, Text: text, Markdown: md}
	return c.call(ctx, apiCall{op: "appchat send", method: http.MethodPost, path: "/cgi-bin/appchat/send", body: body}, nil)
}

// RobotSend posts text or markdown through a group robot's webhook (no access token; the
// key is the credential and never appears in logs or errors). Text is cut to MaxTextBytes,
// markdown to MaxRobotMarkdownBytes.
func (c *Client) RobotSend(ctx context.Context, key, msgtype, content string) error {
	if key == "" {
		return errors.New("wecom: robot send: no webhook key")
	}
	limit := MaxTextBytes
	if msgtype == "markdown" {
		limit = MaxRobotMarkdownBytes
	}
	text, md, err := contentFor("robot send", msgtype, content, limit)
	if err != nil {
		return err
	}
	body := struct {
		MsgType  string       `json:"msgtype"`
		Text     *contentBody `json:"text,omitempty"`
		Markdown *contentBody `json:"markdown,omitempty"`
	}{MsgType: msgtype, Text: text, Markdown: md}
	return c.do(ctx, apiCall{op: "robot send", method: http.MethodPost, path: "/cgi-bin/webhook/send",
		query: url.Values{"key": {key}}, body: body, secrets: []string{key}}, nil)
}

func contentFor(op, msgtype, content string, limit int) (text, md *contentBody, err error) {
	content = Truncate(content, limit)
	if content == "" {
		return nil, nil, fmt.Errorf("wecom: %s: empty content", op)
	}
	switch msgtype {
	case "text":
		return &contentBody{Content: content}, nil, nil
	case "markdown":
		return nil, &contentBody{Content: content}, nil
	}
	return nil, nil, fmt.Errorf("wecom: %s: unsupported msgtype %q (text or markdown)", op, msgtype)
}

// CloseIdleConnections drops kept-alive connections to WeCom: the bot calls it when it
// stops, so that nothing of it outlives Run.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }
