package wecomtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
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
	s := NewServer(t, WithMembers("alice", "bob"))
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
		{"other agentid", tok, `{"touser":"alice","msgtype":"text","agentid":7,"text":{"content":"hi"}}`, ErrcodeInvalidAgentID, ""},
		{"empty text", tok, fmt.Sprintf(`{"touser":"alice","msgtype":"text","agentid":%d,"text":{"content":""}}`, FakeAgentID), ErrcodeEmptyContent, ""},
		{"some invalid users", tok, fmt.Sprintf(`{"touser":"alice|eve","msgtype":"text","agentid":%d,"text":{"content":"hi"}}`, FakeAgentID), 0, "eve"},
		{"all invalid users", tok, fmt.Sprintf(`{"touser":"eve","msgtype":"text","agentid":%d,"text":{"content":"hi"}}`, FakeAgentID), ErrcodeAllUsersInvalid, ""},
		{"card", tok, card("task-1"), 0, ""},
		{"reused task id", tok, card("task-1"), ErrcodeTaskIDReused, ""},
		{"bad task id", tok, card("task 2!"), ErrcodeInvalidParameter, ""},
		{"text_notice without card_action", tok, fmt.Sprintf(`{"touser":"alice","msgtype":"template_card","agentid":%d,
			"template_card":{"card_type":"text_notice","main_title":{"title":"t"}}}`, FakeAgentID), ErrcodeInvalidParameter, ""},
		{"card url without scheme", tok, notice(`"card_action":{"type":1,"url":"pve.lan:8006"}`), ErrcodeURLNoScheme, ""},
		{"card url missing", tok, notice(`"card_action":{"type":1}`), ErrcodeURLMissing, ""},
		{"four jump links", tok, notice(`"card_action":{"type":1,"url":"https://a"},"jump_list":[` +
			`{"type":1,"title":"a","url":"https://a"},{"type":1,"title":"b","url":"https://b"},` +
			`{"type":1,"title":"c","url":"https://c"},{"type":1,"title":"d","url":"https://d"}]`), ErrcodeJumpListTooLong, ""},
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
	if got := upd("never-issued"); got != ErrcodeResponseCodeUsed {
		t.Errorf("unknown code in strict mode: errcode = %d, want %d", got, ErrcodeResponseCodeUsed)
	}
	s.AddResponseCode("rc1")
	if got := upd("rc1"); got != 0 {
		t.Errorf("first use: errcode = %d, want 0", got)
	}
	if got := upd("rc1"); got != ErrcodeResponseCodeUsed {
		t.Errorf("second use: errcode = %d, want %d", got, ErrcodeResponseCodeUsed)
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
