package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// fakeInbox records messages and answers each through answer (like the dispatcher would,
// but synchronously).
type fakeInbox struct {
	mu     sync.Mutex
	msgs   []chat.Message
	err    error
	answer func(m chat.Message) []chat.Reply
	c      *Console
}

func (f *fakeInbox) Handle(ctx context.Context, m chat.Message) error {
	f.mu.Lock()
	f.msgs = append(f.msgs, m)
	err, answer := f.err, f.answer
	f.mu.Unlock()
	if err != nil {
		return err
	}
	if answer != nil {
		for _, r := range answer(m) {
			if err := f.c.Reply(ctx, m.User, r); err != nil {
				return err
			}
		}
	}
	return nil
}

func (f *fakeInbox) messages() []chat.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]chat.Message(nil), f.msgs...)
}

type fakeAudit struct {
	entries []store.AuditEntry
	err     error
}

func (f fakeAudit) RecentAudit(_ context.Context, n int) ([]store.AuditEntry, error) {
	return f.entries[:min(n, len(f.entries))], f.err
}

var confirmCard = chat.Reply{
	Kind: chat.ReplyConfirm, Severity: chat.SeverityWarning, Title: "确认关机 web (104)？",
	Fields:  []chat.Field{{Label: "节点", Value: "pve2"}},
	Buttons: []chat.Button{{Text: "确认", Key: "confirm:abc", Style: 1}, {Text: "取消", Key: "cancel:abc", Style: 2}},
	Code:    "K7Q2ZP",
}

func newTestConsole(t *testing.T, o Options) (*Console, *fakeInbox) {
	t.Helper()
	o.Logger = zaptest.NewLogger(t)
	if o.Users == nil {
		o.Users = []User{{ID: "admin", Role: "admin"}, {ID: "viewer", Role: "viewer"}}
	}
	c := New(o)
	in := &fakeInbox{c: c}
	c.Attach(in, fakeAudit{})
	return c, in
}

// do sends one request from a local browser on the console's own page.
func do(t *testing.T, c *Console, method, target string, body any, mutate ...func(*http.Request)) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	r := httptest.NewRequest(method, "http://127.0.0.1:8080"+target, rd)
	r.RemoteAddr = "127.0.0.1:51234"
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Origin", "http://127.0.0.1:8080")
	}
	for _, m := range mutate {
		m(r)
	}
	w := httptest.NewRecorder()
	c.ServeHTTP(w, r)
	return w.Code, w.Body.Bytes()
}

