package wecomtest_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

const (
	testToken  = "tok3nForT3sts"
	testAESKey = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM"
	testCorpID = "ww0123456789abcdef"
)

var testNow = time.Unix(1_700_000_000, 0)

func newSender() *wecomtest.Sender {
	return &wecomtest.Sender{
		Token: testToken, EncodingAESKey: testAESKey, CorpID: testCorpID, AgentID: 1000002,
		Now: func() time.Time { return testNow },
	}
}

type envelope struct {
	XMLName    xml.Name `xml:"xml"`
	ToUserName string   `xml:"ToUserName"`
	Encrypt    string   `xml:"Encrypt"`
	AgentID    string   `xml:"AgentID"`
}

// open checks a built callback with package wecom's Crypto and returns the plaintext.
func open(t *testing.T, q url.Values, body []byte) []byte {
	t.Helper()
	var env envelope
	if err := xml.Unmarshal(body, &env); err != nil {
		t.Fatalf("body is not a WeCom envelope: %v\n%s", err, body)
	}
	if env.ToUserName != testCorpID || env.AgentID != "1000002" {
		t.Errorf("envelope ToUserName, AgentID = %q, %q; want %q, %q", env.ToUserName, env.AgentID, testCorpID, "1000002")
	}
	c, err := wecom.NewCrypto(testToken, testAESKey, testCorpID)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := q.Get("timestamp"), "1700000000"; got != want {
		t.Errorf("timestamp = %q, want %q", got, want)
	}
	if q.Get("nonce") == "" {
		t.Error("nonce is empty")
	}
	if !c.Verify(q.Get("msg_signature"), q.Get("timestamp"), q.Get("nonce"), env.Encrypt) {
		t.Error("signature does not verify")
	}
	plain, err := c.Decrypt(env.Encrypt)
	if err != nil {
		t.Fatalf("Decrypt: %v", err)
	}
	return plain
}

func TestBuildRoundTrip(t *testing.T) {
	s := newSender()
	tests := []struct {
		name  string
		plain []byte
		check func(t *testing.T, m wecom.InboundMessage)
	}{
		{
			name:  "text",
			plain: s.TextXML("zhangsan", "启动 homeassistant ]]> <&>", "CAIQg/PKxgYY=="),
			check: func(t *testing.T, m wecom.InboundMessage) {
				if m.MsgType != "text" || m.Content != "启动 homeassistant ]]> <&>" || m.MsgID != "CAIQg/PKxgYY==" {
					t.Errorf("got %+v", m)
				}
			},
		},
		{
			name:  "click",
			plain: s.EventXML("lisi", "click", "vm list", ""),
			check: func(t *testing.T, m wecom.InboundMessage) {
				if m.MsgType != "event" || m.Event != "click" || m.EventKey != "vm list" || m.FromUserName != "lisi" {
					t.Errorf("got %+v", m)
				}
			},
		},
		{
			name:  "empty plaintext",
			plain: []byte{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, body := s.Build(tt.plain)
			plain := open(t, q, body)
			if string(plain) != string(tt.plain) {
				t.Fatalf("decrypted %q, want %q", plain, tt.plain)
			}
			if tt.check == nil {
				return
			}
			m, err := wecom.ParseInbound(plain)
			if err != nil {
				t.Fatal(err)
			}
			if m.ToUserName != testCorpID || m.AgentID != "1000002" || m.CreateTime != testNow.Unix() {
				t.Errorf("head ToUserName, AgentID, CreateTime = %q, %q, %d", m.ToUserName, m.AgentID, m.CreateTime)
			}
			tt.check(t, m)
		})
	}
}

type officialVector struct {
	ID             string `json:"id"`
	Kind           string `json:"kind"`
	Token          string `json:"token"`
	EncodingAESKey string `json:"encoding_aes_key"`
	CorpID         string `json:"receive_id_corpid"`
	MsgSignature   string `json:"msg_signature"`
	Timestamp      string `json:"timestamp"`
	Nonce          string `json:"nonce"`
	Echostr        string `json:"echostr"`
	PostBody       string `json:"post_body"`
}

