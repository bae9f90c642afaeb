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
)

// The app a Server knows unless told otherwise (WithCorp).
const (
	FakeCorpID     = "wwfakecorp0000001"
	FakeCorpSecret = "fake-corp-secret-0123456789abcdef"
	FakeAgentID    = 1000002
)

// Errcodes the fake answers with. Where WeCom's documentation does not name the code for a
// case, the fake picks one and says so here; tests should match on these names.
const (
	ErrcodeInvalidSecret    = 40001
	ErrcodeInvalidCorpID    = 40013
	ErrcodeInvalidToken     = 40014
	ErrcodeExpiredToken     = 42001
	ErrcodeInvalidMsgType   = 40008
	ErrcodeInvalidAgentID   = 40056
	ErrcodeInvalidParameter = 40058
	ErrcodeEmptyContent     = 44004
	ErrcodeAllUsersInvalid  = 81013
	ErrcodeChatNotFound     = 86003
	ErrcodeInvalidRobotKey  = 93000
	// ErrcodeTaskIDReused answers a template card whose task_id the app already used.
	// WeCom refuses such a card; the exact code is the fake's choice.
	ErrcodeTaskIDReused = 40145
	// ErrcodeResponseCodeUsed answers an update_template_card with a response_code already
	// spent (or never seen, when the fake only accepts codes it issued). The fake's choice.
	ErrcodeResponseCodeUsed = 40146
	// ErrcodeMenuInvalid answers a menu/create outside WeCom's limits (the fake's choice
	// for every such case; WeCom uses several 4001x-4003x codes).
	ErrcodeMenuInvalid = 40017
	// ErrcodeJumpListTooLong answers a card with more than 3 jump_list entries (42042).
	ErrcodeJumpListTooLong = 42042
	// ErrcodeURLMissing answers a link of type 1 without a url (42028).
	ErrcodeURLMissing = 42028
	// ErrcodeURLNoScheme answers a url without http:// or https:// (45034).
	ErrcodeURLNoScheme = 45034
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
	codes       map[string]bool // response_code -> already used
	chats       map[string]*fakeChat
	calls       []Call
	sent        []SentMessage
	updates     []CardUpdate
	menu        json.RawMessage // the last menu/create body accepted
	seq         int
	changed     chan struct{} // closed and replaced on every recorded call
	sentHook    func(SentMessage)
	noHistory   bool
	conns       atomic.Int64 // TCP connections accepted
}

// NewServer starts a fake WeCom API. With a non-nil t it is closed when the test ends;
// with nil (a demo) call Close.
func NewServer(t testing.TB, opts ...ServerOption) *Server {
	s := &Server{
		corpID:   FakeCorpID,
		secret:   FakeCorpSecret,
		agentID:  FakeAgentID,
		now:      time.Now,
		failures: map[string][]failure{},
		tokens:   map[string]*fakeToken{},
		taskIDs:  map[string]bool{},
		codes:    map[string]bool{},
		chats:    map[string]*fakeChat{},
		changed:  make(chan struct{}),
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

// ExpireTokens makes every token issued so far expired: their next use answers 42001.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tokens {
		t.expired = true
	}
}

// AddResponseCode makes code acceptable (once) to update_template_card, for
// WithStrictResponseCodes.
func (s *Server) AddResponseCode(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.codes[code]; !ok {
		s.codes[code] = false
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
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
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
	s.mu.Unlock()

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
	if r.Method == http.MethodPost {
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
	tok := "fake-token-" + randHex(24)
	s.tokens[tok] = &fakeToken{expires: s.now().Add(tokenTTL)}
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
	if id != s.agentID {
		return wxErr(ErrcodeInvalidAgentID, "invalid agentid "+strconv.Itoa(id)), false
	}
	return answer{}, true
}

var taskIDRe = regexp.MustCompile(`^[0-9A-Za-z_\-@]{1,128}$`)

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
		return wxErr(ErrcodeURLMissing, "missing url"), false
	case !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://"):
		return wxErr(ErrcodeURLNoScheme, "url must start with http:// or https://"), false
	}
	return answer{}, true
}

var interactiveCards = map[string]bool{"button_interaction": true, "vote_interaction": true, "multiple_interaction": true}