func messages(t *testing.T, c *Console, user string, after int64) messagesResponse {
	t.Helper()
	code, body := do(t, c, http.MethodGet, fmt.Sprintf("/api/messages?user=%s&after=%d&wait=0", user, after), nil)
	if code != http.StatusOK {
		t.Fatalf("messages: status %d %s", code, body)
	}
	var resp messagesResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

func TestRefusesNonLocalRequests(t *testing.T) {
	c, _ := newTestConsole(t, Options{})
	cases := []struct {
		name   string
		mutate func(*http.Request)
		want   int
	}{
		{"local page", func(*http.Request) {}, http.StatusOK},
		{"localhost name", func(r *http.Request) { r.Host = "localhost:8080" }, http.StatusOK},
		{"ipv6 loopback", func(r *http.Request) { r.RemoteAddr = "[::1]:4000"; r.Host = "[::1]:8080" }, http.StatusOK},
		{"same origin", func(r *http.Request) { r.Header.Set("Origin", "http://127.0.0.1:8080") }, http.StatusOK},
		{"same-origin fetch", func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-origin") }, http.StatusOK},
		{"remote client", func(r *http.Request) { r.RemoteAddr = "192.168.1.20:4000" }, http.StatusForbidden},
		{"unparsable remote", func(r *http.Request) { r.RemoteAddr = "somewhere" }, http.StatusForbidden},
		{"dns rebinding host", func(r *http.Request) { r.Host = "attacker.example:8080" }, http.StatusForbidden},
		{"lan host name", func(r *http.Request) { r.Host = "192.168.1.5:8080" }, http.StatusForbidden},
		{"cross-site origin", func(r *http.Request) { r.Header.Set("Origin", "http://attacker.example") }, http.StatusForbidden},
		{"origin other port", func(r *http.Request) { r.Header.Set("Origin", "http://127.0.0.1:9999") }, http.StatusForbidden},
		{"null origin", func(r *http.Request) { r.Header.Set("Origin", "null") }, http.StatusForbidden},
		{"cross-site fetch", func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }, http.StatusForbidden},
		{"through a proxy", func(r *http.Request) { r.Header.Set("X-Forwarded-For", "203.0.113.9") }, http.StatusForbidden},
		{"forwarded header", func(r *http.Request) { r.Header.Set("Forwarded", "for=203.0.113.9") }, http.StatusForbidden},
	}
	for _, tc := range cases {
		for _, path := range []string{"/", "/api/config", "/api/audit"} {
			t.Run(tc.name+" "+path, func(t *testing.T) {
				code, body := do(t, c, http.MethodGet, path, nil, tc.mutate)
				if code != tc.want {
					t.Errorf("status = %d, want %d (%s)", code, tc.want, body)
				}
			})
		}
	}
}

// A page on another site may POST to the console (a browser sends it without asking), but
// it names itself in Origin, and it cannot send JSON without a preflight we never allow.
func TestRefusesCrossSitePosts(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*http.Request)
		want   int
	}{
		{"same origin json", func(*http.Request) {}, http.StatusAccepted},
		{"cross-site origin", func(r *http.Request) { r.Header.Set("Origin", "https://attacker.example") }, http.StatusForbidden},
		{"form post", func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, http.StatusUnsupportedMediaType},
		{"text/plain post", func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, http.StatusUnsupportedMediaType},
		{"rebinding host", func(r *http.Request) { r.Host = "attacker.example"; r.Header.Set("Origin", "http://attacker.example") }, http.StatusForbidden},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, in := newTestConsole(t, Options{})
			code, body := do(t, c, http.MethodPost, "/api/send", sendRequest{User: "admin", Text: "vm list"}, tc.mutate)
			if code != tc.want {
				t.Errorf("status = %d, want %d (%s)", code, tc.want, body)
			}
			wantMsgs := 0
			if tc.want == http.StatusAccepted {
				wantMsgs = 1
			}
			if got := len(in.messages()); got != wantMsgs {
				t.Errorf("bot got %d messages, want %d", got, wantMsgs)
			}
		})
	}
}

func TestSecurityHeadersAndStatic(t *testing.T) {
	c, _ := newTestConsole(t, Options{})
	for _, path := range []string{"/", "/app.js", "/app.css"} {
		t.Run(path, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080"+path, nil)
			r.RemoteAddr = "127.0.0.1:5000"
			w := httptest.NewRecorder()
			c.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d, want 200", w.Code)
			}
			if got := w.Header().Get("Content-Security-Policy"); !strings.Contains(got, "script-src 'self'") || strings.Contains(got, "unsafe") {
				t.Errorf("CSP = %q, want scripts from the page's own files only", got)
			}
			if got := w.Header().Get("X-Frame-Options"); got != "DENY" {
				t.Errorf("X-Frame-Options = %q, want DENY", got)
			}
		})
	}
	// Text reaches the page only through textContent: no markup sinks at all.
	js, err := web.ReadFile("web/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
		if bytes.Contains(js, []byte(sink)) {
			t.Errorf("app.js uses %s; build elements with textContent instead", sink)
		}
	}
	html, _ := web.ReadFile("web/index.html")
	for _, ext := range []string{"http://", "https://", "//cdn"} {
		if bytes.Contains(html, []byte(ext)) {
			t.Errorf("index.html refers to %s: the page must be self-contained", ext)
		}
	}
	if code, _ := do(t, c, http.MethodGet, "/nope", nil); code != http.StatusNotFound {
		t.Errorf("unknown path: status %d, want 404", code)
	}
	if code, _ := do(t, c, http.MethodPost, "/api/audit", struct{}{}); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /api/audit: status %d, want 405", code)
	}
}

func TestConfigListsUsers(t *testing.T) {
	c, _ := newTestConsole(t, Options{Language: "EN", Banner: "demo"})
	code, body := do(t, c, http.MethodGet, "/api/config", nil)
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	var got configResponse
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Language != "en" || got.Banner != "demo" || got.Visitor != Visitor || len(got.Users) != 2 || got.Users[1] != (User{ID: "viewer", Role: "viewer"}) {
		t.Errorf("config = %+v, want en, the banner, both users and the visitor", got)
	}
}

