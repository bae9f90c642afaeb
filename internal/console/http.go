package console

import (
	"embed"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

//go:embed web/index.html web/app.js web/app.css
var web embed.FS

// Request limits.
const (
	maxBodyBytes = 16 << 10
	maxTextBytes = 2048
	maxKeyBytes  = 256
	maxUserBytes = 64
	defaultAudit = 50
	maxAudit     = 200
)

// securityHeaders keep the page to itself: no scripts but its own file (so even a
// rendering mistake could not run injected markup), no framing, no referrer.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
		"img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options": "nosniff",
	"X-Frame-Options":        "DENY",
	"Referrer-Policy":        "no-referrer",
	"Cache-Control":          "no-store",
}

// ServeHTTP serves the page and its API. Every request must come from this machine, name
// this machine in Host (a DNS-rebinding page names its own domain) and, when a browser
// says where it comes from, come from this page (a cross-site POST carries a foreign
// Origin). Requests that passed through a proxy are refused: behind a reverse proxy every
// client looks local.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range securityHeaders {
		w.Header().Set(k, v)
	}
	if reason := refuse(r); reason != "" {
		c.log.Warn("request refused", zap.String("reason", reason),
			zap.String("remote", r.RemoteAddr), zap.String("method", r.Method), zap.String("path", r.URL.Path))
		http.Error(w, "forbidden: the console answers only local requests", http.StatusForbidden)
		return
	}
	switch r.URL.Path {
	case "/", "/index.html":
		c.static(w, r, "web/index.html", "text/html; charset=utf-8")
	case "/app.js":
		c.static(w, r, "web/app.js", "text/javascript; charset=utf-8")
	case "/app.css":
		c.static(w, r, "web/app.css", "text/css; charset=utf-8")
	case "/api/config":
		c.method(w, r, http.MethodGet, c.apiConfig)
	case "/api/send":
		c.method(w, r, http.MethodPost, c.apiSend)
	case "/api/click":
		c.method(w, r, http.MethodPost, c.apiClick)
	case "/api/messages":
		c.method(w, r, http.MethodGet, c.apiMessages)
	case "/api/audit":
		c.method(w, r, http.MethodGet, c.apiAudit)
	case "/api/action":
		c.method(w, r, http.MethodPost, c.apiAction)
	default:
		http.NotFound(w, r)
	}
}

// refuse says why r may not use the console, or "" when it may.
func refuse(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "remote address is not loopback"
	}
	for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Real-Ip", "Forwarded"} {
		if r.Header.Get(h) != "" {
			return "request came through a proxy"
		}
	}
	if !localHost(r.Host) {
		return "host is not a loopback name"
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host != r.Host {
			return "cross-origin request"
		}
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return "cross-site request"
	}
	return ""
}

// localHost reports whether a Host header names this machine: localhost or a loopback IP.
func localHost(hostport string) bool {
	h := hostport
	if hh, _, err := net.SplitHostPort(hostport); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func (c *Console) static(w http.ResponseWriter, r *http.Request, name, ctype string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	b, err := web.ReadFile(name)
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", ctype)
	_, _ = w.Write(b)
}

func (c *Console) method(w http.ResponseWriter, r *http.Request, method string, h http.HandlerFunc) {
	if r.Method != method {
		w.Header().Set("Allow", method)
		writeJSON(w, http.StatusMethodNotAllowed, apiError{"method not allowed"})
		return
	}
	if method == http.MethodPost {
		// A browser cannot send JSON across sites without a CORS preflight, which we never allow.
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			writeJSON(w, http.StatusUnsupportedMediaType, apiError{"content type must be application/json"})
			return
		}
	}
	h(w, r)
}

type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{"bad request body"})
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusBadRequest, apiError{"bad request body"})
		return false
	}
	return true
}

// validUser accepts the characters WeCom UserIDs are made of.
func validUser(id string) bool {
	if id == "" || len(id) > maxUserBytes {
		return false
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_.@-", r)
		if !ok {
			return false
		}
	}
	return true
}

type configResponse struct {
	Language string   `json:"language"`
	Banner   string   `json:"banner,omitempty"`
	Users    []User   `json:"users"`
	Visitor  string   `json:"visitor,omitempty"`
	Groups   []string `json:"groups"`
	Actions  []Action `json:"actions"`
}

