package wecomtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// wx does one raw request against the fake and decodes the JSON answer.
func wx(t *testing.T, s *Server, method, path string, q url.Values, body string) (int, map[string]any) {
	t.Helper()
	u := s.URL() + path
	if q != nil {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func errcode(m map[string]any) int {
	f, _ := m["errcode"].(float64)
	return int(f)
}

func token(t *testing.T, s *Server) string {
	t.Helper()
	_, out := wx(t, s, http.MethodGet, "/cgi-bin/gettoken", url.Values{"corpid": {FakeCorpID}, "corpsecret": {FakeCorpSecret}}, "")
	tok, _ := out["access_token"].(string)
	if tok == "" {
		t.Fatalf("gettoken = %v, want a token", out)
	}
	return tok
}

func TestServerGettoken(t *testing.T) {
	s := NewServer(t)
	tests := []struct {
		name, corp, secret string
		want               int
	}{
		{"ok", FakeCorpID, FakeCorpSecret, 0},
		{"wrong secret", FakeCorpID, "nope", ErrcodeInvalidSecret},
		{"wrong corp", "wwother", FakeCorpSecret, ErrcodeInvalidCorpID},
		{"no secret", FakeCorpID, "", 41004},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, out := wx(t, s, http.MethodGet, "/cgi-bin/gettoken", url.Values{"corpid": {tt.corp}, "corpsecret": {tt.secret}}, "")
			if got := errcode(out); got != tt.want {
				t.Errorf("errcode = %d, want %d (%v)", got, tt.want, out)
			}
			if tt.want == 0 && out["expires_in"] != float64(7200) {
				t.Errorf("expires_in = %v, want 7200", out["expires_in"])
			}
		})
	}
	if got := s.TokensIssued(); got != 1 {
		t.Errorf("TokensIssued = %d, want 1", got)
	}
}

func TestServerMessageSendValidation(t *testing.T) {
	s := NewServer(t, WithMembers("alice", "bob"), WithOtherApps(1000003))
	tok := token(t, s)
	card := func(taskID string) string {
		return fmt.Sprintf(`{"touser":"alice","msgtype":"template_card","agentid":%d,"template_card":{"card_type":"button_interaction",
			"main_title":{"title":"t"},"task_id":%q,"button_list":[{"text":"ok","style":1,"key":"k"}]}}`, FakeAgentID, taskID)
	}
	notice := func(extra string) string {
		return fmt.Sprintf(`{"touser":"alice","msgtype":"template_card","agentid":%d,"template_card":{"card_type":"text_notice",
			"main_title":{"title":"t"},%s}}`, FakeAgentID, extra)
	}
	tests := []struct {
		name    string
		token   string
		body    string
		want    int
		invalid string
	}{
		{"ok", tok, fmt.Sprintf(`{"touser":"alice","msgtype":"text","agentid":%d,"text":{"content":"hi"}}`, FakeAgentID), 0, ""},
		{"no token", "", `{}`, 41001, ""},
		{"unknown token", "bogus", `{}`, ErrcodeInvalidToken, ""},
		{"agentid as string", tok, fmt.Sprintf(`{"touser":"alice","msgtype":"text","agentid":"%d","text":{"content":"hi"}}`, FakeAgentID), ErrcodeInvalidAgentID, ""},
		{"no such agentid", tok, `{"touser":"alice","msgtype":"text","agentid":7,"text":{"content":"hi"}}`, ErrcodeInvalidAgentID, ""},
		{"another app's agentid", tok, `{"touser":"alice","msgtype":"text","agentid":1000003,"text":{"content":"hi"}}`, ErrcodeAgentMismatch, ""},
		{"empty text", tok, fmt.Sprintf(`{"touser":"alice","msgtype":"text","agentid":%d,"text":{"content":""}}`, FakeAgentID), ErrcodeEmptyContent, ""},
		{"some invalid users", tok, fmt.Sprintf(`{"touser":"alice|eve","msgtype":"text","agentid":%d,"text":{"content":"hi"}}`, FakeAgentID), 0, "eve"},
		{"all invalid users", tok, fmt.Sprintf(`{"touser":"eve","msgtype":"text","agentid":%d,"text":{"content":"hi"}}`, FakeAgentID), ErrcodeAllUsersInvalid, ""},
		{"card", tok, card("task-1"), 0, ""},
		{"reused task id", tok, card("task-1"), ErrcodeTaskIDReused, ""},
		{"bad task id", tok, card("task 2!"), ErrcodeTaskIDReused, ""},
		{"empty task id", tok, card(""), ErrcodeTaskIDReused, ""},
		{"text_notice without card_action", tok, fmt.Sprintf(`{"touser":"alice","msgtype":"template_card","agentid":%d,
			"template_card":{"card_type":"text_notice","main_title":{"title":"t"}}}`, FakeAgentID), ErrcodeCardAction, ""},
		{"card url without scheme", tok, notice(`"card_action":{"type":1,"url":"pve.lan:8006"}`), ErrcodeURLNoScheme, ""},
		{"card url missing", tok, notice(`"card_action":{"type":1}`), ErrcodeCardURL, ""},
		{"four jump links", tok, notice(`"card_action":{"type":1,"url":"https://a"},"jump_list":[` +
			`{"type":1,"title":"a","url":"https://a"},{"type":1,"title":"b","url":"https://b"},` +
			`{"type":1,"title":"c","url":"https://c"},{"type":1,"title":"d","url":"https://d"}]`), ErrcodeCardJumpList, ""},
		{"jump link without scheme", tok, notice(`"card_action":{"type":1,"url":"https://a"},"jump_list":[{"type":1,"title":"a","url":"a.lan"}]`), ErrcodeURLNoScheme, ""},
		{"not json", tok, `{`, 47001, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, out := wx(t, s, http.MethodPost, "/cgi-bin/message/send", url.Values{"access_token": {tt.token}}, tt.body)
			if got := errcode(out); got != tt.want {
				t.Errorf("errcode = %d, want %d (%v)", got, tt.want, out)
			}
			if got, _ := out["invaliduser"].(string); tt.want == 0 && got != tt.invalid {
				t.Errorf("invaliduser = %q, want %q", got, tt.invalid)
			}
		})
	}
	sent := s.Sent()
	if len(sent) != 3 || sent[2].Card == nil || sent[2].ResponseCode == "" || sent[1].Invalid[0] != "eve" {
		t.Errorf("sent = %+v, want text, text (eve invalid), card with a response code", sent)
	}
}