// A config reload changes who the page offers.
func TestSetUsersFollowsReload(t *testing.T) {
	c, _ := newTestConsole(t, Options{})
	c.SetUsers([]User{{ID: "lisi", Role: "operator"}})
	_, body := do(t, c, http.MethodGet, "/api/config", nil)
	var got configResponse
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Users) != 1 || got.Users[0] != (User{ID: "lisi", Role: "operator"}) {
		t.Errorf("users after SetUsers = %+v, want only lisi", got.Users)
	}
}

func TestSendDeliversTextAndShowsReplies(t *testing.T) {
	c, in := newTestConsole(t, Options{})
	in.answer = func(m chat.Message) []chat.Reply {
		return []chat.Reply{{Kind: chat.ReplyList, Title: "虚拟机列表", Lines: []string{"🟢 101 " + m.Text}}}
	}
	for range 2 {
		if code, body := do(t, c, http.MethodPost, "/api/send", sendRequest{User: "admin", Text: "  vm list "}); code != http.StatusAccepted {
			t.Fatalf("send: status %d %s", code, body)
		}
	}
	msgs := in.messages()
	if len(msgs) != 2 {
		t.Fatalf("bot got %d messages, want 2", len(msgs))
	}
	for _, m := range msgs {
		if m.Kind != chat.KindText || m.User != "admin" || m.Text != "vm list" || !strings.HasPrefix(m.ID, IDPrefix) || len(m.ID) <= len(IDPrefix) || m.Time.IsZero() {
			t.Errorf("message = %+v, want a text 'vm list' from admin with a %q id and a time", m, IDPrefix)
		}
		if m.Source != Source {
			t.Errorf("message source = %q, want %q (its replies must come back to the console)", m.Source, Source)
		}
	}
	if msgs[0].ID == msgs[1].ID {
		t.Errorf("both sends have id %q, want fresh ids (the inbox drops duplicates)", msgs[0].ID)
	}

	resp := messages(t, c, "admin", 0)
	if len(resp.Entries) != 4 {
		t.Fatalf("got %d entries, want 4 (two typed, two replies)", len(resp.Entries))
	}
	if e := resp.Entries[0]; e.From != "user" || e.Text != "vm list" {
		t.Errorf("entry 0 = %+v, want the typed text", e)
	}
	if e := resp.Entries[1]; e.From != "bot" || e.Card == nil || e.Card.Form != "list" || e.Card.Lines[0] != "🟢 101 vm list" {
		t.Errorf("entry 1 = %+v, want the list reply", e)
	}
	if got := messages(t, c, "admin", resp.Ver); len(got.Entries) != 0 {
		t.Errorf("after ver %d: %d entries, want none", resp.Ver, len(got.Entries))
	}
	if got := messages(t, c, "viewer", 0); len(got.Entries) != 0 {
		t.Errorf("viewer sees %d entries of admin's conversation, want none", len(got.Entries))
	}
	// Users are matched case-insensitively, as WeCom and the bot do.
	if got := messages(t, c, "ADMIN", 0); len(got.Entries) != 4 {
		t.Errorf("ADMIN: %d entries, want 4", len(got.Entries))
	}
}

func TestSendRejectsBadInput(t *testing.T) {
	cases := []struct {
		name string
		body any
		want int
	}{
		{"empty text", sendRequest{User: "admin", Text: "  "}, http.StatusBadRequest},
		{"long text", sendRequest{User: "admin", Text: strings.Repeat("x", maxTextBytes+1)}, http.StatusBadRequest},
		{"no user", sendRequest{Text: "help"}, http.StatusBadRequest},
		{"markup user", sendRequest{User: "<b>x</b>", Text: "help"}, http.StatusBadRequest},
		{"unknown field", map[string]string{"user": "admin", "text": "help", "as": "root"}, http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, in := newTestConsole(t, Options{})
			if code, body := do(t, c, http.MethodPost, "/api/send", tc.body); code != tc.want {
				t.Errorf("status = %d, want %d (%s)", code, tc.want, body)
			}
			if n := len(in.messages()); n != 0 {
				t.Errorf("bot got %d messages, want none", n)
			}
		})
	}
}

