// Package wecomtest holds fakes of WeCom for tests and demos: Server plays WeCom's server
// API (tokens, message/send, update_template_card, appchat, group robot) and records every
// call; Sender plays WeCom's callback side.
package wecomtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// The app a Server knows unless told otherwise (WithCorp).
const (
	FakeCorpID     = "wwfakecorp0000001"
	FakeCorpSecret = "fake-corp-secret-0123456789abcdef"
	FakeAgentID    = 1000002
)

// Errcodes the fake answers with: WeCom's own codes for each case (its global errcode
// list and the API pages; reality.md section 2 gives the sources). Tests match on these
// names.
const (
	ErrcodeInvalidSecret    = 40001
	ErrcodeInvalidCorpID    = 40013
	ErrcodeInvalidToken     = 40014
	ErrcodeExpiredToken     = 42001
	ErrcodeInvalidMsgType   = 40008
	ErrcodeInvalidParameter = 40058
	ErrcodeEmptyContent     = 44004
	ErrcodeAllUsersInvalid  = 81013
	ErrcodeChatNotFound     = 86003
	ErrcodeInvalidRobotKey  = 93000
	// ErrcodeInvalidAgentID answers an agentid that is not an integer or names no app of
	// the corp ("agentid为整型数字 / 在web管理端存在该应用").
	ErrcodeInvalidAgentID = 40056
	// ErrcodeAgentMismatch answers a valid agentid of another app of the corp (see
	// WithOtherApps): the access token was fetched with this app's secret.
	ErrcodeAgentMismatch = 301002
	// ErrcodeTaskIDReused answers a template card whose task_id the app already used, or
	// whose task_id is empty or too long ("taskid has existed or empty or exceed max len").
	ErrcodeTaskIDReused = 42014
	// ErrcodeResponseCodeInvalid answers an update_template_card with a response_code
	// already spent, older than 72 h, or (WithStrictResponseCodes) never issued.
	ErrcodeResponseCodeInvalid = 60140
	// ErrcodeConcurrency is WeCom's "too many concurrent calls": retry after a backoff.
	// The fake answers it only when told to (FailNext).
	ErrcodeConcurrency = 45033
	// Template card field errors (42027-42051).
	ErrcodeCardKeyName    = 42027 // horizontal_content_list[].keyname missing
	ErrcodeCardURL        = 42028 // card_action.url missing for type 1
	ErrcodeCardType       = 42031 // card_type missing or unknown
	ErrcodeCardHorizontal = 42035 // horizontal_content_list longer than 6
	ErrcodeCardButtonText = 42038 // button text missing
	ErrcodeCardButtonKey  = 42039 // button key missing, too long or repeated
	ErrcodeCardJumpList   = 42042 // jump_list longer than 3
	ErrcodeCardAction     = 42045 // card_action missing or of a wrong type
	// menu/create errors.
	ErrcodeMenuButtons      = 40016 // not 1 to 3 buttons
	ErrcodeMenuName         = 40018 // button name over 16 bytes (or empty)
	ErrcodeMenuKey          = 40019 // click key over 128 bytes (or empty)
	ErrcodeMenuSubButtons   = 40023 // more than 5 sub-buttons
	ErrcodeMenuSubName      = 40025 // sub-button name over 40 bytes (or empty)
	ErrcodeInvalidChatID    = 86001 // chatid longer than 32 or not only 0-9a-zA-Z
	ErrcodeInvalidChatUsers = 86006 // userlist not 2 to 2000 members
	// ErrcodeURLNoScheme answers a url without http:// or https:// (45034).
	ErrcodeURLNoScheme = 45034
)

// WeCom's per-member limits on app messages: beyond them it drops messages silently
// (errcode 0, never delivered).
const (
	memberPerMinute = 30
	memberPerHour   = 1000
	// responseCodeTTL is how long a response_code can update its card.
	responseCodeTTL = 72 * time.Hour
)

const (
	tokenTTL     = 7200 * time.Second
	maxTextBytes = 2048
	maxRobotMD   = 4096
)

// Call is one HTTP request the fake received, as it arrived (secrets included: the
// fake's whole point is to let tests look at them).
type Call struct {
	Method  string
	Path    string
	Query   url.Values
	Body    []byte // raw request body
	Time    time.Time
	Status  int // HTTP status answered
	ErrCode int // errcode answered (0 for HTTP errors)
}

// Card is the part of a sent template card that tests usually look at; Raw has it all.
type Card struct {
	CardType   string
	TaskID     string
	Title      string
	SubTitle   string
	Fields     []CardField
	Buttons    []CardButton
	CardURL    string
	Jumps      []CardJump // jump_list
	Raw        json.RawMessage
	Replace    string // replace_text (updates)
	SourceDesc string
	// Clipped names the texts longer than the client shows (title 36 characters,
	// sub-title 160, row label 5, row value 30, button text 10): WeCom takes them and the
	// client cuts them, e.g. "title" or "keyname[2]".
	Clipped []string
}