// Card defects answer WeCom's own field codes (42027-42051), not one generic 40058.
func TestServerCardErrcodes(t *testing.T) {
	s := NewServer(t)
	tok := token(t, s)
	send := func(card string) int {
		_, out := wx(t, s, http.MethodPost, "/cgi-bin/message/send", url.Values{"access_token": {tok}},
			fmt.Sprintf(`{"touser":"alice","msgtype":"template_card","agentid":%d,"template_card":%s}`, FakeAgentID, card))
		return errcode(out)
	}
	six := strings.Repeat(`{"keyname":"k","value":"v"},`, 7)
	tests := []struct {
		name, card string
		want       int
	}{
		{"ok", `{"card_type":"text_notice","main_title":{"title":"t"},"card_action":{"type":1,"url":"https://example.com"}}`, 0},
		{"no card_type", `{"main_title":{"title":"t"}}`, ErrcodeCardType},
		{"unknown card_type", `{"card_type":"poster","main_title":{"title":"t"}}`, ErrcodeCardType},
		{"no card_action", `{"card_type":"text_notice","main_title":{"title":"t"}}`, ErrcodeCardAction},
		{"card_action type 3", `{"card_type":"text_notice","main_title":{"title":"t"},"card_action":{"type":3}}`, ErrcodeCardAction},
		{"card_action without url", `{"card_type":"text_notice","main_title":{"title":"t"},"card_action":{"type":1}}`, ErrcodeCardURL},
		{"seven rows", `{"card_type":"text_notice","main_title":{"title":"t"},"card_action":{"type":1,"url":"https://u"},"horizontal_content_list":[` + strings.TrimSuffix(six, ",") + `]}`, ErrcodeCardHorizontal},
		{"row without keyname", `{"card_type":"text_notice","main_title":{"title":"t"},"card_action":{"type":1,"url":"https://u"},"horizontal_content_list":[{"value":"v"}]}`, ErrcodeCardKeyName},
		{"four jumps", `{"card_type":"text_notice","main_title":{"title":"t"},"card_action":{"type":1,"url":"https://u"},"jump_list":[{},{},{},{}]}`, ErrcodeCardJumpList},
		{"button without text", `{"card_type":"button_interaction","main_title":{"title":"t"},"task_id":"t1","button_list":[{"key":"k"}]}`, ErrcodeCardButtonText},
		{"button without key", `{"card_type":"button_interaction","main_title":{"title":"t"},"task_id":"t2","button_list":[{"text":"ok"}]}`, ErrcodeCardButtonKey},
		{"repeated key", `{"card_type":"button_interaction","main_title":{"title":"t"},"task_id":"t3","button_list":[{"text":"a","key":"k"},{"text":"b","key":"k"}]}`, ErrcodeCardButtonKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := send(tt.card); got != tt.want {
				t.Errorf("errcode = %d, want %d", got, tt.want)
			}
		})
	}
}

