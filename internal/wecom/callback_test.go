package wecom_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

// testNow is the handler's clock in these tests.
var testNow = time.Unix(1_700_000_000, 0)

// plainMarker is message content that must never show up in a response body or a log line.
const plainMarker = "plaintext-marker-7f3a"

// recInbox records what the callback hands over and answers err.
type recInbox struct {
	mu  sync.Mutex
	got []chat.Message
	err error
}

func (r *recInbox) Accept(_ context.Context, m chat.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, m)
	return r.err
}

func (r *recInbox) messages() []chat.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]chat.Message(nil), r.got...)
}

func newTestCallback(t testing.TB, skew time.Duration, inbox wecom.Inbox, log *zap.Logger) http.Handler {
	t.Helper()
	h, err := wecom.NewCallback(wecom.CallbackConfig{
		Token: testToken, EncodingAESKey: testAESKey, CorpID: testCorpID, AgentID: testAgent,
		MaxClockSkew: skew, Now: func() time.Time { return testNow },
	}, inbox, log)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// testSender is WeCom for the test app, with its clock offset from testNow.
func testSender(offset time.Duration) *wecomtest.Sender {
	return &wecomtest.Sender{
		Token: testToken, EncodingAESKey: testAESKey, CorpID: testCorpID, AgentID: testAgent,
		Now: func() time.Time { return testNow.Add(offset) },
	}
}

func postReq(q url.Values, body []byte) *http.Request {
	return httptest.NewRequest(http.MethodPost, "/wecom/callback?"+q.Encode(), bytes.NewReader(body))
}

func getReq(q url.Values) *http.Request {
	return httptest.NewRequest(http.MethodGet, "/wecom/callback?"+q.Encode(), nil)
}

func without(q url.Values, key string) url.Values {
	q.Del(key)
	return q
}

// encryptFor encrypts msg for corp with the test token and key.
func encryptFor(t testing.TB, corp string, msg []byte) string {
	t.Helper()
	c, err := wecom.NewCrypto(testToken, testAESKey, corp)
	if err != nil {
		t.Fatal(err)
	}
	enc, _, err := c.Encrypt(msg, "0", "0")
	if err != nil {
		t.Fatal(err)
	}
	return enc
}

func textMsg(id string) *chat.Message {
	return &chat.Message{ID: id, User: "zhangsan", Kind: chat.KindText, Text: plainMarker, Time: testNow}
}

func assertMessage(t *testing.T, got, want chat.Message) {
	t.Helper()
	gt, wt := got.Time, want.Time
	got.Time, want.Time = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("accepted %+v, want %+v", got, want)
	}
	if !gt.Equal(wt) {
		t.Errorf("accepted Time %v, want %v", gt, wt)
	}
}