// CardJump is one jump_list entry: a link under the card.
type CardJump struct {
	Type  int    `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// CardField is one horizontal_content_list row.
type CardField struct {
	KeyName string `json:"keyname"`
	Value   string `json:"value"`
}

// CardButton is one button_list entry.
type CardButton struct {
	Text  string `json:"text"`
	Style int    `json:"style"`
	Key   string `json:"key"`
}

// SentMessage is one message the fake accepted and delivered: an app message
// (Via "app"), an appchat message ("appchat") or a robot message ("robot").
type SentMessage struct {
	Via      string
	ToUser   []string // app: the recipients that were valid
	Invalid  []string // app: recipients reported in invaliduser
	ChatID   string   // appchat
	RobotKey string   // robot
	AgentID  int
	MsgType  string
	// Content is the text or markdown content as WeCom would show it: cut at WeCom's byte
	// limit (Truncated says so), possibly in the middle of a character, like WeCom does.
	Content        string
	Truncated      bool
	Card           *Card
	DuplicateCheck bool
	MsgID          string
	ResponseCode   string // interactive cards
	MediaID        string // image (app, appchat): the media_id it was sent with
	Image          []byte // image: the picture (the uploaded media, or a robot's decoded base64)
	Time           time.Time
}

// CardUpdate is one accepted update_template_card.
type CardUpdate struct {
	UserIDs      []string
	ResponseCode string
	ReplaceName  string // button.replace_name
	Card         *Card  // template_card, when the whole card was replaced
	Time         time.Time
}

// ServerOption configures a Server.
type ServerOption func(*Server)

// WithCorp sets the app the fake accepts (default FakeCorpID, FakeCorpSecret, FakeAgentID).
func WithCorp(corpID, secret string, agentID int) ServerOption {
	return func(s *Server) { s.corpID, s.secret, s.agentID = corpID, secret, agentID }
}

// WithMembers limits the users who can receive messages (the app's visible range); others
// are reported in invaliduser. By default everyone is a member.
func WithMembers(ids ...string) ServerOption {
	return func(s *Server) {
		s.members = map[string]bool{}
		for _, id := range ids {
			s.members[id] = true
		}
	}
}

// WithRobotKeys limits the group robot keys webhook/send accepts (default: any non-empty key).
func WithRobotKeys(keys ...string) ServerOption {
	return func(s *Server) {
		s.robotKeys = map[string]bool{}
		for _, k := range keys {
			s.robotKeys[k] = true
		}
	}
}

// WithStrictResponseCodes makes update_template_card accept only response codes the fake
// issued itself (in message/send answers) or was given with AddResponseCode. By default any
// code is accepted once, because card clicks from a Sender carry codes the fake never saw.
func WithStrictResponseCodes() ServerOption {
	return func(s *Server) { s.strictCodes = true }
}

// WithSentHook calls fn with every message the fake accepts (app, appchat, robot), as it
// is accepted: a load program matches replies to callbacks with it. fn runs with the
// server's lock held; it must be quick and must not call the Server.
func WithSentHook(fn func(SentMessage)) ServerOption {
	return func(s *Server) { s.sentHook = fn }
}

// WithoutHistory stops the fake from keeping calls and sent messages (Calls, Sent,
// Updates and the Wait methods then see nothing), so that a long load run does not grow
// it without bound. Use WithSentHook to see the messages.
func WithoutHistory() ServerOption {
	return func(s *Server) { s.noHistory = true }
}

// WithOtherApps names the agent ids of the corp's other apps: message/send with one of
// them answers 301002 (the token belongs to this app), any other wrong id 40056.
func WithOtherApps(ids ...int) ServerOption {
	return func(s *Server) {
		for _, id := range ids {
			s.otherApps[id] = true
		}
	}
}

// WithoutMemberLimit turns off the silent drop of app messages beyond 30 a minute and
// 1000 an hour per member (a load run with rate limits off).
func WithoutMemberLimit() ServerOption {
	return func(s *Server) { s.noMemberLimit = true }
}

// WithFixedExpiresIn makes gettoken answer expires_in 7200 even when it hands out a
// token it issued before (WeCom's docs do not say which it does; by default the fake
// answers the remaining seconds).
func WithFixedExpiresIn() ServerOption {
	return func(s *Server) { s.fixedExpiresIn = true }
}

// WithServerClock sets the fake's clock (token expiry, Call.Time). Default time.Now.
func WithServerClock(now func() time.Time) ServerOption {
	return func(s *Server) { s.now = now }
}

type failure struct {
	errcode int
	status  int
	n       int
}

type fakeToken struct {
	expires time.Time
	expired bool
}

// codeState is one response_code: when it was issued and whether it was spent.
type codeState struct {
	issued time.Time
	used   bool
}

type fakeChat struct {
	ID    string   `json:"chatid"`
	Name  string   `json:"name"`
	Owner string   `json:"owner"`
	Users []string `json:"userlist"`
}

// Server is a fake WeCom API on a loopback httptest server. It validates requests like
// WeCom (tokens, integer agentid, fresh task_id, one use per response_code, known chat ids,
// the visible range) and records everything. It has no package state: run as many as you
// like. Safe for concurrent use.
type Server struct {
	ts *httptest.Server

	mu          sync.Mutex
	corpID      string
	secret      string
	agentID     int
	members     map[string]bool
	robotKeys   map[string]bool
	strictCodes bool
	now         func() time.Time
	latency     time.Duration
	failures    map[string][]failure
	tokens      map[string]*fakeToken
	issued      int
	taskIDs     map[string]bool
	codes       map[string]*codeState
	otherApps   map[int]bool
	// memberSends holds, per member, when the app's messages reached them in the last
	// hour: WeCom's per-member limit.
	memberSends    map[string][]time.Time
	noMemberLimit  bool
	fixedExpiresIn bool
	current        string // the token gettoken hands out while it is valid
	staleOnce      bool   // the next gettoken answers the rejected current token once more
	loseAnswer     map[string]int
	dropped        []SentMessage
	chats          map[string]*fakeChat
	calls          []Call
	sent           []SentMessage
	updates        []CardUpdate
	menu           json.RawMessage // the last menu/create body accepted
	seq            int
	changed        chan struct{} // closed and replaced on every recorded call
	sentHook       func(SentMessage)
	noHistory      bool
	conns          atomic.Int64          // TCP connections accepted
	media          map[string]*fakeMedia // media_id -> upload (media.go)
	mediaOrder     []string
}

// NewServer starts a fake WeCom API. With a non-nil t it is closed when the test ends;
// with nil (a demo) call Close.
func NewServer(t testing.TB, opts ...ServerOption) *Server {
	s := &Server{
		corpID:      FakeCorpID,
		secret:      FakeCorpSecret,
		agentID:     FakeAgentID,
		now:         time.Now,
		failures:    map[string][]failure{},
		tokens:      map[string]*fakeToken{},
		taskIDs:     map[string]bool{},
		codes:       map[string]*codeState{},
		otherApps:   map[int]bool{},
		memberSends: map[string][]time.Time{},
		loseAnswer:  map[string]int{},
		chats:       map[string]*fakeChat{},
		changed:     make(chan struct{}),
	}
	for _, o := range opts {
		o(s)
	}
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.ts.Start()
	if t != nil {
		t.Helper()
		t.Cleanup(s.Close)
	}
	return s
}

// URL is the base URL to give the client (ClientConfig.BaseURL), without /cgi-bin.
func (s *Server) URL() string { return s.ts.URL }

// Close shuts the server down.
func (s *Server) Close() { s.ts.Close() }

// ConnsAccepted is how many TCP connections the fake accepted: with connection reuse it
// stays near the client's concurrency, without it it grows with every call.
func (s *Server) ConnsAccepted() int64 { return s.conns.Load() }

// CorpID returns the corp id the fake accepts.
func (s *Server) CorpID() string { s.mu.Lock(); defer s.mu.Unlock(); return s.corpID }

// Secret returns the app secret the fake accepts.
func (s *Server) Secret() string { s.mu.Lock(); defer s.mu.Unlock(); return s.secret }

// AgentID returns the agent id the fake accepts.
func (s *Server) AgentID() int { s.mu.Lock(); defer s.mu.Unlock(); return s.agentID }

// Calls returns every request received so far, in order.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

// Sent returns every message accepted so far (app, appchat and robot), in order.
func (s *Server) Sent() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SentMessage(nil), s.sent...)
}

// Dropped returns the app messages WeCom answered errcode 0 to but never delivered,
// because their members were over the limit of 30 a minute or 1000 an hour; ToUser
// holds the members who lost it.
func (s *Server) Dropped() []SentMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SentMessage(nil), s.dropped...)
}

// Updates returns every accepted update_template_card, in order.
func (s *Server) Updates() []CardUpdate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]CardUpdate(nil), s.updates...)
}

// TokensIssued is how many access tokens gettoken handed out.
func (s *Server) TokensIssued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.issued
}

// WaitSent blocks until at least n messages were accepted, and returns them all; it fails
// when ctx ends first (give it a deadline).
func (s *Server) WaitSent(ctx context.Context, n int) ([]SentMessage, error) {
	for {
		s.mu.Lock()
		got, ch := len(s.sent), s.changed
		if got >= n {
			out := append([]SentMessage(nil), s.sent...)
			s.mu.Unlock()
			return out, nil
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return s.Sent(), fmt.Errorf("wecomtest: wait for %d sent messages: got %d: %w", n, got, ctx.Err())
		case <-ch:
		}
	}
}

// WaitCalls blocks until at least n requests to path (e.g. "message/update_template_card")
// were received, and returns those; it fails when ctx ends first.
func (s *Server) WaitCalls(ctx context.Context, path string, n int) ([]Call, error) {
	path = normPath(path)
	for {
		s.mu.Lock()
		var out []Call
		for _, c := range s.calls {
			if c.Path == path {
				out = append(out, c)
			}
		}
		ch := s.changed
		s.mu.Unlock()
		if len(out) >= n {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return out, fmt.Errorf("wecomtest: wait for %d calls to %s: got %d: %w", n, path, len(out), ctx.Err())
		case <-ch:
		}
	}
}

// normPath turns "message/send", "/message/send" or "/cgi-bin/message/send" into the latter.
func normPath(p string) string {
	p = "/" + strings.TrimPrefix(p, "/")
	if !strings.HasPrefix(p, "/cgi-bin/") {
		p = "/cgi-bin" + p
	}
	return p
}

// FailNext makes the next n calls to path (e.g. "message/send", "gettoken") answer errcode
// (40014, 42001, 60020, -1, 40001...) with HTTP 200, before any other check.
func (s *Server) FailNext(path string, errcode int, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := normPath(path)
	s.failures[p] = append(s.failures[p], failure{errcode: errcode, n: n})
}

// FailHTTP makes the next n calls to path answer HTTP status (500, 502...).
func (s *Server) FailHTTP(path string, status int, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := normPath(path)
	s.failures[p] = append(s.failures[p], failure{status: status, n: n})
}

// SetLatency delays every answer by d (cut short when the client gives up).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// ExpireTokens makes every token issued so far expired: their next use answers 42001,
// and the next gettoken issues a new one.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.expired = true
	}
}

// ExpireTokensLagging expires every token like ExpireTokens, but the next gettoken
// still answers the token just expired (once), as a WeCom whose token cache lags behind
// its check would; the one after issues a new token.
func (s *Server) ExpireTokensLagging() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.expired = true
	}
	s.staleOnce = s.current != ""
}

// LoseAnswerNext makes the next n calls to path be processed in full (a message is
// delivered, a task_id spent) and then the connection dropped without an answer: the
// caller cannot know the call succeeded.
func (s *Server) LoseAnswerNext(path string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loseAnswer[normPath(path)] += n
}

// AddResponseCode makes code acceptable (once) to update_template_card, for
// WithStrictResponseCodes.
func (s *Server) AddResponseCode(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.codes[code]; !ok {
		s.codes[code] = &codeState{issued: s.now()}
	}
}

// AddChat creates an app group chat directly, as if appchat/create had been called.
func (s *Server) AddChat(chatID, name, owner string, users ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chats[chatID] = &fakeChat{ID: chatID, Name: name, Owner: owner, Users: append([]string(nil), users...)}
}

// answer is what a handler decided: a JSON body with an errcode, or an HTTP error.
type answer struct {
	status  int
	errcode int
	body    map[string]any
}

func wxErr(code int, msg string) answer {
	return answer{status: http.StatusOK, errcode: code, body: map[string]any{"errcode": code, "errmsg": msg}}
}

func wxOK(extra map[string]any) answer {
	body := map[string]any{"errcode": 0, "errmsg": "ok"}
	for k, v := range extra {
		body[k] = v
	}
	return answer{status: http.StatusOK, body: body}
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(io.LimitReader(r.Body, maxUploadBody))
	s.mu.Lock()
	latency := s.latency
	s.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-r.Context().Done():
			t.Stop()
		case <-t.C:
		}
	}

	s.mu.Lock()
	a := s.handle(r, raw)
	if !s.noHistory {
		s.calls = append(s.calls, Call{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Body: raw,
			Time: s.now(), Status: a.status, ErrCode: a.errcode})
	}
	close(s.changed)
	s.changed = make(chan struct{})
	lose := s.loseAnswer[r.URL.Path] > 0
	if lose {
		s.loseAnswer[r.URL.Path]--
	}
	s.mu.Unlock()

	if lose {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	if a.body == nil {
		http.Error(w, http.StatusText(a.status), a.status)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(a.status)
	_ = json.NewEncoder(w).Encode(a.body)
}

// handle decides the answer; s.mu is held.
func (s *Server) handle(r *http.Request, raw []byte) answer {
	path := r.URL.Path
	if fs := s.failures[path]; len(fs) > 0 {
		f := &fs[0]
		f.n--
		if f.n <= 0 {
			s.failures[path] = fs[1:]
		}
		if f.status != 0 {
			return answer{status: f.status}
		}
		return wxErr(f.errcode, fmt.Sprintf("injected errcode %d, hint: [fake], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=%d", f.errcode, f.errcode))
	}
	type route struct {
		method string
		token  bool
		fn     func(*http.Request, map[string]json.RawMessage, []byte) answer
	}
	routes := map[string]route{
		"/cgi-bin/gettoken":                     {http.MethodGet, false, s.getToken},
		"/cgi-bin/message/send":                 {http.MethodPost, true, s.messageSend},
		"/cgi-bin/message/update_template_card": {http.MethodPost, true, s.updateCard},
		"/cgi-bin/appchat/create":               {http.MethodPost, true, s.appchatCreate},
		"/cgi-bin/appchat/get":                  {http.MethodGet, true, s.appchatGet},
		"/cgi-bin/appchat/send":                 {http.MethodPost, true, s.appchatSend},
		"/cgi-bin/webhook/send":                 {http.MethodPost, false, s.robotSend},
		"/cgi-bin/menu/create":                  {http.MethodPost, true, s.menuCreate},
		mediaPath:                               {http.MethodPost, true, s.mediaUpload},
	}
	rt, ok := routes[path]
	if !ok {
		return answer{status: http.StatusNotFound}
	}
	if r.Method != rt.method {
		return answer{status: http.StatusMethodNotAllowed}
	}
	if rt.token {
		tok := r.URL.Query().Get("access_token")
		t, ok := s.tokens[tok]
		switch {
		case tok == "":
			return wxErr(41001, "access_token missing")
		case !ok:
			return wxErr(ErrcodeInvalidToken, "invalid access_token")
		case t.expired || !s.now().Before(t.expires):
			return wxErr(ErrcodeExpiredToken, "access_token expired")
		}
	}
	var fields map[string]json.RawMessage
	if r.Method == http.MethodPost && path != mediaPath {
		if err := json.Unmarshal(raw, &fields); err != nil {
			return wxErr(47001, "data format error: "+err.Error())
		}
	}
	return rt.fn(r, fields, raw)
}

func (s *Server) getToken(r *http.Request, _ map[string]json.RawMessage, _ []byte) answer {
	q := r.URL.Query()
	switch {
	case q.Get("corpid") == "":
		return wxErr(41002, "corpid missing")
	case q.Get("corpid") != s.corpID:
		return wxErr(ErrcodeInvalidCorpID, "invalid corpid")
	case q.Get("corpsecret") == "":
		return wxErr(41004, "corpsecret missing")
	case q.Get("corpsecret") != s.secret:
		return wxErr(ErrcodeInvalidSecret, "invalid credential")
	}
	// While a token is valid WeCom hands out the same one again, with what remains of its
	// lifetime ("有效期内重复获取返回相同结果").
	now := s.now()
	if t, ok := s.tokens[s.current]; ok && (s.staleOnce || (!t.expired && now.Before(t.expires))) {
		s.staleOnce = false
		left := int(t.expires.Sub(now) / time.Second)
		if s.fixedExpiresIn {
			left = int(tokenTTL / time.Second)
		}
		return wxOK(map[string]any{"access_token": s.current, "expires_in": max(left, 0)})
	}
	tok := "fake-token-" + randHex(24)
	s.tokens[tok] = &fakeToken{expires: now.Add(tokenTTL)}
	s.current = tok
	s.issued++
	return wxOK(map[string]any{"access_token": tok, "expires_in": int(tokenTTL / time.Second)})
}

// checkAgent insists on an integer agentid equal to the app's: WeCom documents it as an int.
func (s *Server) checkAgent(fields map[string]json.RawMessage) (answer, bool) {
	raw, ok := fields["agentid"]
	if !ok {
		return wxErr(ErrcodeInvalidAgentID, "agentid missing"), false
	}
	var id int
	if err := json.Unmarshal(raw, &id); err != nil {
		return wxErr(ErrcodeInvalidAgentID, "invalid agentid: must be an integer, got "+string(raw)), false
	}
	return s.agentAnswer(id)
}

// agentAnswer is WeCom's answer to agent id id: 301002 for another app of the corp,
// 40056 for an id no app has.
func (s *Server) agentAnswer(id int) (answer, bool) {
	switch {
	case id == s.agentID:
		return answer{}, true
	case s.otherApps[id]:
		return wxErr(ErrcodeAgentMismatch, fmt.Sprintf("api forbidden for agentid %d: the access_token was issued for agentid %d", id, s.agentID)), false
	}
	return wxErr(ErrcodeInvalidAgentID, "invalid agentid "+strconv.Itoa(id)), false
}

var (
	taskIDRe = regexp.MustCompile(`^[0-9A-Za-z_\-@]{1,128}$`)
	chatIDRe = regexp.MustCompile(`^[0-9A-Za-z]{1,32}$`)
)

type wireContent struct {
	Content string `json:"content"`
}

func decodeContent(fields map[string]json.RawMessage, key string) (string, bool) {
	var c wireContent
	if err := json.Unmarshal(fields[key], &c); err != nil || c.Content == "" {
		return "", false
	}
	return c.Content, true
}

// cutLike cuts content at limit bytes the way WeCom does: blindly.
func cutLike(content string, limit int) (string, bool) {
	if len(content) > limit {
		return content[:limit], true
	}
	return content, false
}

type wireCard struct {
	CardType  string `json:"card_type"`
	TaskID    string `json:"task_id"`
	MainTitle *struct {
		Title string `json:"title"`
	} `json:"main_title"`
	Source *struct {
		Desc string `json:"desc"`
	} `json:"source"`
	SubTitleText          string       `json:"sub_title_text"`
	HorizontalContentList []CardField  `json:"horizontal_content_list"`
	ButtonList            []CardButton `json:"button_list"`
	CardAction            *struct {
		Type int    `json:"type"`
		URL  string `json:"url"`
	} `json:"card_action"`
	JumpList    []CardJump `json:"jump_list"`
	ReplaceText string     `json:"replace_text"`
}

// checkURL checks a link like WeCom: type 1 needs a url (42028) with a scheme (45034).
func checkURL(url string) (answer, bool) {
	switch {
	case url == "":
		return wxErr(ErrcodeCardURL, "missing url"), false
	case !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://"):
		return wxErr(ErrcodeURLNoScheme, "url must start with http:// or https://"), false
	}
	return answer{}, true
}

var interactiveCards = map[string]bool{"button_interaction": true, "vote_interaction": true, "multiple_interaction": true}

// checkCard validates a template card like WeCom, with WeCom's codes, and decodes it.
// Task ids are checked for reuse by the caller, and recorded only when a send succeeds.
func (s *Server) checkCard(raw json.RawMessage) (*Card, answer, bool) {
	var wc wireCard
	if err := json.Unmarshal(raw, &wc); err != nil {
		return nil, wxErr(ErrcodeInvalidParameter, "invalid template_card"), false
	}
	switch wc.CardType {
	case "text_notice", "news_notice", "button_interaction", "vote_interaction", "multiple_interaction":
	default:
		return nil, wxErr(ErrcodeCardType, "invalid card_type "+strconv.Quote(wc.CardType)), false
	}
	if wc.CardType == "text_notice" || wc.CardType == "news_notice" {
		switch {
		case wc.CardAction == nil || (wc.CardAction.Type != 1 && wc.CardAction.Type != 2):
			return nil, wxErr(ErrcodeCardAction, "invalid card_action"), false
		case wc.CardAction.Type == 1 && wc.CardAction.URL == "":
			return nil, wxErr(ErrcodeCardURL, "card_action.url missing"), false
		}
	}
	if wc.CardAction != nil && wc.CardAction.Type == 1 {
		if a, ok := checkURL(wc.CardAction.URL); !ok {
			return nil, a, false
		}
	}
	if len(wc.JumpList) > 3 {
		return nil, wxErr(ErrcodeCardJumpList, "jump_list exceeds 3"), false
	}
	for _, j := range wc.JumpList {
		if j.Title == "" {
			return nil, wxErr(ErrcodeInvalidParameter, "jump_list title required"), false
		}
		if j.Type == 1 {
			if a, ok := checkURL(j.URL); !ok {
				return nil, a, false
			}
		}
	}
	if (wc.MainTitle == nil || wc.MainTitle.Title == "") && wc.SubTitleText == "" {
		return nil, wxErr(ErrcodeInvalidParameter, "main_title.title or sub_title_text required"), false
	}
	if len(wc.HorizontalContentList) > 6 {
		return nil, wxErr(ErrcodeCardHorizontal, "horizontal_content_list exceeds 6"), false
	}
	for _, f := range wc.HorizontalContentList {
		if f.KeyName == "" {
			return nil, wxErr(ErrcodeCardKeyName, "horizontal_content_list keyname missing"), false
		}
	}
	if (interactiveCards[wc.CardType] || wc.TaskID != "") && !taskIDRe.MatchString(wc.TaskID) {
		return nil, wxErr(ErrcodeTaskIDReused, "taskid has existed or empty or exceed max len"), false
	}
	if wc.CardType == "button_interaction" {
		if n := len(wc.ButtonList); n == 0 || n > 6 {
			return nil, wxErr(ErrcodeInvalidParameter, "button_list must have 1 to 6 buttons"), false
		}
		keys := map[string]bool{}
		for _, b := range wc.ButtonList {
			switch {
			case b.Text == "":
				return nil, wxErr(ErrcodeCardButtonText, "button text missing"), false
			case b.Key == "" || len(b.Key) > 1024 || keys[b.Key]:
				return nil, wxErr(ErrcodeCardButtonKey, "button key missing, too long or repeated"), false
			}
			keys[b.Key] = true
		}
	}
	c := &Card{CardType: wc.CardType, TaskID: wc.TaskID, SubTitle: wc.SubTitleText,
		Fields: wc.HorizontalContentList, Buttons: wc.ButtonList, Raw: append(json.RawMessage(nil), raw...),
		Replace: wc.ReplaceText, Jumps: wc.JumpList}
	if wc.MainTitle != nil {
		c.Title = wc.MainTitle.Title
	}
	if wc.CardAction != nil {
		c.CardURL = wc.CardAction.URL
	}
	if wc.Source != nil {
		c.SourceDesc = wc.Source.Desc
	}
	c.Clipped = clipped(c)
	return c, answer{}, true
}

// clipped lists the texts of c longer than the client shows (WeCom's "建议不超过"
// lengths, in characters): it takes them and cuts them on screen.
func clipped(c *Card) []string {
	var out []string
	over := func(name, text string, limit int) {
		if utf8.RuneCountInString(text) > limit {
			out = append(out, name)
		}
	}
	over("title", c.Title, 36)
	over("sub_title_text", c.SubTitle, 160)
	for i, f := range c.Fields {
		over(fmt.Sprintf("keyname[%d]", i), f.KeyName, 5)
		over(fmt.Sprintf("value[%d]", i), f.Value, 30)
	}
	for i, b := range c.Buttons {
		over(fmt.Sprintf("button[%d]", i), b.Text, 10)
	}
	return out
}

func (s *Server) messageSend(_ *http.Request, fields map[string]json.RawMessage, _ []byte) answer {
	if a, ok := s.checkAgent(fields); !ok {
		return a
	}
	var touser, msgtype string
	_ = json.Unmarshal(fields["touser"], &touser)
	_ = json.Unmarshal(fields["msgtype"], &msgtype)
	var dup int
	_ = json.Unmarshal(fields["enable_duplicate_check"], &dup)
	m := SentMessage{Via: "app", AgentID: s.agentID, MsgType: msgtype, DuplicateCheck: dup == 1, Time: s.now()}
	switch msgtype {
	case "text", "markdown":
		c, ok := decodeContent(fields, msgtype)
		if !ok {
			return wxErr(ErrcodeEmptyContent, "empty content")
		}
		m.Content, m.Truncated = cutLike(c, maxTextBytes)
	case "template_card":
		card, a, ok := s.checkCard(fields["template_card"])
		if !ok {
			return a
		}
		// task_id is unique per app, for every card type that carries one.
		if card.TaskID != "" && s.taskIDs[card.TaskID] {
			return wxErr(ErrcodeTaskIDReused, "taskid has existed or empty or exceed max len")
		}
		m.Card = card
	case "image":
		media, a, ok := s.imageMedia(fields)
		if !ok {
			return a
		}
		m.MediaID, m.Image = media.MediaID, media.Data
	default:
		return wxErr(ErrcodeInvalidMsgType, "invalid message type "+msgtype)
	}
	var invalid []string
	for _, u := range strings.Split(touser, "|") {
		switch {
		case u == "":
		case u == "@all" || s.members == nil || s.members[u]:
			m.ToUser = append(m.ToUser, u)
		default:
			invalid = append(invalid, u)
		}
	}
	if len(m.ToUser) == 0 {
		return wxErr(ErrcodeAllUsersInvalid, "all touser invalid, invaliduser: "+strings.Join(invalid, "|"))
	}
	s.seq++
	m.Invalid = invalid
	m.MsgID = fmt.Sprintf("fake-msg-%d", s.seq)
	// WeCom's answer names every kind of recipient it could not reach.
	extra := map[string]any{"msgid": m.MsgID, "invaliduser": strings.Join(invalid, "|"),
		"invalidparty": "", "invalidtag": "", "unlicenseduser": ""}
	if m.Card != nil && m.Card.TaskID != "" {
		s.taskIDs[m.Card.TaskID] = true
	}
	if m.Card != nil && interactiveCards[m.Card.CardType] {
		m.ResponseCode = "fake-rc-" + randHex(16)
		s.codes[m.ResponseCode] = &codeState{issued: m.Time}
		extra["response_code"] = m.ResponseCode
	}
	// Members over WeCom's per-member limit lose the message without a word: the answer
	// is the same as for a delivered one.
	var lost []string
	m.ToUser, lost = s.overLimit(m.ToUser, m.Time)
	if len(lost) > 0 {
		d := m
		d.ToUser = lost
		s.dropped = append(s.dropped, d)
	}
	if len(m.ToUser) > 0 {
		s.record(m)
	}
	return wxOK(extra)
}

func (s *Server) updateCard(_ *http.Request, fields map[string]json.RawMessage, _ []byte) answer {
	if a, ok := s.checkAgent(fields); !ok {
		return a
	}
	var u CardUpdate
	_ = json.Unmarshal(fields["userids"], &u.UserIDs)
	_ = json.Unmarshal(fields["response_code"], &u.ResponseCode)
	if u.ResponseCode == "" {
		return wxErr(ErrcodeInvalidParameter, "response_code missing")
	}
	st, known := s.codes[u.ResponseCode]
	switch {
	case !known && s.strictCodes:
		return wxErr(ErrcodeResponseCodeInvalid, "invalid response_code")
	case !known:
		st = &codeState{issued: s.now()}
	case st.used || s.now().Sub(st.issued) >= responseCodeTTL:
		return wxErr(ErrcodeResponseCodeInvalid, "invalid response_code")
	}
	if b, ok := fields["button"]; ok {
		var btn struct {
			ReplaceName string `json:"replace_name"`
		}
		if err := json.Unmarshal(b, &btn); err != nil || btn.ReplaceName == "" {
			return wxErr(ErrcodeInvalidParameter, "button.replace_name missing")
		}
		u.ReplaceName = btn.ReplaceName
	} else if c, ok := fields["template_card"]; ok {
		card, a, ok := s.checkCard(c)
		if !ok {
			return a
		}
		u.Card = card
	} else {
		return wxErr(ErrcodeInvalidParameter, "button or template_card required")
	}
	st.used = true
	s.codes[u.ResponseCode] = st
	u.Time = s.now()
	s.updates = append(s.updates, u)
	return wxOK(map[string]any{"invaliduser": []string{}})
}

func (s *Server) appchatCreate(_ *http.Request, fields map[string]json.RawMessage, _ []byte) answer {
	var c fakeChat
	_ = json.Unmarshal(fields["chatid"], &c.ID)
	_ = json.Unmarshal(fields["name"], &c.Name)
	_ = json.Unmarshal(fields["owner"], &c.Owner)
	_ = json.Unmarshal(fields["userlist"], &c.Users)
	switch {
	case len(c.Users) < 2 || len(c.Users) > 2000:
		return wxErr(ErrcodeInvalidChatUsers, "userlist must have 2 to 2000 members")
	case c.ID != "" && !chatIDRe.MatchString(c.ID):
		return wxErr(ErrcodeInvalidChatID, "invalid chatid: at most 32 characters of 0-9a-zA-Z")
	case c.ID == "":
		c.ID = "fakechat" + randHex(8)
	}
	if r := []rune(c.Name); len(r) > 50 {
		c.Name = string(r[:50]) // WeCom cuts a long name
	}
	if _, ok := s.chats[c.ID]; ok {
		return wxErr(86215, "chatid already exists")
	}
	s.chats[c.ID] = &c
	return wxOK(map[string]any{"chatid": c.ID})
}

func (s *Server) appchatGet(r *http.Request, _ map[string]json.RawMessage, _ []byte) answer {
	c, ok := s.chats[r.URL.Query().Get("chatid")]
	if !ok {
		return wxErr(ErrcodeChatNotFound, "chatid not found")
	}
	return wxOK(map[string]any{"chat_info": c})
}

func (s *Server) appchatSend(_ *http.Request, fields map[string]json.RawMessage, _ []byte) answer {
	var chatID, msgtype string
	_ = json.Unmarshal(fields["chatid"], &chatID)
	_ = json.Unmarshal(fields["msgtype"], &msgtype)
	if _, ok := s.chats[chatID]; !ok {
		return wxErr(ErrcodeChatNotFound, "chatid not found")
	}
	if msgtype == "image" {
		media, a, ok := s.imageMedia(fields)
		if !ok {
			return a
		}
		s.record(SentMessage{Via: "appchat", ChatID: chatID, MsgType: msgtype, MediaID: media.MediaID, Image: media.Data, Time: s.now()})
		return wxOK(nil)
	}
	if msgtype != "text" && msgtype != "markdown" {
		return wxErr(ErrcodeInvalidMsgType, "invalid message type "+msgtype)
	}
	c, ok := decodeContent(fields, msgtype)
	if !ok {
		return wxErr(ErrcodeEmptyContent, "empty content")
	}
	m := SentMessage{Via: "appchat", ChatID: chatID, MsgType: msgtype, Time: s.now()}
	m.Content, m.Truncated = cutLike(c, maxTextBytes)
	s.record(m)
	return wxOK(nil)
}

func (s *Server) robotSend(r *http.Request, fields map[string]json.RawMessage, _ []byte) answer {
	key := r.URL.Query().Get("key")
	if key == "" || (s.robotKeys != nil && !s.robotKeys[key]) {
		return wxErr(ErrcodeInvalidRobotKey, "invalid webhook url")
	}
	var msgtype string
	_ = json.Unmarshal(fields["msgtype"], &msgtype)
	limit := maxTextBytes
	switch msgtype {
	case "text":
	case "markdown":
		limit = maxRobotMD
	case "image":
		data, a, ok := robotImage(fields)
		if !ok {
			return a
		}
		s.record(SentMessage{Via: "robot", RobotKey: key, MsgType: msgtype, Image: data, Time: s.now()})
		return wxOK(nil)
	default:
		return wxErr(ErrcodeInvalidMsgType, "invalid message type "+msgtype)
	}
	c, ok := decodeContent(fields, msgtype)
	if !ok {
		return wxErr(ErrcodeEmptyContent, "empty content")
	}
	m := SentMessage{Via: "robot", RobotKey: key, MsgType: msgtype, Time: s.now()}
	m.Content, m.Truncated = cutLike(c, limit)
	s.record(m)
	return wxOK(nil)
}

// overLimit splits users into those who may receive one more app message at now (30 in
// any 60 s, 1000 in any hour; counted for them) and those WeCom drops it for. s.mu is held.
func (s *Server) overLimit(users []string, now time.Time) (ok, lost []string) {
	if s.noMemberLimit {
		return users, nil
	}
	for _, u := range users {
		if u == "@all" {
			ok = append(ok, u)
			continue
		}
		var kept []time.Time
		minute := 0
		for _, t := range s.memberSends[u] {
			if now.Sub(t) < time.Hour {
				kept = append(kept, t)
				if now.Sub(t) < time.Minute {
					minute++
				}
			}
		}
		if minute >= memberPerMinute || len(kept) >= memberPerHour {
			lost = append(lost, u)
			s.memberSends[u] = kept
			continue
		}
		s.memberSends[u] = append(kept, now)
		ok = append(ok, u)
	}
	return ok, lost
}

// record keeps an accepted message; s.mu is held.
func (s *Server) record(m SentMessage) {
	if s.sentHook != nil {
		s.sentHook(m)
	}
	if !s.noHistory {
		s.sent = append(s.sent, m)
	}
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Menu returns the body of the last menu/create the fake accepted (nil when none).
func (s *Server) Menu() json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append(json.RawMessage(nil), s.menu...)
}

// menuCreate checks agentid (a query parameter here, unlike message/send) and WeCom's
// menu limits, with its codes: 1-3 buttons (40016), at most 5 sub-buttons (40023), names
// of at most 16 bytes (40018; sub-buttons 40 bytes, 40025), click keys of at most 128
// bytes (40019).
func (s *Server) menuCreate(r *http.Request, fields map[string]json.RawMessage, raw []byte) answer {
	id, err := strconv.Atoi(r.URL.Query().Get("agentid"))
	if err != nil {
		return wxErr(ErrcodeInvalidAgentID, "invalid agentid "+r.URL.Query().Get("agentid"))
	}
	if a, ok := s.agentAnswer(id); !ok {
		return a
	}
	type button struct {
		Type string   `json:"type"`
		Name string   `json:"name"`
		Key  string   `json:"key"`
		Sub  []button `json:"sub_button"`
	}
	var buttons []button
	if err := json.Unmarshal(fields["button"], &buttons); err != nil || len(buttons) == 0 || len(buttons) > 3 {
		return wxErr(ErrcodeMenuButtons, "invalid button size")
	}
	leaf := func(b button, maxName, nameCode int) (answer, bool) {
		switch {
		case b.Name == "" || len(b.Name) > maxName:
			return wxErr(nameCode, "invalid button name size"), false
		case b.Type != "click":
			return wxErr(ErrcodeInvalidParameter, "invalid button type"), false
		case b.Key == "" || len(b.Key) > 128:
			return wxErr(ErrcodeMenuKey, "invalid button key size"), false
		}
		return answer{}, true
	}
	for _, b := range buttons {
		switch {
		case len(b.Sub) > 5:
			return wxErr(ErrcodeMenuSubButtons, "invalid sub_button size")
		case len(b.Sub) > 0:
			if b.Name == "" || len(b.Name) > 16 {
				return wxErr(ErrcodeMenuName, "invalid button name size")
			}
			for _, sb := range b.Sub {
				if a, ok := leaf(sb, 40, ErrcodeMenuSubName); !ok {
					return a
				}
			}
		default:
			if a, ok := leaf(b, 16, ErrcodeMenuName); !ok {
				return a
			}
		}
	}
	s.menu = append(json.RawMessage(nil), raw...)
	return wxOK(nil)
}