func TestSendWhenTheBotIsBusy(t *testing.T) {
	c, in := newTestConsole(t, Options{})
	in.err = errors.New("inbox: queue full")
	if code, _ := do(t, c, http.MethodPost, "/api/send", sendRequest{User: "admin", Text: "help"}); code != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503", code)
	}
	got := messages(t, c, "admin", 0).Entries
	if len(got) != 1 || got[0].Error == "" {
		t.Errorf("entries = %+v, want the typed text marked as not taken", got)
	}
}

// The clicked card changes the way WeCom's update_template_card changes it.
func TestClickUpdatesTheCard(t *testing.T) {
	cases := []struct {
		name       string
		answer     chat.Reply
		wantDone   string
		wantTitle  string
		wantNew    bool // the answer arrives as a new message
		wantButton bool // the card still has live buttons
	}{
		{"short text greys the buttons", chat.Reply{Kind: chat.ReplyText, Title: "已取消关机 web (104)"}, "已取消关机 web (104)", "确认关机 web (104)？", false, false},
		{"result card replaces it", chat.Reply{Kind: chat.ReplyCard, Severity: chat.SeverityOK, Title: "✅ web (104) 已关机"}, "", "✅ web (104) 已关机", false, false},
		{"long text replaces it", chat.Reply{Kind: chat.ReplyText, Title: "出错了", Lines: []string{"PVE 没有回应"}}, "", "出错了", false, false},
		{"a list comes as a new message", chat.Reply{Kind: chat.ReplyList, Title: "虚拟机列表"}, "", "确认关机 web (104)？", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, in := newTestConsole(t, Options{})
			in.answer = func(m chat.Message) []chat.Reply {
				if m.Kind == chat.KindText {
					return []chat.Reply{confirmCard}
				}
				r := tc.answer
				r.UpdateCode = m.ResponseCode
				return []chat.Reply{r}
			}
			do(t, c, http.MethodPost, "/api/send", sendRequest{User: "admin", Text: "关机 104"})
			card := messages(t, c, "admin", 0).Entries[1]
			code, body := do(t, c, http.MethodPost, "/api/click", clickRequest{User: "admin", Key: "confirm:abc", Card: card.ID})
			if code != http.StatusAccepted {
				t.Fatalf("click: status %d %s", code, body)
			}
			m := in.messages()[1]
			if m.Kind != chat.KindCardClick || m.EventKey != "confirm:abc" || m.ResponseCode == "" || m.ID != IDPrefix+"rc:"+m.ResponseCode || m.Source != Source {
				t.Errorf("click message = %+v, want a card click from the console with a fresh response code in its id", m)
			}
			entries := messages(t, c, "admin", card.Ver).Entries
			var got *Entry
			for i := range entries {
				if entries[i].ID == card.ID {
					got = &entries[i]
				}
			}
			if got == nil {
				t.Fatalf("the clicked card did not change (entries %+v)", entries)
			}
			if got.Card.Pending {
				t.Error("card still pending after the answer")
			}
			if got.Card.Done != tc.wantDone {
				t.Errorf("done = %q, want %q", got.Card.Done, tc.wantDone)
			}
			if got.Card.Title != tc.wantTitle {
				t.Errorf("title = %q, want %q", got.Card.Title, tc.wantTitle)
			}
			if live := len(got.Card.Buttons) > 0 && got.Card.Done == ""; live != tc.wantButton {
				t.Errorf("live buttons = %v, want %v", live, tc.wantButton)
			}
			if gotNew := len(messages(t, c, "admin", 0).Entries) == 3; gotNew != tc.wantNew {
				t.Errorf("new message = %v, want %v", gotNew, tc.wantNew)
			}
		})
	}
}