func TestCallback(t *testing.T) {
	const echo = "8842193475021"
	s := testSender(0)
	text := s.TextXML("zhangsan", plainMarker, "CAIQg/PKxgYY==")
	other := func(f func(*wecomtest.Sender)) *wecomtest.Sender {
		c := *s
		f(&c)
		return &c
	}
	skewed := func(d time.Duration) *wecomtest.Sender {
		return other(func(c *wecomtest.Sender) { c.Now = func() time.Time { return testNow.Add(d) } })
	}
	agent999 := other(func(c *wecomtest.Sender) { c.AgentID = 999 })
	ts := fmt.Sprint(testNow.Unix())

	tests := []struct {
		name       string
		skewOff    bool
		inboxErr   error
		req        func(t *testing.T) *http.Request
		wantStatus int
		wantMsg    *chat.Message // what Accept was called with; nil: not called
		wantBody   string        // for 200; others must be the generic status text
	}{
		{
			name:       "good text",
			req:        func(*testing.T) *http.Request { return postReq(s.Build(text)) },
			wantStatus: 200, wantMsg: textMsg("CAIQg/PKxgYY=="),
		},
		{
			name: "wrong signature",
			req: func(*testing.T) *http.Request {
				q, b := s.Build(text)
				q.Set("msg_signature", strings.Repeat("0", 40))
				return postReq(q, b)
			},
			wantStatus: 403,
		},
		{
			name: "signature of another body",
			req: func(*testing.T) *http.Request {
				q, _ := s.Build(text)
				_, b := s.Build(s.TextXML("zhangsan", plainMarker, "2"))
				return postReq(q, b)
			},
			wantStatus: 403,
		},
		{
			name: "missing msg_signature",
			req: func(*testing.T) *http.Request {
				q, b := s.Build(text)
				return postReq(without(q, "msg_signature"), b)
			},
			wantStatus: 403,
		},
		{
			name: "missing timestamp",
			req: func(*testing.T) *http.Request {
				q, b := s.Build(text)
				return postReq(without(q, "timestamp"), b)
			},
			wantStatus: 403,
		},
		{
			name: "missing nonce",
			req: func(*testing.T) *http.Request {
				q, b := s.Build(text)
				return postReq(without(q, "nonce"), b)
			},
			wantStatus: 403,
		},
		{
			name:       "stale timestamp, past",
			req:        func(*testing.T) *http.Request { return postReq(skewed(-11 * time.Minute).Build(text)) },
			wantStatus: 403,
		},
		{
			name:       "stale timestamp, future",
			req:        func(*testing.T) *http.Request { return postReq(skewed(11 * time.Minute).Build(text)) },
			wantStatus: 403,
		},
		{
			name:       "timestamp within skew, past",
			req:        func(*testing.T) *http.Request { return postReq(skewed(-9 * time.Minute).Build(text)) },
			wantStatus: 200, wantMsg: textMsg("CAIQg/PKxgYY=="),
		},
		{
			name:       "timestamp within skew, future",
			req:        func(*testing.T) *http.Request { return postReq(skewed(9 * time.Minute).Build(text)) },
			wantStatus: 200, wantMsg: textMsg("CAIQg/PKxgYY=="),
		},
		{
			name:       "skew 0 is off",
			skewOff:    true,
			req:        func(*testing.T) *http.Request { return postReq(skewed(-365 * 24 * time.Hour).Build(text)) },
			wantStatus: 200, wantMsg: textMsg("CAIQg/PKxgYY=="),
		},
		{
			name: "timestamp not a number",
			req: func(t *testing.T) *http.Request {
				return postReq(s.Envelope(encryptFor(t, testCorpID, text), "soon", "1"))
			},
			wantStatus: 403,
		},
		{
			name: "malformed envelope xml",
			req: func(*testing.T) *http.Request {
				q, _ := s.Envelope("abc", ts, "1")
				return postReq(q, []byte("<xml><Encrypt>abc"))
			},
			wantStatus: 400,
		},
		{
			name: "envelope not xml",
			req: func(*testing.T) *http.Request {
				q, _ := s.Envelope("abc", ts, "1")
				return postReq(q, []byte(`{"Encrypt":"abc"}`))
			},
			wantStatus: 400,
		},
		{
			name: "envelope root not <xml>",
			req: func(*testing.T) *http.Request {
				q, _ := s.Envelope("abc", ts, "1")
				return postReq(q, []byte("<root><Encrypt>abc</Encrypt></root>"))
			},
			wantStatus: 400,
		},
		{
			name:       "envelope without Encrypt",
			req:        func(*testing.T) *http.Request { return postReq(s.Envelope("", ts, "1")) },
			wantStatus: 400,
		},
		{
			name:       "bad base64",
			req:        func(*testing.T) *http.Request { return postReq(s.Envelope("%%not*base64%%", ts, "1")) },
			wantStatus: 403,
		},
		{
			name: "valid base64, not a ciphertext",
			req: func(*testing.T) *http.Request {
				return postReq(s.Envelope("aGVsbG8gd29ybGQ=", ts, "1"))
			},
			wantStatus: 403,
		},
		{
			name:       "malformed message xml",
			req:        func(*testing.T) *http.Request { return postReq(s.Build([]byte("<xml><FromUserName>zhangsan</Fr"))) },
			wantStatus: 403,
		},
		{
			name: "wrong corp id",
			req: func(*testing.T) *http.Request {
				return postReq(other(func(c *wecomtest.Sender) { c.CorpID = "wwOTHERCORP0000000" }).Build(text))
			},
			wantStatus: 403,
		},
		{
			name: "wrong AgentID, both",
			req: func(*testing.T) *http.Request {
				return postReq(agent999.Build(agent999.TextXML("zhangsan", plainMarker, "1")))
			},
			wantStatus: 403,
		},
		{
			name:       "wrong AgentID, envelope only",
			req:        func(*testing.T) *http.Request { return postReq(agent999.Build(text)) },
			wantStatus: 403,
		},
		{
			name: "wrong AgentID, message only",
			req: func(*testing.T) *http.Request {
				return postReq(s.Build(agent999.TextXML("zhangsan", plainMarker, "1")))
			},
			wantStatus: 403,
		},
		{
			name: "no AgentID anywhere",
			req: func(*testing.T) *http.Request {
				plain := bytes.Replace(text, []byte("<AgentID>1000002</AgentID>"), nil, 1)
				q, b := s.Build(plain)
				b = bytes.Replace(b, []byte("<AgentID><![CDATA[1000002]]></AgentID>"), nil, 1)
				return postReq(q, b)
			},
			wantStatus: 200, wantMsg: textMsg("CAIQg/PKxgYY=="),
		},
		{
			name: "empty AgentID",
			req: func(*testing.T) *http.Request {
				plain := bytes.Replace(text, []byte("<AgentID>1000002</AgentID>"), []byte("<AgentID></AgentID>"), 1)
				q, b := s.Build(plain)
				b = bytes.Replace(b, []byte("<![CDATA[1000002]]>"), []byte("<![CDATA[]]>"), 1)
				return postReq(q, b)
			},
			wantStatus: 200, wantMsg: textMsg("CAIQg/PKxgYY=="),
		},
		{
			name: "body over the limit",
			req: func(*testing.T) *http.Request {
				q, _ := s.Build(text)
				body := "<xml><Encrypt>" + strings.Repeat("A", wecom.DefaultMaxCallbackBody) + "</Encrypt></xml>"
				return postReq(q, []byte(body))
			},
			wantStatus: 413,
		},
		{
			name: "large message under 64 KiB",
			req: func(*testing.T) *http.Request {
				return postReq(s.Build(s.TextXML("zhangsan", strings.Repeat("x", 40<<10), "big")))
			},
			wantStatus: 200,
			wantMsg:    &chat.Message{ID: "big", User: "zhangsan", Kind: chat.KindText, Text: strings.Repeat("x", 40<<10), Time: testNow},
		},
		{
			name: "signed message over 64 KiB",
			req: func(*testing.T) *http.Request {
				return postReq(s.Build(s.TextXML("zhangsan", strings.Repeat("x", 50<<10), "big")))
			},
			wantStatus: 413,
		},
		{
			name: "signed envelope of many elements",
			req: func(t *testing.T) *http.Request {
				q, b := s.Build(text)
				b = bytes.Replace(b, []byte("<xml>"), []byte("<xml>"+strings.Repeat("<a/>", 50)), 1)
				return postReq(q, b)
			},
			wantStatus: 400,
		},
		{
			name:       "image message ignored",
			req:        func(*testing.T) *http.Request { return postReq(s.Build(readCallbackFile(t, "image.xml"))) },
			wantStatus: 200,
		},
		{
			name:       "view event ignored",
			req:        func(*testing.T) *http.Request { return postReq(s.Build(readCallbackFile(t, "view_event.xml"))) },
			wantStatus: 200,
		},
		{
			name:       "message without sender ignored",
			req:        func(*testing.T) *http.Request { return postReq(s.Build(s.TextXML("", plainMarker, "1"))) },
			wantStatus: 200,
		},
		{
			name:       "inbox failure",
			inboxErr:   errors.New("store: disk full"),
			req:        func(*testing.T) *http.Request { return postReq(s.Build(text)) },
			wantStatus: 500, wantMsg: textMsg("CAIQg/PKxgYY=="),
		},
		{
			name: "method not allowed",
			req: func(*testing.T) *http.Request {
				q, b := s.Build(text)
				return httptest.NewRequest(http.MethodPut, "/wecom/callback?"+q.Encode(), bytes.NewReader(b))
			},
			wantStatus: 405,
		},
		{
			name: "GET good",
			req: func(t *testing.T) *http.Request {
				return getReq(s.VerifyQuery(encryptFor(t, testCorpID, []byte(echo)), ts, "77"))
			},
			wantStatus: 200, wantBody: echo,
		},
		{
			name: "GET with an unencoded '+'",
			req: func(t *testing.T) *http.Request {
				var enc string
				for !strings.Contains(enc, "+") {
					enc = encryptFor(t, testCorpID, []byte(echo+echo+echo))
				}
				q := s.VerifyQuery(enc, ts, "77")
				raw := strings.ReplaceAll(q.Encode(), "%2B", "+")
				return httptest.NewRequest(http.MethodGet, "/wecom/callback?"+raw, nil)
			},
			wantStatus: 200, wantBody: echo + echo + echo,
		},
		{
			name: "GET wrong signature",
			req: func(t *testing.T) *http.Request {
				q := s.VerifyQuery(encryptFor(t, testCorpID, []byte(echo)), ts, "77")
				q.Set("msg_signature", flip(q.Get("msg_signature")))
				return getReq(q)
			},
			wantStatus: 403,
		},
		{
			name: "GET missing msg_signature",
			req: func(t *testing.T) *http.Request {
				return getReq(without(s.VerifyQuery(encryptFor(t, testCorpID, []byte(echo)), ts, "77"), "msg_signature"))
			},
			wantStatus: 403,
		},
		{
			name:       "GET missing echostr",
			req:        func(t *testing.T) *http.Request { return getReq(without(s.VerifyQuery("", ts, "77"), "echostr")) },
			wantStatus: 400,
		},
		{
			name: "GET stale",
			req: func(t *testing.T) *http.Request {
				return getReq(s.VerifyQuery(encryptFor(t, testCorpID, []byte(echo)), fmt.Sprint(testNow.Add(-time.Hour).Unix()), "77"))
			},
			wantStatus: 403,
		},
		{
			name: "GET wrong corp id",
			req: func(t *testing.T) *http.Request {
				return getReq(s.VerifyQuery(encryptFor(t, "wwOTHERCORP0000000", []byte(echo)), ts, "77"))
			},
			wantStatus: 403,
		},
		{
			name:       "GET bad base64",
			req:        func(t *testing.T) *http.Request { return getReq(s.VerifyQuery("not*base64!", ts, "77")) },
			wantStatus: 403,
		},
	}

	core, logs := observer.New(zapcore.DebugLevel)
	var forbidden []string // signature inputs seen, checked against the logs at the end
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inbox := &recInbox{err: tt.inboxErr}
			skew := 10 * time.Minute
			if tt.skewOff {
				skew = 0
			}
			h := newTestCallback(t, skew, inbox, zap.New(core))
			req := tt.req(t)
			if v := req.URL.Query(); v.Get("msg_signature") != "" {
				forbidden = append(forbidden, v.Get("msg_signature"), v.Get("echostr"))
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			if got, want := rec.Code, tt.wantStatus; got != want {
				t.Errorf("status = %d, want %d", got, want)
			}
			body := rec.Body.String()
			wantBody := tt.wantBody
			if tt.wantStatus != http.StatusOK {
				wantBody = strings.ToLower(http.StatusText(tt.wantStatus))
			}
			if body != wantBody {
				t.Errorf("body = %.80q, want %q", body, wantBody)
			}
			for _, secret := range []string{testToken, testAESKey, plainMarker} {
				if strings.Contains(body, secret) {
					t.Errorf("body contains %q", secret)
				}
			}
			got := inbox.messages()
			switch {
			case tt.wantMsg == nil && len(got) != 0:
				t.Errorf("accepted %d messages, want none: %+v", len(got), got)
			case tt.wantMsg != nil && len(got) != 1:
				t.Errorf("accepted %d messages, want 1", len(got))
			case tt.wantMsg != nil:
				assertMessage(t, got[0], *tt.wantMsg)
			}
		})
	}

	t.Run("logs", func(t *testing.T) {
		forbidden = append(forbidden, testToken, testAESKey, plainMarker)
		var clockWarnings int
		for _, e := range logs.All() {
			line := e.Message + fmt.Sprint(e.ContextMap())
			for _, f := range forbidden {
				if f != "" && strings.Contains(line, f) {
					t.Errorf("log line %q contains %.20q", line, f)
				}
			}
			if strings.Contains(e.Message, "check this machine's clock") {
				clockWarnings++
			}
		}
		// stale past, stale future, GET stale.
		if got, want := clockWarnings, 3; got != want {
			t.Errorf("clock warnings = %d, want %d", got, want)
		}
	})
}

func readCallbackFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "callback", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCallbackOfficialVectors replays the official requests byte for byte.
func TestCallbackOfficialVectors(t *testing.T) {
	line, err := os.ReadFile(filepath.Join("testdata", "vectors", "official-get-request.txt"))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(line))
	if len(fields) != 3 || fields[0] != "GET" {
		t.Fatalf("official-get-request.txt: unexpected line %q", line)
	}
	for _, v := range loadVectors(t) {
		t.Run(v.ID, func(t *testing.T) {
			inbox := &recInbox{}
			unix, err := strconv.ParseInt(v.Timestamp, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Unix(unix, 0).Add(2 * time.Second)
			h, err := wecom.NewCallback(wecom.CallbackConfig{
				Token: v.Token, EncodingAESKey: v.EncodingAESKey, CorpID: v.CorpID, AgentID: 218,
				MaxClockSkew: time.Minute, Now: func() time.Time { return now },
			}, inbox, zap.NewNop())
			if err != nil {
				t.Fatal(err)
			}
			var req *http.Request
			switch v.Kind {
			case "get":
				req = httptest.NewRequest(http.MethodGet, fields[1], nil)
				if got := req.URL.Query().Get("echostr"); got != v.Echostr {
					t.Fatalf("request line echostr = %q, want the vector's %q", got, v.Echostr)
				}
			case "post":
				q := url.Values{"msg_signature": {v.MsgSignature}, "timestamp": {v.Timestamp}, "nonce": {v.Nonce}}
				req = postReq(q, []byte(v.PostBody))
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if got, want := rec.Code, 200; got != want {
				t.Fatalf("status = %d, want %d (body %q)", got, want, rec.Body)
			}
			switch v.Kind {
			case "get":
				if got, want := rec.Body.String(), v.ExpectedMsg; got != want {
					t.Errorf("body = %q, want %q", got, want)
				}
			case "post":
				got := inbox.messages()
				if len(got) != 1 {
					t.Fatalf("accepted %d messages, want 1", len(got))
				}
				assertMessage(t, got[0], chat.Message{
					ID: "4561255354251345929", User: "mycreate", Kind: chat.KindText, Text: "hello",
					Time: time.Unix(1409659813, 0),
				})
				if rec.Body.Len() != 0 {
					t.Errorf("body = %q, want empty", rec.Body)
				}
			}
		})
	}
}

// TestCallbackEvents sends every kind the bot acts on over HTTP with the test sender.
func TestCallbackEvents(t *testing.T) {
	inbox := &recInbox{}
	srv := httptest.NewServer(newTestCallback(t, 10*time.Minute, inbox, zap.NewNop()))
	defer srv.Close()
	s := testSender(0)
	s.URL = srv.URL + "/wecom/callback"
	s.Client = srv.Client()
	ctx := context.Background()

	tests := []struct {
		name string
		send func() (*http.Response, error)
		want chat.Message
	}{
		{
			name: "text",
			send: func() (*http.Response, error) {
				return s.TextWithID(ctx, "zhangsan", "启动 homeassistant", "4561255354251345929")
			},
			want: chat.Message{ID: "4561255354251345929", User: "zhangsan", Kind: chat.KindText, Text: "启动 homeassistant"},
		},
		{
			name: "text with a string MsgId",
			send: func() (*http.Response, error) { return s.TextWithID(ctx, "zhangsan", "vm list", "CAIQg/PKxgYY+AE==") },
			want: chat.Message{ID: "CAIQg/PKxgYY+AE==", User: "zhangsan", Kind: chat.KindText, Text: "vm list"},
		},
		{
			name: "text with CDATA end inside",
			send: func() (*http.Response, error) { return s.TextWithID(ctx, "zhangsan", "a]]>b<c>&", "7") },
			want: chat.Message{ID: "7", User: "zhangsan", Kind: chat.KindText, Text: "a]]>b<c>&"},
		},
		{
			name: "menu click",
			send: func() (*http.Response, error) { return s.Click(ctx, "lisi", "vm list") },
			want: chat.Message{ID: "ev:lisi:1700000000:click:vm list", User: "lisi", Kind: chat.KindMenu, EventKey: "vm list"},
		},
		{
			name: "menu click, upper-case event",
			send: func() (*http.Response, error) { return s.Post(ctx, s.EventXML("lisi", "CLICK", "status", "")) },
			want: chat.Message{ID: "ev:lisi:1700000000:click:status", User: "lisi", Kind: chat.KindMenu, EventKey: "status"},
		},
		{
			name: "enter agent",
			send: func() (*http.Response, error) { return s.EnterAgent(ctx, "wangwu") },
			want: chat.Message{ID: "ev:wangwu:1700000000:enter_agent:", User: "wangwu", Kind: chat.KindEnter},
		},
		{
			name: "card click",
			send: func() (*http.Response, error) {
				return s.CardClick(ctx, "zhangsan", "confirm:ab12", "task_ab12", "RC_1")
			},
			want: chat.Message{ID: "rc:RC_1", User: "zhangsan", Kind: chat.KindCardClick, EventKey: "confirm:ab12", TaskID: "task_ab12", ResponseCode: "RC_1"},
		},
		{
			name: "card click with selected items",
			send: func() (*http.Response, error) { return s.Post(ctx, readCallbackFile(t, "template_card_event.xml")) },
			want: chat.Message{ID: "rc:ResponseCode_xyz", User: "zhangsan", Kind: chat.KindCardClick, EventKey: "confirm:ab12", TaskID: "task_ab12", ResponseCode: "ResponseCode_xyz"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(inbox.messages())
			resp, err := tt.send()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || len(b) != 0 {
				t.Fatalf("answer = %d %q, want 200 and an empty body", resp.StatusCode, b)
			}
			got := inbox.messages()[before:]
			if len(got) != 1 {
				t.Fatalf("accepted %d messages, want 1", len(got))
			}
			tt.want.Time = testNow
			assertMessage(t, got[0], tt.want)
		})
	}

	t.Run("retries carry the same ID", func(t *testing.T) {
		before := len(inbox.messages())
		for i := 0; i < 3; i++ {
			resp, err := s.Click(ctx, "lisi", "vm list")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		got := inbox.messages()[before:]
		if len(got) != 3 || got[0].ID != got[1].ID || got[1].ID != got[2].ID {
			t.Errorf("IDs of 3 deliveries = %v, want 3 equal", got)
		}
	})

	t.Run("fresh MsgId per Text", func(t *testing.T) {
		before := len(inbox.messages())
		for i := 0; i < 2; i++ {
			resp, err := s.Text(ctx, "zhangsan", "help")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}
		got := inbox.messages()[before:]
		if len(got) != 2 || got[0].ID == got[1].ID || got[0].ID == "" {
			t.Errorf("IDs = %q, %q; want two different non-empty ones", got[0].ID, got[1].ID)
		}
	})

	t.Run("url verification", func(t *testing.T) {
		echo, status, err := s.Verify(ctx)
		if err != nil || status != 200 || echo == "" {
			t.Errorf("Verify = %q, %d, %v; want the echo, 200, nil", echo, status, err)
		}
	})
}

func TestNewCallbackErrors(t *testing.T) {
	good := wecom.CallbackConfig{Token: testToken, EncodingAESKey: testAESKey, CorpID: testCorpID, AgentID: testAgent}
	tests := []struct {
		name  string
		cfg   func(c *wecom.CallbackConfig)
		inbox wecom.Inbox
	}{
		{"nil inbox", func(*wecom.CallbackConfig) {}, nil},
		{"agent id 0", func(c *wecom.CallbackConfig) { c.AgentID = 0 }, &recInbox{}},
		{"negative skew", func(c *wecom.CallbackConfig) { c.MaxClockSkew = -time.Second }, &recInbox{}},
		{"bad key", func(c *wecom.CallbackConfig) { c.EncodingAESKey = "short" }, &recInbox{}},
		{"no token", func(c *wecom.CallbackConfig) { c.Token = "" }, &recInbox{}},
		{"no corp id", func(c *wecom.CallbackConfig) { c.CorpID = "" }, &recInbox{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := good
			tt.cfg(&cfg)
			if _, err := wecom.NewCallback(cfg, tt.inbox, nil); err == nil {
				t.Error("err = nil, want an error")
			}
		})
	}
	if _, err := wecom.NewCallback(good, &recInbox{}, nil); err != nil {
		t.Errorf("good config: %v", err)
	}
}

func TestWithMaxCallbackBody(t *testing.T) {
	h, err := wecom.NewCallback(wecom.CallbackConfig{
		Token: testToken, EncodingAESKey: testAESKey, CorpID: testCorpID, AgentID: testAgent,
		Now: func() time.Time { return testNow },
	}, &recInbox{}, nil, wecom.WithMaxCallbackBody(100))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, postReq(testSender(0).Build([]byte("<xml/>"))))
	if got, want := rec.Code, 413; got != want {
		t.Errorf("status = %d, want %d", got, want)
	}
}

// FuzzCallback feeds arbitrary plaintexts (encrypted and signed correctly, so that they
// reach the parser) and arbitrary raw bodies (signed over whatever Encrypt they hold) to
// the handler. It must never panic nor answer anything but the documented statuses.
func FuzzCallback(f *testing.F) {
	s := testSender(0)
	for _, name := range []string{"text.xml", "click.xml", "enter_agent.xml", "template_card_event.xml", "image.xml", "view_event.xml"} {
		plain := readCallbackFile(f, name)
		_, body := s.Build(plain)
		f.Add(plain, body)
	}
	for _, v := range loadVectors(f) {
		f.Add([]byte(v.ExpectedMsg), []byte(v.PostBody))
	}
	f.Add([]byte("<xml><MsgType>event</MsgType><Event>CLICK</Event></xml>"), []byte("<xml><Encrypt>AAAA</Encrypt></xml>"))
	f.Add([]byte(""), []byte(""))
	f.Add([]byte("<xml><SelectedItems><SelectedItem><OptionIds><OptionId>x"), []byte("<xml><Encrypt><![CDATA[%%]]></Encrypt><AgentID>x</AgentID></xml>"))

	h := newTestCallback(f, 0, &recInbox{}, zap.NewNop())
	allowed := map[int]bool{200: true, 400: true, 403: true, 413: true}
	f.Fuzz(func(t *testing.T, plain, raw []byte) {
		_, _ = wecom.ParseInbound(plain)

		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, postReq(s.Envelope(sealFixed(t, plain), "1700000000", "2")))
		if !allowed[rec.Code] {
			t.Fatalf("encrypted plaintext: status %d", rec.Code)
		}

		var env struct {
			Encrypt string `xml:"Encrypt"`
		}
		_ = xml.Unmarshal(raw, &env)
		q, _ := s.Envelope(strings.TrimSpace(env.Encrypt), "1", "2")
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, postReq(q, raw))
		if !allowed[rec.Code] {
			t.Fatalf("raw body: status %d", rec.Code)
		}
	})
}