func (c *Console) apiConfig(w http.ResponseWriter, _ *http.Request) {
	c.mu.Lock()
	resp := configResponse{Language: c.o.Language, Banner: c.o.Banner, Users: append([]User{}, c.o.Users...),
		Groups: append([]string{}, c.groups...), Actions: append([]Action{}, c.o.Actions...)}
	if _, taken := c.users[Visitor]; !taken {
		resp.Visitor = Visitor
	}
	c.mu.Unlock()
	writeJSON(w, http.StatusOK, resp)
}

type sendRequest struct {
	User string `json:"user"`
	Text string `json:"text"`
}

type sendResponse struct {
	ID int64 `json:"id"`
}

func (c *Console) apiSend(w http.ResponseWriter, r *http.Request) {
	var req sendRequest
	if !readJSON(w, r, &req) {
		return
	}
	text := strings.TrimSpace(req.Text)
	switch {
	case !validUser(req.User):
		writeJSON(w, http.StatusBadRequest, apiError{"invalid user"})
		return
	case text == "" || len(text) > maxTextBytes:
		writeJSON(w, http.StatusBadRequest, apiError{"text must be 1 to 2048 bytes"})
		return
	}
	c.mu.Lock()
	t, err := c.threadLocked(req.User)
	if err != nil {
		c.mu.Unlock()
		writeJSON(w, http.StatusTooManyRequests, apiError{"too many users"})
		return
	}
	e := &Entry{From: "user", Text: text}
	c.appendLocked(t, e)
	in := c.inbox
	c.mu.Unlock()

	m := chat.Message{ID: newID(IDPrefix), User: req.User, Kind: chat.KindText, Text: text, Time: c.o.Now(), Source: Source}
	if err := c.handle(r, in, m); err != nil {
		c.mu.Lock()
		e.Error = "busy"
		e.Ver = c.nextLocked()
		c.mu.Unlock()
		writeJSON(w, http.StatusServiceUnavailable, apiError{"the bot is busy or stopping; try again"})
		return
	}
	writeJSON(w, http.StatusAccepted, sendResponse{ID: e.ID})
}

func (c *Console) handle(r *http.Request, in Inbox, m chat.Message) error {
	if in == nil {
		return errors.New("console: not attached to a bot")
	}
	if err := in.Handle(r.Context(), m); err != nil {
		c.log.Warn("the bot did not take the message", zap.String("user", m.User), zap.Error(err))
		return err
	}
	return nil
}

type clickRequest struct {
	User string `json:"user"`
	Key  string `json:"key"`
	// Card is the id of the entry whose button was clicked; its result updates that card.
	Card int64 `json:"card"`
}

func (c *Console) apiClick(w http.ResponseWriter, r *http.Request) {
	var req clickRequest
	if !readJSON(w, r, &req) {
		return
	}
	switch {
	case !validUser(req.User):
		writeJSON(w, http.StatusBadRequest, apiError{"invalid user"})
		return
	case req.Key == "" || len(req.Key) > maxKeyBytes:
		writeJSON(w, http.StatusBadRequest, apiError{"invalid key"})
		return
	}
	code := newID("")
	c.mu.Lock()
	t, err := c.threadLocked(req.User)
	if err != nil {
		c.mu.Unlock()
		writeJSON(w, http.StatusTooManyRequests, apiError{"too many users"})
		return
	}
	var e *Entry
	if req.Card != 0 {
		e = t.find(req.Card)
		switch {
		case e == nil || e.Card == nil:
			c.mu.Unlock()
			writeJSON(w, http.StatusNotFound, apiError{"no such card"})
			return
		case !hasButton(e.Card, req.Key):
			c.mu.Unlock()
			writeJSON(w, http.StatusBadRequest, apiError{"the card has no such button"})
			return
		case e.Card.Pending || e.Card.Done != "":
			c.mu.Unlock()
			writeJSON(w, http.StatusConflict, apiError{"the card was answered already"})
			return
		}
		e.Card.Pending = true
		e.Ver = c.nextLocked()
		t.codes[code] = e.ID
	}
	in := c.inbox
	c.mu.Unlock()

	m := chat.Message{ID: IDPrefix + "rc:" + code, User: req.User, Kind: chat.KindCardClick, EventKey: req.Key,
		TaskID: "console_" + strconv.FormatInt(req.Card, 10), ResponseCode: code, Time: c.o.Now(), Source: Source}
	if err := c.handle(r, in, m); err != nil {
		if e != nil {
			c.mu.Lock()
			e.Card.Pending = false
			delete(t.codes, code)
			e.Ver = c.nextLocked()
			c.mu.Unlock()
		}
		writeJSON(w, http.StatusServiceUnavailable, apiError{"the bot is busy or stopping; try again"})
		return
	}
	writeJSON(w, http.StatusAccepted, struct{}{})
}