func TestClickRefusals(t *testing.T) {
	c, in := newTestConsole(t, Options{})
	in.answer = func(m chat.Message) []chat.Reply {
		if m.Kind == chat.KindText {
			return []chat.Reply{confirmCard}
		}
		return []chat.Reply{{Kind: chat.ReplyText, Title: "已取消", UpdateCode: m.ResponseCode}}
	}
	do(t, c, http.MethodPost, "/api/send", sendRequest{User: "admin", Text: "关机 104"})
	card := messages(t, c, "admin", 0).Entries[1].ID

	cases := []struct {
		name string
		req  clickRequest
		want int
	}{
		{"no such button", clickRequest{User: "admin", Key: "confirm:other", Card: card}, http.StatusBadRequest},
		{"another user's card", clickRequest{User: "viewer", Key: "confirm:abc", Card: card}, http.StatusNotFound},
		{"no such card", clickRequest{User: "admin", Key: "confirm:abc", Card: 999}, http.StatusNotFound},
		{"empty key", clickRequest{User: "admin", Card: card}, http.StatusBadRequest},
		{"first click", clickRequest{User: "admin", Key: "cancel:abc", Card: card}, http.StatusAccepted},
		{"second click", clickRequest{User: "admin", Key: "confirm:abc", Card: card}, http.StatusConflict},
		{"key without a card", clickRequest{User: "admin", Key: "vm list"}, http.StatusAccepted},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if code, body := do(t, c, http.MethodPost, "/api/click", tc.req); code != tc.want {
				t.Errorf("status = %d, want %d (%s)", code, tc.want, body)
			}
		})
	}
	if n := len(in.messages()); n != 3 {
		t.Errorf("bot got %d messages, want 3 (the text and the two accepted clicks)", n)
	}
}

// A reply with a response code the console never gave out (or already spent) is a new message.
func TestUnknownUpdateCodeIsANewMessage(t *testing.T) {
	c, _ := newTestConsole(t, Options{})
	if err := c.Reply(context.Background(), "admin", chat.Reply{Kind: chat.ReplyText, Title: "done", UpdateCode: "nope"}); err != nil {
		t.Fatal(err)
	}
	if got := messages(t, c, "admin", 0).Entries; len(got) != 1 || got[0].Card.Title != "done" {
		t.Errorf("entries = %+v, want one new message", got)
	}
}

func TestLongPollWakesOnReply(t *testing.T) {
	c, _ := newTestConsole(t, Options{MaxWait: time.Minute})
	done := make(chan messagesResponse, 1)
	go func() {
		r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/api/messages?user=admin&after=0", nil)
		r.RemoteAddr = "127.0.0.1:5000"
		w := httptest.NewRecorder()
		c.ServeHTTP(w, r)
		var resp messagesResponse
		_ = json.Unmarshal(w.Body.Bytes(), &resp)
		done <- resp
	}()
	if err := c.Reply(context.Background(), "viewer", chat.Reply{Kind: chat.ReplyText, Title: "not for admin"}); err != nil {
		t.Fatal(err)
	}
	if err := c.Reply(context.Background(), "admin", chat.Reply{Kind: chat.ReplyText, Title: "hello"}); err != nil {
		t.Fatal(err)
	}
	resp := <-done
	if len(resp.Entries) != 1 || resp.Entries[0].Card.Title != "hello" {
		t.Errorf("long poll answered %+v, want admin's reply", resp)
	}
}