// TestOfficialVectors checks that the sender signs and shapes exactly like WeCom: given a
// vector's timestamp, nonce and encrypted value it reproduces its signature and body.
func TestOfficialVectors(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "vectors", "official-vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Vectors []officialVector `json:"vectors"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	line, err := os.ReadFile(filepath.Join("..", "testdata", "vectors", "official-get-request.txt"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, v := range f.Vectors {
		seen[v.Kind] = true
		t.Run(v.ID, func(t *testing.T) {
			s := &wecomtest.Sender{Token: v.Token, EncodingAESKey: v.EncodingAESKey, CorpID: v.CorpID, AgentID: 218}
			switch v.Kind {
			case "post":
				var env envelope
				if err := xml.Unmarshal([]byte(v.PostBody), &env); err != nil {
					t.Fatal(err)
				}
				q, body := s.Envelope(env.Encrypt, v.Timestamp, v.Nonce)
				if got, want := q.Get("msg_signature"), v.MsgSignature; got != want {
					t.Errorf("msg_signature = %s, want %s", got, want)
				}
				if got, want := string(body), v.PostBody; got != want {
					t.Errorf("body =\n%s\nwant\n%s", got, want)
				}
			case "get":
				q := s.VerifyQuery(v.Echostr, v.Timestamp, v.Nonce)
				if got, want := q.Get("msg_signature"), v.MsgSignature; got != want {
					t.Errorf("msg_signature = %s, want %s", got, want)
				}
				// Same percent-encoding as WeCom's own request line.
				wantEcho := "echostr=" + strings.SplitN(strings.SplitN(string(line), "echostr=", 2)[1], " ", 2)[0]
				if enc := q.Encode(); !strings.Contains(enc, wantEcho) {
					t.Errorf("query %s does not contain %s", enc, wantEcho)
				}
			default:
				t.Fatalf("unknown kind %q", v.Kind)
			}
		})
	}
	if !seen["get"] || !seen["post"] {
		t.Errorf("vector kinds %v, want get and post", seen)
	}
}

// recorded is one request seen by the recording server.
type recorded struct {
	method, contentType string
	query               url.Values
	body                []byte
}

func TestSenderHTTP(t *testing.T) {
	var mu sync.Mutex
	var got []recorded
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, recorded{r.Method, r.Header.Get("Content-Type"), r.URL.Query(), b})
		mu.Unlock()
	}))
	defer srv.Close()
	s := newSender()
	s.URL = srv.URL + "/wecom/callback?keep=1"
	ctx := context.Background()

	calls := []struct {
		name  string
		send  func() (*http.Response, error)
		check func(t *testing.T, m wecom.InboundMessage)
	}{
		{"Text", func() (*http.Response, error) { return s.Text(ctx, "zhangsan", "help") }, func(t *testing.T, m wecom.InboundMessage) {
			if m.MsgType != "text" || m.Content != "help" || len(m.MsgID) != 19 {
				t.Errorf("got %+v", m)
			}
		}},
		{"TextWithID", func() (*http.Response, error) { return s.TextWithID(ctx, "zhangsan", "help", "42") }, func(t *testing.T, m wecom.InboundMessage) {
			if m.MsgID != "42" {
				t.Errorf("MsgID = %q, want 42", m.MsgID)
			}
		}},
		{"Click", func() (*http.Response, error) { return s.Click(ctx, "lisi", "vm list") }, func(t *testing.T, m wecom.InboundMessage) {
			if m.Event != "click" || m.EventKey != "vm list" {
				t.Errorf("got %+v", m)
			}
		}},
		{"EnterAgent", func() (*http.Response, error) { return s.EnterAgent(ctx, "wangwu") }, func(t *testing.T, m wecom.InboundMessage) {
			if m.Event != "enter_agent" || m.FromUserName != "wangwu" {
				t.Errorf("got %+v", m)
			}
		}},
		{"CardClick", func() (*http.Response, error) { return s.CardClick(ctx, "zhangsan", "confirm:1", "task_1", "RC") }, func(t *testing.T, m wecom.InboundMessage) {
			if m.Event != "template_card_event" || m.EventKey != "confirm:1" || m.TaskID != "task_1" ||
				m.ResponseCode != "RC" || m.CardType != "button_interaction" {
				t.Errorf("got %+v", m)
			}
		}},
	}
	for i, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			resp, err := c.send()
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			mu.Lock()
			r := got[i]
			mu.Unlock()
			if r.method != http.MethodPost || r.contentType != "text/xml" || r.query.Get("keep") != "1" {
				t.Errorf("request %s %q keep=%q; want POST text/xml keep=1", r.method, r.contentType, r.query.Get("keep"))
			}
			m, err := wecom.ParseInbound(open(t, r.query, r.body))
			if err != nil {
				t.Fatal(err)
			}
			c.check(t, m)
		})
	}

	t.Run("Verify reports a wrong echo", func(t *testing.T) {
		echo, status, err := s.Verify(ctx) // the recording server answers an empty 200
		if err == nil || status != 200 || echo != "" {
			t.Errorf("Verify = %q, %d, %v; want \"\", 200, an error", echo, status, err)
		}
	})
}

func TestSenderBadKey(t *testing.T) {
	s := newSender()
	s.EncodingAESKey = "short"
	s.URL = "http://127.0.0.1:1/"
	if _, err := s.Text(context.Background(), "u", "x"); err == nil {
		t.Error("Text with a bad key: err = nil, want an error")
	}
	defer func() {
		if recover() == nil {
			t.Error("Build with a bad key did not panic")
		}
	}()
	s.Build([]byte("<xml/>"))
}