// A card text longer than the client shows is taken (WeCom does not refuse it) and
// recorded as clipped.
func TestServerRecordsClippedCardText(t *testing.T) {
	s := NewServer(t)
	tok := token(t, s)
	title := strings.Repeat("长", 37)
	_, out := wx(t, s, http.MethodPost, "/cgi-bin/message/send", url.Values{"access_token": {tok}},
		fmt.Sprintf(`{"touser":"alice","msgtype":"template_card","agentid":%d,"template_card":{"card_type":"text_notice",
			"main_title":{"title":%q},"card_action":{"type":1,"url":"https://u"},"horizontal_content_list":[{"keyname":"Memory","value":"1"},{"keyname":"内存","value":"2"}]}}`, FakeAgentID, title))
	if errcode(out) != 0 {
		t.Fatalf("send: %v", out)
	}
	got := s.Sent()[0].Card.Clipped
	if want := []string{"title", "keyname[0]"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("clipped = %v, want %v", got, want)
	}
}

// WeCom drops app messages beyond 30 in any 60 s (and 1000 in any hour) to one member,
// answering errcode 0 all the same.
func TestServerDropsOverMemberLimit(t *testing.T) {
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := NewServer(t, WithServerClock(clock))
	tok := token(t, s)
	send := func(to string) {
		t.Helper()
		_, out := wx(t, s, http.MethodPost, "/cgi-bin/message/send", url.Values{"access_token": {tok}},
			fmt.Sprintf(`{"touser":%q,"msgtype":"text","agentid":%d,"text":{"content":"hi"}}`, to, FakeAgentID))
		if errcode(out) != 0 {
			t.Fatalf("send: errcode %d, want 0 (WeCom does not say it drops)", errcode(out))
		}
	}
	for range 30 {
		send("alice")
		advance(time.Second)
	}
	send("alice|bob") // alice's 31st within 60 s: lost for her, delivered to bob
	if d := s.Dropped(); len(d) != 1 || fmt.Sprint(d[0].ToUser) != "[alice]" {
		t.Fatalf("dropped = %+v, want one message lost for alice", d)
	}
	if sent := s.Sent(); len(sent) != 31 || fmt.Sprint(sent[30].ToUser) != "[bob]" {
		t.Errorf("delivered %d, last to %v; want 31, the last to bob only", len(sent), sent[len(sent)-1].ToUser)
	}
	advance(30 * time.Second) // the first send is now 60 s old: one slot is free
	send("alice")
	send("alice")
	if got := len(s.Dropped()); got != 2 {
		t.Errorf("dropped %d, want 2 (one slot freed, the next over again)", got)
	}
	// 1000 an hour: 30 a minute for 33 more minutes reaches it.
	for range 34 * 30 {
		send("carol")
		advance(2 * time.Second)
	}
	if got, want := len(s.Dropped()), 2+34*30-1000; got != want {
		t.Errorf("dropped %d, want %d after 1020 sends to carol within an hour", got, want)
	}
}

// While a token is valid gettoken hands out the same one, with its remaining lifetime.
func TestServerGettokenSameTokenWhileValid(t *testing.T) {
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := NewServer(t, WithServerClock(clock))
	get := func() (string, int) {
		_, out := wx(t, s, http.MethodGet, "/cgi-bin/gettoken", url.Values{"corpid": {FakeCorpID}, "corpsecret": {FakeCorpSecret}}, "")
		tok, _ := out["access_token"].(string)
		exp, _ := out["expires_in"].(float64)
		return tok, int(exp)
	}
	first, exp := get()
	if exp != 7200 {
		t.Errorf("first expires_in = %d, want 7200", exp)
	}
	mu.Lock()
	now = now.Add(7000 * time.Second)
	mu.Unlock()
	if tok, exp := get(); tok != first || exp != 200 {
		t.Errorf("again while valid: %q, %d; want the same token with 200 s left", tok, exp)
	}
	s.ExpireTokensLagging()
	if tok, _ := get(); tok != first {
		t.Errorf("lagging: got a new token, want the rejected one once more")
	}
	if tok, exp := get(); tok == first || exp != 7200 {
		t.Errorf("after the lag: %q, %d; want a new token for 7200 s", tok, exp)
	}
	if s.TokensIssued() != 2 {
		t.Errorf("issued %d tokens, want 2", s.TokensIssued())
	}
}