// checkCard validates a template card like WeCom and decodes it. Task ids are checked for
// reuse by the caller, and recorded only when a send succeeds.
func (s *Server) checkCard(raw json.RawMessage) (*Card, answer, bool) {
	var wc wireCard
	if err := json.Unmarshal(raw, &wc); err != nil || wc.CardType == "" {
		return nil, wxErr(ErrcodeInvalidParameter, "invalid template_card"), false
	}
	switch wc.CardType {
	case "text_notice", "news_notice", "button_interaction", "vote_interaction", "multiple_interaction":
	default:
		return nil, wxErr(ErrcodeInvalidParameter, "invalid card_type "+wc.CardType), false
	}
	if wc.CardType == "text_notice" && wc.CardAction == nil {
		return nil, wxErr(ErrcodeInvalidParameter, "text_notice needs card_action"), false
	}
	if wc.CardAction != nil && wc.CardAction.Type == 1 {
		if a, ok := checkURL(wc.CardAction.URL); !ok {
			return nil, a, false
		}
	}
	if len(wc.JumpList) > 3 {
		return nil, wxErr(ErrcodeJumpListTooLong, "jump_list exceeds 3"), false
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
		return nil, wxErr(ErrcodeInvalidParameter, "horizontal_content_list exceeds 6"), false
	}
	if interactiveCards[wc.CardType] && !taskIDRe.MatchString(wc.TaskID) {
		return nil, wxErr(ErrcodeInvalidParameter, "invalid task_id"), false
	}
	if wc.CardType == "button_interaction" {
		if n := len(wc.ButtonList); n == 0 || n > 6 {
			return nil, wxErr(ErrcodeInvalidParameter, "button_list must have 1 to 6 buttons"), false
		}
		for _, b := range wc.ButtonList {
			if b.Text == "" || b.Key == "" || len(b.Key) > 1024 || b.Style < 0 || b.Style > 4 {
				return nil, wxErr(ErrcodeInvalidParameter, "invalid button"), false
			}
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
	return c, answer{}, true
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
		if interactiveCards[card.CardType] && s.taskIDs[card.TaskID] {
			return wxErr(ErrcodeTaskIDReused, "task_id already exists: "+card.TaskID)
		}
		m.Card = card
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
	extra := map[string]any{"msgid": m.MsgID, "invaliduser": strings.Join(invalid, "|")}
	if m.Card != nil && interactiveCards[m.Card.CardType] {
		s.taskIDs[m.Card.TaskID] = true
		m.ResponseCode = "fake-rc-" + randHex(16)
		s.codes[m.ResponseCode] = false
		extra["response_code"] = m.ResponseCode
	}
	s.record(m)
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
	used, known := s.codes[u.ResponseCode]
	if used || (s.strictCodes && !known) {
		return wxErr(ErrcodeResponseCodeUsed, "invalid response_code (used, expired or unknown)")
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
	s.codes[u.ResponseCode] = true
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
	if len(c.Users) < 2 {
		return wxErr(ErrcodeInvalidParameter, "userlist needs at least 2 members")
	}
	if c.ID == "" {
		c.ID = "fakechat" + randHex(8)
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
// menu limits: 1-3 buttons, at most 5 sub-buttons, names of at most 16 (sub: 40) bytes,
// click keys of at most 128 bytes.
func (s *Server) menuCreate(r *http.Request, fields map[string]json.RawMessage, raw []byte) answer {
	if id, err := strconv.Atoi(r.URL.Query().Get("agentid")); err != nil || id != s.agentID {
		return wxErr(ErrcodeInvalidAgentID, "invalid agentid "+r.URL.Query().Get("agentid"))
	}
	type button struct {
		Type string   `json:"type"`
		Name string   `json:"name"`
		Key  string   `json:"key"`
		Sub  []button `json:"sub_button"`
	}
	var buttons []button
	if err := json.Unmarshal(fields["button"], &buttons); err != nil || len(buttons) == 0 || len(buttons) > 3 {
		return wxErr(ErrcodeMenuInvalid, "invalid button size")
	}
	leaf := func(b button, maxName int) bool {
		return b.Name != "" && len(b.Name) <= maxName && b.Type == "click" && b.Key != "" && len(b.Key) <= 128
	}
	for _, b := range buttons {
		switch {
		case len(b.Sub) > 5:
			return wxErr(ErrcodeMenuInvalid, "invalid sub_button size")
		case len(b.Sub) > 0:
			if b.Name == "" || len(b.Name) > 16 {
				return wxErr(ErrcodeMenuInvalid, "invalid button name size")
			}
			for _, sb := range b.Sub {
				if !leaf(sb, 40) {
					return wxErr(ErrcodeMenuInvalid, "invalid sub button")
				}
			}
		case !leaf(b, 16):
			return wxErr(ErrcodeMenuInvalid, "invalid button")
		}
	}
	s.menu = append(json.RawMessage(nil), raw...)
	return wxOK(nil)
}