// BenchmarkCallback measures one text message through the handler: verify, decrypt, parse
// and Accept into a no-op inbox.
func BenchmarkCallback(b *testing.B) {
	h := newTestCallback(b, 10*time.Minute, wecom.InboxFunc(func(context.Context, chat.Message) error { return nil }), zap.NewNop())
	s := testSender(0)
	q, body := s.Build(s.TextXML("zhangsan", "vm start 101", "CAIQg/PKxgYYgICAgICAgAMgAQ=="))
	target := "/wecom/callback?" + q.Encode()
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body)))
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

// BenchmarkCallbackJunkEnvelope measures what an unsigned body costs before it is refused:
// the largest body read, all tiny elements (1 MiB of them cost 61 ms and 66 MiB when the
// whole envelope was parsed first).
func BenchmarkCallbackJunkEnvelope(b *testing.B) {
	h := newTestCallback(b, 10*time.Minute, &recInbox{}, zap.NewNop())
	body := []byte("<xml>" + strings.Repeat("<a/>", (wecom.DefaultMaxCallbackBody-16)/4) + "</xml>")
	target := "/wecom/callback?msg_signature=x&timestamp=1&nonce=2"
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, target, bytes.NewReader(body)))
		if rec.Code != http.StatusBadRequest {
			b.Fatalf("status %d", rec.Code)
		}
	}
}