func TestLongPollEndsWithTheRequest(t *testing.T) {
	c, _ := newTestConsole(t, Options{MaxWait: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/api/messages?user=admin", nil).WithContext(ctx)
	r.RemoteAddr = "127.0.0.1:5000"
	cancel()
	c.ServeHTTP(httptest.NewRecorder(), r) // returns instead of waiting an hour
}

func TestConversationsAreBounded(t *testing.T) {
	c, _ := newTestConsole(t, Options{MaxEntries: 3})
	for i := range 5 {
		if err := c.Reply(context.Background(), "admin", chat.Reply{Kind: chat.ReplyText, Title: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for _, e := range c.Entries("admin", 0) {
		got = append(got, e.Card.Title)
	}
	if strings.Join(got, ",") != "2,3,4" {
		t.Errorf("kept %v, want the newest three", got)
	}
	// Unknown users get a conversation too (to try the visitor), but only a few of them.
	var err error
	for i := 0; i <= maxExtraThreads && err == nil; i++ {
		err = c.Reply(context.Background(), fmt.Sprintf("stranger%d", i), chat.Reply{Title: "x"})
	}
	if !errors.Is(err, errTooManyUsers) {
		t.Errorf("reply to user %d unknown users: err = %v, want errTooManyUsers", maxExtraThreads+1, err)
	}
	if err := c.Reply(context.Background(), "viewer", chat.Reply{Title: "x"}); err != nil {
		t.Errorf("configured user after the limit: %v", err)
	}
}

func TestAuditAPI(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	entries := []store.AuditEntry{
		{Time: at, User: "admin", Command: "shutdown web (104)", Decision: "allowed", Cluster: "home", VMID: 104, Result: "OK", Duration: 2500 * time.Millisecond},
		{Time: at, User: "viewer", Command: "关机 104", Decision: "refused", Reason: "role"},
	}
	c, in := newTestConsole(t, Options{})
	c.Attach(in, fakeAudit{entries: entries})
	code, body := do(t, c, http.MethodGet, "/api/audit?n=1", nil)
	if code != http.StatusOK {
		t.Fatalf("status %d", code)
	}
	var got []auditEntry
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := auditEntry{Time: at, User: "admin", Command: "shutdown web (104)", Decision: "allowed", Cluster: "home", VMID: 104, Result: "OK", DurationMS: 2500}
	if len(got) != 1 || got[0] != want {
		t.Errorf("audit = %+v, want [%+v]", got, want)
	}
	// A user's own cancel is shown as cancelled, not refused.
	c.Attach(in, fakeAudit{entries: []store.AuditEntry{{Time: at, User: "admin", Command: "shutdown web (104)", Decision: "refused", Reason: store.ReasonCancelled}}})
	_, body = do(t, c, http.MethodGet, "/api/audit", nil)
	if err := json.Unmarshal(body, &got); err != nil || len(got) != 1 || got[0].Decision != "cancelled" {
		t.Errorf("cancel = %+v (%v), want decision cancelled", got, err)
	}
	for _, q := range []string{"n=0", "n=x"} {
		if code, _ := do(t, c, http.MethodGet, "/api/audit?"+q, nil); code != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400", q, code)
		}
	}
	c.Attach(in, fakeAudit{err: errors.New("store: disk on fire")})
	code, body = do(t, c, http.MethodGet, "/api/audit", nil)
	if code != http.StatusInternalServerError || strings.Contains(string(body), "fire") {
		t.Errorf("failing store: %d %s, want 500 without the cause", code, body)
	}
}

// A reply with command buttons (a typo's suggestion, a status card's actions) is a card
// with those buttons, as WeCom shows it.
func TestCommandButtonsMakeACard(t *testing.T) {
	card := cardOf(chat.Reply{Kind: chat.ReplyText, Title: "不认识“vm strat”", Buttons: []chat.Button{{Text: "启动 101", Key: "run:启动 101", Style: 1}}})
	if card.Form != "card" || len(card.Buttons) != 1 || card.Buttons[0].Key != "run:启动 101" {
		t.Errorf("card = %+v, want a card with the run button", card)
	}
}

// The page gets markdown only where WeCom renders it (list replies); cards and text lose
// the bold markers as the WeCom renderer drops them. Links reach it only as http(s).
func TestCardOfMarkdownAndLinks(t *testing.T) {
	lines := []string{"**节点**", "🟢 pve1"}
	list := cardOf(chat.Reply{Kind: chat.ReplyList, Title: "概览", Lines: lines})
	if list.Lines[0] != "**节点**" {
		t.Errorf("list line = %q, want the markdown kept for the page to render", list.Lines[0])
	}
	for _, kind := range []chat.ReplyKind{chat.ReplyText, chat.ReplyCard} {
		c := cardOf(chat.Reply{Kind: kind, Title: "**t**", Lines: lines, Footer: "**f**", Fields: []chat.Field{{Label: "**k**", Value: "**v**"}}})
		for _, s := range append([]string{c.Title, c.Footer, c.Fields[0].Label, c.Fields[0].Value}, c.Lines...) {
			if strings.Contains(s, "**") {
				t.Errorf("%s reply shows %q, want no ** (WeCom shows them raw there)", kind, s)
			}
		}
	}
	const u = "https://pve.example.lan:8006/#v1:0:=qemu%2F104:4:::::::"
	if c := cardOf(chat.Reply{Kind: chat.ReplyCard, Title: "t", Link: chat.Link{Text: "在 PVE 中打开", URL: u}}); c.Link == nil || c.Link.URL != u || c.Link.Text != "在 PVE 中打开" {
		t.Errorf("link = %+v, want it passed to the page", c.Link)
	}
	for _, bad := range []string{"javascript:alert(1)", "data:text/html,x", "pve.lan"} {
		if c := cardOf(chat.Reply{Kind: chat.ReplyCard, Title: "t", Link: chat.Link{Text: "x", URL: bad}}); c.Link != nil {
			t.Errorf("link %q reached the page", bad)
		}
	}
}