// A response_code updates its card once, within 72 h; otherwise 60140.
func TestServerResponseCodeExpires(t *testing.T) {
	now := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := NewServer(t, WithServerClock(clock), WithStrictResponseCodes())
	s.AddResponseCode("rc-old")
	mu.Lock()
	now = now.Add(72 * time.Hour)
	mu.Unlock()
	s.AddResponseCode("rc-fresh")
	tok := token(t, s)
	upd := func(code string) int {
		_, out := wx(t, s, http.MethodPost, "/cgi-bin/message/update_template_card", url.Values{"access_token": {tok}},
			fmt.Sprintf(`{"userids":["a"],"agentid":%d,"response_code":%q,"button":{"replace_name":"done"}}`, FakeAgentID, code))
		return errcode(out)
	}
	if got := upd("rc-old"); got != ErrcodeResponseCodeInvalid {
		t.Errorf("72 h old code: errcode %d, want %d", got, ErrcodeResponseCodeInvalid)
	}
	if got := upd("rc-fresh"); got != 0 {
		t.Errorf("fresh code: errcode %d, want 0", got)
	}
}

// appchat/create refuses chat ids WeCom refuses: at most 32 characters of 0-9a-zA-Z.
func TestServerAppChatCreateRules(t *testing.T) {
	s := NewServer(t)
	q := url.Values{"access_token": {token(t, s)}}
	tests := []struct {
		name, body string
		want       int
	}{
		{"ok", `{"chatid":"opsroom1","userlist":["a","b"]}`, 0},
		{"dash", `{"chatid":"ops-room","userlist":["a","b"]}`, ErrcodeInvalidChatID},
		{"33 chars", `{"chatid":"` + strings.Repeat("a", 33) + `","userlist":["a","b"]}`, ErrcodeInvalidChatID},
		{"one member", `{"chatid":"opsroom2","userlist":["a"]}`, ErrcodeInvalidChatUsers},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, out := wx(t, s, http.MethodPost, "/cgi-bin/appchat/create", q, tt.body); errcode(out) != tt.want {
				t.Errorf("errcode %d, want %d (%v)", errcode(out), tt.want, out)
			}
		})
	}
}

// LoseAnswerNext delivers the message and then drops the connection unanswered.
func TestServerLoseAnswer(t *testing.T) {
	s := NewServer(t)
	q := url.Values{"access_token": {token(t, s)}}
	s.LoseAnswerNext("message/send", 1)
	resp, err := http.Post(s.URL()+"/cgi-bin/message/send?"+q.Encode(), "application/json",
		strings.NewReader(fmt.Sprintf(`{"touser":"a","msgtype":"text","agentid":%d,"text":{"content":"hi"}}`, FakeAgentID)))
	if err == nil {
		resp.Body.Close()
		t.Fatal("lost answer: got a response, want a dropped connection")
	}
	if got := len(s.Sent()); got != 1 {
		t.Errorf("delivered %d, want 1 (processed before the answer was lost)", got)
	}
}

func TestServerTokenExpiryAndInjection(t *testing.T) {
	s := NewServer(t)
	tok := token(t, s)
	body := fmt.Sprintf(`{"touser":"a","msgtype":"text","agentid":%d,"text":{"content":"hi"}}`, FakeAgentID)
	q := url.Values{"access_token": {tok}}
	s.ExpireTokens()
	if _, out := wx(t, s, http.MethodPost, "/cgi-bin/message/send", q, body); errcode(out) != ErrcodeExpiredToken {
		t.Errorf("after ExpireTokens errcode = %d, want 42001", errcode(out))
	}
	tok = token(t, s)
	q.Set("access_token", tok)
	s.FailNext("message/send", 60020, 1)
	s.FailHTTP("/cgi-bin/message/send", 503, 1)
	if _, out := wx(t, s, http.MethodPost, "/cgi-bin/message/send", q, body); errcode(out) != 60020 {
		t.Errorf("injected errcode = %d, want 60020", errcode(out))
	}
	if status, _ := wx(t, s, http.MethodPost, "/cgi-bin/message/send", q, body); status != 503 {
		t.Errorf("injected status = %d, want 503", status)
	}
	if _, out := wx(t, s, http.MethodPost, "/cgi-bin/message/send", q, body); errcode(out) != 0 {
		t.Errorf("after injections errcode = %d, want 0", errcode(out))
	}
	calls := s.Calls()
	if got := calls[len(calls)-2].Status; got != 503 {
		t.Errorf("recorded status = %d, want 503", got)
	}
}

