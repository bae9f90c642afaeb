package wecom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

// newOutClient returns a Client for the fake with tiny backoffs, and its observed logs.
func newOutClient(t testing.TB, s *wecomtest.Server, mods ...func(*ClientConfig)) (*Client, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	cfg := ClientConfig{
		CorpID:  s.CorpID(),
		AgentID: s.AgentID(),
		Secret:  s.Secret(),
		BaseURL: s.URL(),
		Backoff: time.Millisecond,
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := NewClient(cfg, zap.New(core))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	return c, logs
}

// callsTo counts the recorded calls to a path.
func callsTo(s *wecomtest.Server, path string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Path == path {
			n++
		}
	}
	return n
}

const sendPath = "/cgi-bin/message/send"

func TestNewClientValidates(t *testing.T) {
	ok := ClientConfig{CorpID: "ww1", AgentID: 1, Secret: "s"}
	tests := []struct {
		name    string
		mod     func(*ClientConfig)
		wantErr string
	}{
		{"ok", func(*ClientConfig) {}, ""},
		{"no corp", func(c *ClientConfig) { c.CorpID = " " }, "corp id"},
		{"no secret", func(c *ClientConfig) { c.Secret = "" }, "secret"},
		{"agent id", func(c *ClientConfig) { c.AgentID = 0 }, "agent id"},
		{"ftp base", func(c *ClientConfig) { c.BaseURL = "ftp://x" }, "base url"},
		{"query in base", func(c *ClientConfig) { c.BaseURL = "http://x/?access_token=t" }, "query"},
		{"http base with cgi-bin", func(c *ClientConfig) { c.BaseURL = "http://127.0.0.1:9/cgi-bin/" }, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := ok
			tt.mod(&cfg)
			_, err := NewClient(cfg, nil)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("NewClient: %v, want nil", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("NewClient err = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
	c, _ := NewClient(ClientConfig{CorpID: "ww1", AgentID: 1, Secret: "s", BaseURL: "http://127.0.0.1:9/cgi-bin/"}, nil)
	if got, want := c.base, "http://127.0.0.1:9"; got != want {
		t.Errorf("base = %q, want %q", got, want)
	}
}

func TestClientTokenCached(t *testing.T) {
	s := wecomtest.NewServer(t)
	c, _ := newOutClient(t, s)
	ctx := context.Background()
	for i := range 5 {
		if err := c.SendText(ctx, []string{"alice"}, fmt.Sprintf("msg %d", i)); err != nil {
			t.Fatalf("SendText: %v", err)
		}
	}
	if got, want := s.TokensIssued(), 1; got != want {
		t.Errorf("tokens issued = %d, want %d", got, want)
	}
	if got, want := len(s.Sent()), 5; got != want {
		t.Errorf("sent = %d, want %d", got, want)
	}
}

// WeCom answers a gettoken inside a token's lifetime with the same token and its
// remaining expires_in. Near the end the client must neither hammer gettoken (halving its
// margin on every answer) nor keep a token past its end.
func TestClientTokenExpiresByClock(t *testing.T) {
	for _, fixed := range []bool{false, true} {
		t.Run(fmt.Sprintf("fixed expires_in %v", fixed), func(t *testing.T) {
			var mu sync.Mutex
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
			opts := []wecomtest.ServerOption{wecomtest.WithServerClock(clock)}
			if fixed {
				opts = append(opts, wecomtest.WithFixedExpiresIn())
			}
			s := wecomtest.NewServer(t, opts...)
			c, _ := newOutClient(t, s, func(cfg *ClientConfig) { cfg.Now = clock })
			ctx := context.Background()
			first, err := c.Token(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// Ask every 5 s from inside the margin to past the token's end.
			var last string
			for at := 7200*time.Second - tokenMargin + time.Second; at <= 7200*time.Second+5*time.Second; at += 5 * time.Second {
				mu.Lock()
				now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(at)
				mu.Unlock()
				if last, err = c.Token(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if last == first && !fixed {
				t.Errorf("past the token's end the client still uses it")
			}
			if got := callsTo(s, "/cgi-bin/gettoken"); got > 3 {
				t.Errorf("gettoken called %d times around one expiry, want at most 3", got)
			}
			if err := c.SendText(ctx, []string{"alice"}, "after"); err != nil {
				t.Errorf("send after the expiry: %v", err)
			}
		})
	}
}

// When WeCom refuses a token and the next gettoken hands the same token back once more
// (its cache lags), the client asks again rather than fail the call.
func TestClientTokenRefreshWhenGettokenLags(t *testing.T) {
	s := wecomtest.NewServer(t)
	c, _ := newOutClient(t, s)
	ctx := context.Background()
	if err := c.SendText(ctx, []string{"alice"}, "first"); err != nil {
		t.Fatal(err)
	}
	s.ExpireTokensLagging()
	if err := c.SendText(ctx, []string{"alice"}, "second"); err != nil {
		t.Fatalf("SendText after a lagging refresh: %v", err)
	}
	if got := len(s.Sent()); got != 2 {
		t.Errorf("delivered %d, want 2", got)
	}
}

func TestClientTokenRefreshOnRejection(t *testing.T) {
	tests := []struct {
		name   string
		inject func(s *wecomtest.Server)
	}{
		{"expired 42001", func(s *wecomtest.Server) { s.ExpireTokens() }},
		{"injected 42001", func(s *wecomtest.Server) { s.FailNext("message/send", 42001, 1) }},
		{"invalid 40014", func(s *wecomtest.Server) { s.FailNext("message/send", 40014, 1) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := wecomtest.NewServer(t)
			c, _ := newOutClient(t, s)
			ctx := context.Background()
			if err := c.SendText(ctx, []string{"alice"}, "first"); err != nil {
				t.Fatal(err)
			}
			tt.inject(s)
			if err := c.SendText(ctx, []string{"alice"}, "second"); err != nil {
				t.Fatalf("SendText after rejection: %v", err)
			}
			var contents []string
			for _, m := range s.Sent() {
				contents = append(contents, m.Content)
			}
			if got, want := strings.Join(contents, ","), "first,second"; got != want {
				t.Errorf("delivered %q, want %q (each once)", got, want)
			}
			if got := callsTo(s, "/cgi-bin/gettoken"); got < 2 {
				t.Errorf("gettoken calls = %d, want a refresh after the rejection", got)
			}
			if got, want := callsTo(s, sendPath), 3; got != want {
				t.Errorf("message/send calls = %d, want %d", got, want)
			}
		})
	}
}

func TestClientTokenRefreshOnlyOnce(t *testing.T) {
	s := wecomtest.NewServer(t)
	c, _ := newOutClient(t, s)
	s.FailNext("message/send", 42001, 5)
	err := c.SendText(context.Background(), []string{"alice"}, "x")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 42001 {
		t.Fatalf("err = %v, want APIError 42001 after one refresh", err)
	}
	if got, want := callsTo(s, sendPath), 2; got != want {
		t.Errorf("message/send calls = %d, want %d", got, want)
	}
}

func TestClientConcurrentCallersShareOneTokenFetch(t *testing.T) {
	s := wecomtest.NewServer(t, wecomtest.WithoutMemberLimit())
	s.SetLatency(20 * time.Millisecond) // keeps the first fetch in flight while the others arrive
	c, _ := newOutClient(t, s)
	send := func() {
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- c.SendText(context.Background(), []string{"alice"}, fmt.Sprint(i))
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("SendText: %v", err)
			}
		}
	}
	send()
	if got, want := s.TokensIssued(), 1; got != want {
		t.Errorf("tokens issued = %d, want %d", got, want)
	}
	s.ExpireTokens()
	send()
	if got, want := s.TokensIssued(), 2; got != want {
		t.Errorf("tokens issued after expiry = %d, want %d (one shared refresh)", got, want)
	}
	if got, want := len(s.Sent()), 40; got != want {
		t.Errorf("sent = %d, want %d", got, want)
	}
}

func TestClientConfigProblems(t *testing.T) {
	tests := []struct {
		name     string
		code     int
		explains []string
	}{
		{"untrusted ip", 60020, []string{"trusted IP list", "wecom.api_base_url", "from ip: 127.0.0.1"}},
		{"wrong secret", 40001, []string{"wrong app secret", "wecom.secret"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := wecomtest.NewServer(t)
			c, logs := newOutClient(t, s)
			s.FailNext("message/send", tt.code, 2)
			for range 2 {
				err := c.SendText(context.Background(), []string{"alice"}, "x")
				var apiErr *APIError
				if !errors.As(err, &apiErr) || apiErr.Code != tt.code || !apiErr.ConfigProblem() {
					t.Fatalf("err = %v, want a config-problem APIError %d", err, tt.code)
				}
				for _, want := range tt.explains {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("err = %q, want it to mention %q", err, want)
					}
				}
			}
			if got, want := callsTo(s, sendPath), 2; got != want {
				t.Errorf("message/send calls = %d, want %d (not retried)", got, want)
			}
			errLines := logs.FilterLevelExact(zapcore.ErrorLevel).All()
			if len(errLines) != 1 {
				t.Fatalf("error log lines = %d, want 1 (logged once): %v", len(errLines), errLines)
			}
			if msg := errLines[0].Message; !strings.Contains(msg, tt.explains[0]) {
				t.Errorf("error log = %q, want the plain explanation %q", msg, tt.explains[0])
			}
		})
	}
}

// Another app's AgentId is answered 301002, an id no app has 40056: both are config
// problems, each explained in its own plain words and logged once.
func TestClientWrongAgentID(t *testing.T) {
	tests := []struct {
		name    string
		agentID int
		code    int
		explain string
	}{
		{"another app's agent id", 1000003, wecomtest.ErrcodeAgentMismatch, "belong to two different apps"},
		{"no such agent id", 7, wecomtest.ErrcodeInvalidAgentID, "no app has this agent id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := wecomtest.NewServer(t, wecomtest.WithOtherApps(1000003))
			c, logs := newOutClient(t, s, func(cfg *ClientConfig) { cfg.AgentID = tt.agentID })
			for range 2 {
				err := c.SendText(context.Background(), []string{"alice"}, "x")
				var apiErr *APIError
				if !errors.As(err, &apiErr) || apiErr.Code != tt.code || !apiErr.ConfigProblem() {
					t.Fatalf("err = %v, want a config-problem APIError %d", err, tt.code)
				}
				if !strings.Contains(err.Error(), tt.explain) || !strings.Contains(err.Error(), "wecom.agent_id") {
					t.Errorf("err = %q, want it to say %q and name wecom.agent_id", err, tt.explain)
				}
			}
			errLines := logs.FilterLevelExact(zapcore.ErrorLevel).All()
			if len(errLines) != 1 || !strings.Contains(errLines[0].Message, tt.explain) {
				t.Errorf("error log = %v, want one line saying %q", errLines, tt.explain)
			}
		})
	}
}

// The operator help covers the codes a user or an operator can cause.
func TestClientExplainsCodes(t *testing.T) {
	for code, want := range map[int]string{
		42014:  "task_id",
		60140:  "72 hours",
		45033:  "retried with backoff",
		86001:  "32 letters and digits",
		86008:  "another app",
		42045:  "template card",
		40018:  "16 bytes",
		301002: "two different apps",
	} {
		if got := (&APIError{Op: "send", Code: code}).Error(); !strings.Contains(got, want) {
			t.Errorf("errcode %d explained as %q, want it to mention %q", code, got, want)
		}
	}
}

// A card send whose answer was lost is retried; WeCom answers the retry 42014 (its
// task_id is spent) because the first attempt delivered it: that is a success, and the
// card is shown once.
func TestClientCardRetryAfterLostAnswer(t *testing.T) {
	s := wecomtest.NewServer(t)
	c, _ := newOutClient(t, s)
	s.LoseAnswerNext("message/send", 1)
	card := TemplateCard{CardType: CardTextNotice, TaskID: "ops_lost1", MainTitle: &CardTitle{Title: "t"},
		CardAction: &CardAction{Type: 1, URL: "https://work.weixin.qq.com"}}
	if _, err := c.SendCard(context.Background(), []string{"alice"}, card); err != nil {
		t.Fatalf("SendCard after a lost answer: %v", err)
	}
	if got := len(s.Sent()); got != 1 {
		t.Errorf("delivered %d cards, want 1", got)
	}
	if got := callsTo(s, sendPath); got != 2 {
		t.Errorf("message/send calls = %d, want 2 (the lost one and its retry)", got)
	}
	// A fresh card whose task_id was really used before is still an error.
	if _, err := c.SendCard(context.Background(), []string{"alice"}, card); err == nil {
		t.Error("a first attempt answered 42014 counted as delivered")
	}
}

func TestClientWrongSecretAtGettoken(t *testing.T) {
	s := wecomtest.NewServer(t)
	c, logs := newOutClient(t, s, func(cfg *ClientConfig) { cfg.Secret = "not-the-secret-at-all" })
	err := c.SendText(context.Background(), []string{"alice"}, "x")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 40001 || apiErr.Op != "gettoken" {
		t.Fatalf("err = %v, want APIError gettoken 40001", err)
	}
	if got, want := callsTo(s, "/cgi-bin/gettoken"), 1; got != want {
		t.Errorf("gettoken calls = %d, want %d (a wrong secret is not retried: WeCom bans the IP)", got, want)
	}
	if got := logs.FilterLevelExact(zapcore.ErrorLevel).Len(); got != 1 {
		t.Errorf("error log lines = %d, want 1", got)
	}
}

func TestClientRetries(t *testing.T) {
	tests := []struct {
		name      string
		retries   int
		inject    func(s *wecomtest.Server)
		wantCalls int
		wantErr   string // "" = success
	}{
		{"500 then ok", 3, func(s *wecomtest.Server) { s.FailHTTP("message/send", 500, 2) }, 3, ""},
		{"-1 busy then ok", 3, func(s *wecomtest.Server) { s.FailNext("message/send", -1, 2) }, 3, ""},
		{"45033 concurrency then ok", 3, func(s *wecomtest.Server) { s.FailNext("message/send", wecomtest.ErrcodeConcurrency, 2) }, 3, ""},
		{"429 then ok", 3, func(s *wecomtest.Server) { s.FailHTTP("message/send", 429, 1) }, 2, ""},
		{"502 exhausts retries", 2, func(s *wecomtest.Server) { s.FailHTTP("message/send", 502, 10) }, 3, "http status 502"},
		{"retries off", -1, func(s *wecomtest.Server) { s.FailHTTP("message/send", 500, 10) }, 1, "http status 500"},
		{"permanent errcode", 3, func(s *wecomtest.Server) { s.FailNext("message/send", 40058, 10) }, 1, "errcode 40058"},
		{"rate limited not retried", 3, func(s *wecomtest.Server) { s.FailNext("message/send", 45009, 10) }, 1, "rate-limits"},
		{"4xx permanent", 3, func(s *wecomtest.Server) { s.FailHTTP("message/send", 404, 10) }, 1, "http status 404"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := wecomtest.NewServer(t)
			c, _ := newOutClient(t, s, func(cfg *ClientConfig) { cfg.MaxRetries = tt.retries })
			tt.inject(s)
			err := c.SendText(context.Background(), []string{"alice"}, "x")
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("SendText: %v, want success", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("SendText err = %v, want one containing %q", err, tt.wantErr)
			}
			if got := callsTo(s, sendPath); got != tt.wantCalls {
				t.Errorf("message/send calls = %d, want %d", got, tt.wantCalls)
			}
			wantSent := 0
			if tt.wantErr == "" {
				wantSent = 1
			}
			if got := len(s.Sent()); got != wantSent {
				t.Errorf("sent = %d, want %d", got, wantSent)
			}
		})
	}
}

func TestClientBackoffCapped(t *testing.T) {
	c, err := NewClient(ClientConfig{CorpID: "c", AgentID: 1, Secret: "s", Backoff: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	for i, w := range want {
		if got := c.backoffFor(i); got != w {
			t.Errorf("backoffFor(%d) = %v, want %v", i, got, w)
		}
	}
}

func TestClientContextCancelStopsRetries(t *testing.T) {
	s := wecomtest.NewServer(t)
	c, _ := newOutClient(t, s, func(cfg *ClientConfig) { cfg.Backoff = time.Hour; cfg.MaxRetries = 5 })
	if _, err := c.Token(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.FailHTTP("message/send", 500, 100)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer wcancel()
		_, _ = s.WaitCalls(wctx, "message/send", 1)
		cancel()
	}()
	err := c.SendText(ctx, []string{"alice"}, "x")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got, want := callsTo(s, sendPath), 1; got != want {
		t.Errorf("message/send calls = %d, want %d", got, want)
	}
}

func TestClientAttemptTimeout(t *testing.T) {
	s := wecomtest.NewServer(t)
	s.SetLatency(time.Second)
	c, _ := newOutClient(t, s, func(cfg *ClientConfig) {
		cfg.HTTPClient = &http.Client{Timeout: 20 * time.Millisecond}
		cfg.MaxRetries = -1
	})
	err := c.SendText(context.Background(), []string{"alice"}, "x")
	if err == nil || !(strings.Contains(err.Error(), "Timeout") || strings.Contains(err.Error(), "deadline exceeded")) {
		t.Fatalf("err = %v, want a client timeout", err)
	}
}

func TestClientBaseURLRedirectsEveryCall(t *testing.T) {
	for _, base := range []string{"", "/", "/cgi-bin", "/cgi-bin/"} {
		t.Run("suffix "+base, func(t *testing.T) {
			s := wecomtest.NewServer(t)
			c, _ := newOutClient(t, s, func(cfg *ClientConfig) { cfg.BaseURL = s.URL() + base })
			ctx := context.Background()
			res, err := c.SendCard(ctx, []string{"alice"}, TemplateCard{CardType: CardButtonInteraction, TaskID: "t1",
				MainTitle: &CardTitle{Title: "x"}, ButtonList: []CardButton{{Text: "ok", Key: "k", Style: 1}}})
			if err != nil {
				t.Fatal(err)
			}
			steps := []error{
				c.UpdateCardButtons(ctx, []string{"alice"}, res.ResponseCode, "done"),
				c.AppChatCreate(ctx, "ops", "Ops", "alice", []string{"alice", "bob"}),
				func() error { _, err := c.AppChatGet(ctx, "ops"); return err }(),
				c.AppChatSend(ctx, "ops", "markdown", "**hi**"),
				c.RobotSend(ctx, "robot-key-1234", "text", "hi"),
			}
			for i, err := range steps {
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
			}
			var paths []string
			seen := map[string]bool{}
			for _, call := range s.Calls() {
				if !seen[call.Path] {
					seen[call.Path] = true
					paths = append(paths, call.Path)
				}
			}
			sort.Strings(paths)
			want := []string{"/cgi-bin/appchat/create", "/cgi-bin/appchat/get", "/cgi-bin/appchat/send", "/cgi-bin/gettoken",
				"/cgi-bin/message/send", "/cgi-bin/message/update_template_card", "/cgi-bin/webhook/send"}
			if strings.Join(paths, " ") != strings.Join(want, " ") {
				t.Errorf("paths reached = %v, want %v", paths, want)
			}
		})
	}
}

func TestClientSendBody(t *testing.T) {
	s := wecomtest.NewServer(t)
	c, _ := newOutClient(t, s)
	_, err := c.Send(context.Background(), Message{ToUser: []string{"alice", "bob"}, MsgType: "text",
		Content: "<b>&</b>", DuplicateCheck: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	calls := s.Calls()
	got := string(calls[len(calls)-1].Body)
	want := fmt.Sprintf(`{"touser":"alice|bob","msgtype":"text","agentid":%d,"text":{"content":"<b>&</b>"},"enable_duplicate_check":1,"duplicate_check_interval":600}`, s.AgentID())
	if got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
}

func TestClientSendRefusesBadInput(t *testing.T) {
	s := wecomtest.NewServer(t)
	c, _ := newOutClient(t, s)
	ctx := context.Background()
	tests := []struct {
		name string
		m    Message
	}{
		{"no recipient", Message{MsgType: "text", Content: "x"}},
		{"empty content", Message{ToUser: []string{"a"}, MsgType: "text"}},
		{"unknown type", Message{ToUser: []string{"a"}, MsgType: "voice", Content: "x"}},
		{"card without card", Message{ToUser: []string{"a"}, MsgType: "template_card"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := c.Send(ctx, tt.m); err == nil {
				t.Errorf("Send(%+v) = nil error, want one", tt.m)
			}
		})
	}
	if err := c.AppChatSend(ctx, "ops", "template_card", "x"); err == nil {
		t.Errorf("AppChatSend(template_card) = nil, want an error (appchat takes no cards)")
	}
	if got := len(s.Calls()); got != 0 {
		t.Errorf("calls = %d, want 0 (refused before the network)", got)
	}
}

func TestClientCutsContentAtByteLimits(t *testing.T) {
	s := wecomtest.NewServer(t)
	c, _ := newOutClient(t, s)
	ctx := context.Background()
	zh := strings.Repeat("一行中文内容\n", 400) // 19 bytes a line, 7600 bytes
	if err := c.SendText(ctx, []string{"alice"}, zh); err != nil {
		t.Fatal(err)
	}
	if err := c.RobotSend(ctx, "robot-key-1234", "markdown", zh); err != nil {
		t.Fatal(err)
	}
	if err := c.RobotSend(ctx, "robot-key-1234", "text", zh); err != nil {
		t.Fatal(err)
	}
	limits := []int{MaxTextBytes, MaxRobotMarkdownBytes, MaxTextBytes}
	for i, m := range s.Sent() {
		if m.Truncated || len(m.Content) > limits[i] || !utf8.ValidString(m.Content) || !strings.HasSuffix(m.Content, "\n…") {
			t.Errorf("message %d: %d bytes (limit %d), cut by WeCom %v, valid %v, want a clean cut after a line",
				i, len(m.Content), limits[i], m.Truncated, utf8.ValidString(m.Content))
		}
	}
}

func TestClientInvalidUsers(t *testing.T) {
	s := wecomtest.NewServer(t, wecomtest.WithMembers("alice"))
	c, logs := newOutClient(t, s)
	ctx := context.Background()
	res, err := c.Send(ctx, Message{ToUser: []string{"alice", "mallory"}, MsgType: "text", Content: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(res.InvalidUsers, ","); got != "mallory" {
		t.Errorf("InvalidUsers = %q, want mallory", got)
	}
	warn := logs.FilterLevelExact(zapcore.WarnLevel).FilterMessageSnippet("visible range").All()
	if len(warn) != 1 || !strings.Contains(fmt.Sprint(warn[0].ContextMap()), "mallory") {
		t.Errorf("warn logs = %v, want one naming mallory", warn)
	}
	err = c.SendText(ctx, []string{"mallory"}, "x")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 81013 || !strings.Contains(err.Error(), "visible range") {
		t.Errorf("err = %v, want APIError 81013 explaining the visible range", err)
	}
}

func TestClientCardUpdates(t *testing.T) {
	s := wecomtest.NewServer(t)
	c, _ := newOutClient(t, s)
	ctx := context.Background()
	card := TemplateCard{CardType: CardButtonInteraction, TaskID: "task-a", MainTitle: &CardTitle{Title: "reboot?"},
		ButtonList: []CardButton{{Text: "确认", Style: 1, Key: "c"}, {Text: "取消", Style: 2, Key: "x"}}}
	res, err := c.SendCard(ctx, []string{"alice"}, card)
	if err != nil || res.ResponseCode == "" || res.MsgID == "" {
		t.Fatalf("SendCard = %+v, %v; want a msgid and a response code", res, err)
	}
	if _, err := c.SendCard(ctx, []string{"alice"}, card); err == nil {
		t.Errorf("second SendCard with the same task_id = nil error, want WeCom's refusal")
	}
	if err := c.UpdateCardButtons(ctx, []string{"alice"}, res.ResponseCode, "已重启"); err != nil {
		t.Fatalf("UpdateCardButtons: %v", err)
	}
	err = c.UpdateCard(ctx, []string{"alice"}, res.ResponseCode, RenderCard(resultReply(), "", "zh"))
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != wecomtest.ErrcodeResponseCodeInvalid {
		t.Errorf("second update with the same response code: err = %v, want APIError %d", err, wecomtest.ErrcodeResponseCodeInvalid)
	}
	ups := s.Updates()
	if len(ups) != 1 || ups[0].ReplaceName != "已重启" || ups[0].UserIDs[0] != "alice" {
		t.Errorf("updates = %+v, want one replace_name 已重启 for alice", ups)
	}
	var body map[string]json.RawMessage
	calls := s.Calls()
	for _, call := range calls {
		if call.Path == "/cgi-bin/message/update_template_card" {
			_ = json.Unmarshal(call.Body, &body)
			break
		}
	}
	if got := string(body["agentid"]); got != fmt.Sprint(s.AgentID()) {
		t.Errorf("update agentid = %s, want the integer %d", got, s.AgentID())
	}
}

func TestClientAppChat(t *testing.T) {
	s := wecomtest.NewServer(t)
	c, _ := newOutClient(t, s)
	ctx := context.Background()
	if err := c.AppChatCreate(ctx, "homeops", "家庭运维", "alice", []string{"alice", "bob"}); err != nil {
		t.Fatal(err)
	}
	got, err := c.AppChatGet(ctx, "homeops")
	if err != nil {
		t.Fatal(err)
	}
	want := AppChat{ChatID: "homeops", Name: "家庭运维", Owner: "alice", Users: []string{"alice", "bob"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("AppChatGet = %+v, want %+v", got, want)
	}
	if err := c.AppChatSend(ctx, "homeops", "text", "备份完成"); err != nil {
		t.Fatal(err)
	}
	sent := s.Sent()
	if len(sent) != 1 || sent[0].Via != "appchat" || sent[0].ChatID != "homeops" || sent[0].Content != "备份完成" {
		t.Errorf("sent = %+v, want one appchat text to homeops", sent)
	}
	err = c.AppChatSend(ctx, "nosuchchat", "text", "x")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 86003 || !strings.Contains(err.Error(), "create it first") {
		t.Errorf("send to unknown chat: err = %v, want APIError 86003 explaining to create it", err)
	}
	if _, err := c.AppChatGet(ctx, "nosuchchat"); err == nil {
		t.Errorf("AppChatGet(unknown) = nil error, want 86003")
	}
}

func TestClientRobotSend(t *testing.T) {
	const key = "0b1f-robot-key-5a6e"
	s := wecomtest.NewServer(t, wecomtest.WithRobotKeys(key))
	c, logs := newOutClient(t, s)
	ctx := context.Background()
	if err := c.RobotSend(ctx, key, "markdown", "**备份**完成"); err != nil {
		t.Fatal(err)
	}
	sent := s.Sent()
	if len(sent) != 1 || sent[0].Via != "robot" || sent[0].RobotKey != key || sent[0].MsgType != "markdown" {
		t.Fatalf("sent = %+v, want one robot markdown", sent)
	}
	if got := s.TokensIssued(); got != 0 {
		t.Errorf("tokens issued = %d, want 0 (robots need none)", got)
	}
	const wrong = "ffff-wrong-key-0000"
	err := c.RobotSend(ctx, wrong, "text", "x")
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != 93000 {
		t.Fatalf("err = %v, want APIError 93000", err)
	}
	if strings.Contains(err.Error(), wrong) || strings.Contains(logText(logs), wrong) {
		t.Errorf("the robot key leaked: err %q logs %q", err, logText(logs))
	}
	if err := c.RobotSend(ctx, key, "news", "x"); err == nil {
		t.Errorf("RobotSend(news) = nil, want an unsupported msgtype error")
	}
}

// logText flattens every observed log entry (message and fields) into one string.
func logText(logs *observer.ObservedLogs) string {
	var b strings.Builder
	for _, e := range logs.All() {
		fmt.Fprintf(&b, "%s %s %v\n", e.Level, e.Message, e.ContextMap())
	}
	return b.String()
}

// failingTransport fails every request whose path is not gettoken, like a network error
// after the token was fetched: the *url.Error then holds a URL with the access token.
// onFail, when set, runs on each failure (to cancel a context at a known point).
type failingTransport struct {
	next   http.RoundTripper
	onFail func()
}

func (f failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/cgi-bin/gettoken" {
		return f.next.RoundTrip(r)
	}
	if f.onFail != nil {
		f.onFail()
	}
	return nil, errors.New("connection reset by peer")
}

func TestClientNeverLeaksSecrets(t *testing.T) {
	const secret = "S3CRET-corp-secret-value-0001"
	const robotKey = "robot-key-LEAK-CHECK-42"
	s := wecomtest.NewServer(t, wecomtest.WithCorp("wwleakcheck", secret, 1000002))
	closed := wecomtest.NewServer(nil, wecomtest.WithCorp("wwleakcheck", secret, 1000002))
	closed.Close()
	var errs []error
	var allLogs []*observer.ObservedLogs
	ctx := context.Background()
	run := func(name string, c *Client, logs *observer.ObservedLogs, f func(c *Client) error) {
		t.Helper()
		err := f(c)
		if err == nil {
			t.Errorf("%s: want an error", name)
		}
		errs = append(errs, err)
		if len(allLogs) == 0 || allLogs[len(allLogs)-1] != logs {
			allLogs = append(allLogs, logs)
		}
	}
	retries := func(cfg *ClientConfig) { cfg.MaxRetries = 2 }

	c, logs := newOutClient(t, closed, retries)
	run("network error at gettoken", c, logs, func(c *Client) error { return c.SendText(ctx, []string{"a"}, "x") })
	c, logs = newOutClient(t, closed, retries)
	run("network error at robot", c, logs, func(c *Client) error { return c.RobotSend(ctx, robotKey, "text", "x") })
	c, logs = newOutClient(t, s, retries, func(cfg *ClientConfig) {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second, Transport: failingTransport{next: http.DefaultTransport}}
	})
	run("network error at send", c, logs, func(c *Client) error { return c.SendText(ctx, []string{"a"}, "x") })
	c, logs = newOutClient(t, s, retries)
	run("500 at send", c, logs, func(c *Client) error {
		s.FailHTTP("message/send", 500, 3)
		return c.SendText(ctx, []string{"a"}, "x")
	})
	run("500 at robot", c, logs, func(c *Client) error {
		s.FailHTTP("webhook/send", 500, 3)
		return c.RobotSend(ctx, robotKey, "text", "x")
	})
	run("60020 at send", c, logs, func(c *Client) error {
		s.FailNext("message/send", 60020, 1)
		return c.SendText(ctx, []string{"a"}, "x")
	})
	run("42001 twice", c, logs, func(c *Client) error {
		s.FailNext("message/send", 42001, 2)
		return c.SendText(ctx, []string{"a"}, "x")
	})
	run("60020 at gettoken", c, logs, func(c *Client) error {
		s.ExpireTokens()
		s.FailNext("message/send", 42001, 1)
		s.FailNext("gettoken", 60020, 1)
		return c.SendText(ctx, []string{"a"}, "x")
	})
	c, logs = newOutClient(t, s, func(cfg *ClientConfig) { cfg.Backoff = time.Hour })
	run("cancelled during backoff", c, logs, func(c *Client) error {
		if _, err := c.Token(ctx); err != nil {
			t.Fatal(err)
		}
		s.FailHTTP("message/send", 500, 1)
		cctx, cancel := context.WithCancel(ctx)
		n := callsTo(s, sendPath)
		go func() {
			wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
			defer wcancel()
			_, _ = s.WaitCalls(wctx, "message/send", n+1)
			cancel()
		}()
		return c.SendText(cctx, []string{"a"}, "x")
	})
	cctx, cancel := context.WithCancel(ctx)
	c, logs = newOutClient(t, s, func(cfg *ClientConfig) {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second, Transport: failingTransport{next: http.DefaultTransport, onFail: cancel}}
		cfg.Backoff = time.Hour
	})
	run("cancelled after a network error", c, logs, func(c *Client) error { return c.SendText(cctx, []string{"a"}, "x") })
	c, logs = newOutClient(t, s, retries, func(cfg *ClientConfig) { cfg.Secret = "WRONG-secret-value-0002" })
	run("wrong secret", c, logs, func(c *Client) error { return c.SendText(ctx, []string{"a"}, "x") })

	secrets := []string{secret, "WRONG-secret-value-0002", robotKey, url.QueryEscape(robotKey)}
	for _, call := range s.Calls() {
		if tok := call.Query.Get("access_token"); tok != "" {
			secrets = append(secrets, tok)
		}
	}
	var text strings.Builder
	for _, err := range errs {
		// Every error in the chain, not only the outer text: callers may unwrap.
		for e := err; e != nil; e = errors.Unwrap(e) {
			text.WriteString(e.Error() + "\n")
		}
	}
	for _, l := range allLogs {
		text.WriteString(logText(l))
	}
	if text.Len() == 0 {
		t.Fatal("nothing captured")
	}
	for _, sec := range secrets {
		if strings.Contains(text.String(), sec) {
			t.Errorf("secret %q appears in errors or logs:\n%s", sec, text.String())
		}
	}
}

func BenchmarkSendText(b *testing.B) {
	s := wecomtest.NewServer(b)
	c, _ := newOutClient(b, s)
	ctx := context.Background()
	to := []string{"alice"}
	if err := c.SendText(ctx, to, "warm-up"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := c.SendText(ctx, to, "vm start 101: 已启动"); err != nil {
			b.Fatal(err)
		}
	}
}