func hasButton(card *Card, key string) bool {
	for _, b := range card.Buttons {
		if b.Key == key {
			return true
		}
	}
	return false
}

type messagesResponse struct {
	Ver     int64   `json:"ver"`
	Entries []Entry `json:"entries"`
}

// apiMessages answers the entries of a user newer than after, waiting up to wait seconds
// (default and at most MaxWait) for one to arrive.
func (c *Console) apiMessages(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	user := q.Get("user")
	if !validUser(user) && !isGroup(user) {
		writeJSON(w, http.StatusBadRequest, apiError{"invalid user"})
		return
	}
	after, err := strconv.ParseInt(q.Get("after"), 10, 64)
	if q.Get("after") == "" {
		after, err = 0, nil
	}
	if err != nil || after < 0 {
		writeJSON(w, http.StatusBadRequest, apiError{"invalid after"})
		return
	}
	wait := c.o.MaxWait
	if s := q.Get("wait"); s != "" {
		secs, err := strconv.ParseFloat(s, 64)
		if err != nil || secs < 0 {
			writeJSON(w, http.StatusBadRequest, apiError{"invalid wait"})
			return
		}
		wait = min(time.Duration(secs*float64(time.Second)), c.o.MaxWait)
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		c.mu.Lock()
		entries := c.entriesLocked(user, after)
		ver, changed := c.seq, c.changed
		c.mu.Unlock()
		if len(entries) > 0 || wait == 0 {
			writeJSON(w, http.StatusOK, messagesResponse{Ver: ver, Entries: nonNil(entries)})
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			wait = 0
		case <-r.Context().Done():
			return
		}
	}
}

func nonNil(e []Entry) []Entry {
	if e == nil {
		return []Entry{}
	}
	return e
}

type auditEntry struct {
	Time       time.Time `json:"time"`
	User       string    `json:"user"`
	Command    string    `json:"command"`
	Decision   string    `json:"decision"`
	Reason     string    `json:"reason,omitempty"`
	Cluster    string    `json:"cluster,omitempty"`
	VMID       int       `json:"vmid,omitempty"`
	Result     string    `json:"result,omitempty"`
	DurationMS int64     `json:"duration_ms,omitempty"`
}

func (c *Console) apiAudit(w http.ResponseWriter, r *http.Request) {
	n := defaultAudit
	if s := r.URL.Query().Get("n"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			writeJSON(w, http.StatusBadRequest, apiError{"invalid n"})
			return
		}
		n = min(v, maxAudit)
	}
	c.mu.Lock()
	log := c.audit
	c.mu.Unlock()
	out := []auditEntry{}
	if log != nil {
		entries, err := log.RecentAudit(r.Context(), n)
		if err != nil {
			c.log.Error("reading the audit log failed", zap.Error(err))
			writeJSON(w, http.StatusInternalServerError, apiError{"cannot read the audit log"})
			return
		}
		for _, e := range entries {
			if e.Reason == store.ReasonCancelled {
				e.Decision = "cancelled" // the user called it off; nobody refused it
			}
			out = append(out, auditEntry{Time: e.Time, User: e.User, Command: e.Command, Decision: e.Decision, Reason: e.Reason,
				Cluster: e.Cluster, VMID: e.VMID, Result: e.Result, DurationMS: e.Duration.Milliseconds()})
		}
	}
	writeJSON(w, http.StatusOK, out)
}