func TestServerCardUpdateAndCut(t *testing.T) {
	s := NewServer(t, WithStrictResponseCodes())
	tok := token(t, s)
	q := url.Values{"access_token": {tok}}
	upd := func(code string) int {
		_, out := wx(t, s, http.MethodPost, "/cgi-bin/message/update_template_card", q,
			fmt.Sprintf(`{"userids":["a"],"agentid":%d,"response_code":%q,"button":{"replace_name":"done"}}`, FakeAgentID, code))
		return errcode(out)
	}
	if got := upd("never-issued"); got != ErrcodeResponseCodeInvalid {
		t.Errorf("unknown code in strict mode: errcode = %d, want %d", got, ErrcodeResponseCodeInvalid)
	}
	s.AddResponseCode("rc1")
	if got := upd("rc1"); got != 0 {
		t.Errorf("first use: errcode = %d, want 0", got)
	}
	if got := upd("rc1"); got != ErrcodeResponseCodeInvalid {
		t.Errorf("second use: errcode = %d, want %d", got, ErrcodeResponseCodeInvalid)
	}
	long := strings.Repeat("字", 1000) // 3000 bytes
	_, out := wx(t, s, http.MethodPost, "/cgi-bin/message/send", q,
		fmt.Sprintf(`{"touser":"a","msgtype":"text","agentid":%d,"text":{"content":%q}}`, FakeAgentID, long))
	if errcode(out) != 0 {
		t.Fatalf("send: %v", out)
	}
	m := s.Sent()[0]
	if !m.Truncated || len(m.Content) != 2048 {
		t.Errorf("content %d bytes, truncated %v; want cut at 2048 like WeCom", len(m.Content), m.Truncated)
	}
}

func TestServerAppChatAndRobot(t *testing.T) {
	s := NewServer(t, WithRobotKeys("k1"))
	q := url.Values{"access_token": {token(t, s)}}
	if _, out := wx(t, s, http.MethodPost, "/cgi-bin/appchat/send", q, `{"chatid":"c1","msgtype":"text","text":{"content":"x"}}`); errcode(out) != ErrcodeChatNotFound {
		t.Errorf("send to unknown chat: errcode %d, want %d", errcode(out), ErrcodeChatNotFound)
	}
	if _, out := wx(t, s, http.MethodPost, "/cgi-bin/appchat/create", q, `{"chatid":"c1","name":"n","owner":"a","userlist":["a","b"]}`); errcode(out) != 0 {
		t.Errorf("create: %v", out)
	}
	if _, out := wx(t, s, http.MethodPost, "/cgi-bin/appchat/send", q, `{"chatid":"c1","msgtype":"template_card","template_card":{}}`); errcode(out) != ErrcodeInvalidMsgType {
		t.Errorf("card to appchat: errcode %d, want %d", errcode(out), ErrcodeInvalidMsgType)
	}
	if _, out := wx(t, s, http.MethodPost, "/cgi-bin/webhook/send", url.Values{"key": {"k2"}}, `{"msgtype":"text","text":{"content":"x"}}`); errcode(out) != ErrcodeInvalidRobotKey {
		t.Errorf("unknown robot key: errcode %d, want %d", errcode(out), ErrcodeInvalidRobotKey)
	}
	if _, out := wx(t, s, http.MethodPost, "/cgi-bin/webhook/send", url.Values{"key": {"k1"}}, `{"msgtype":"markdown","markdown":{"content":"**x**"}}`); errcode(out) != 0 {
		t.Errorf("robot send: %v", out)
	}
	if status, _ := wx(t, s, http.MethodGet, "/cgi-bin/message/send", q, ""); status != http.StatusMethodNotAllowed {
		t.Errorf("GET message/send: status %d, want 405", status)
	}
	if status, _ := wx(t, s, http.MethodGet, "/cgi-bin/nope", q, ""); status != http.StatusNotFound {
		t.Errorf("unknown path: status %d, want 404", status)
	}
}

func TestServerWaitSent(t *testing.T) {
	s := NewServer(t)
	q := url.Values{"access_token": {token(t, s)}}
	go func() {
		for range 3 {
			body := fmt.Sprintf(`{"touser":"a","msgtype":"text","agentid":%d,"text":{"content":"x"}}`, FakeAgentID)
			resp, err := http.Post(s.URL()+"/cgi-bin/message/send?"+q.Encode(), "application/json", bytes.NewBufferString(body))
			if err == nil {
				resp.Body.Close()
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	got, err := s.WaitSent(ctx, 3)
	if err != nil || len(got) < 3 {
		t.Fatalf("WaitSent = %d, %v; want 3", len(got), err)
	}
	short, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := s.WaitSent(short, 4); err == nil {
		t.Errorf("WaitSent on a cancelled context = nil error, want one")
	}
}
