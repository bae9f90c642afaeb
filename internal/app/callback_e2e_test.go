package app_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

// A text "help" travels: encrypted callback -> bot -> reply recorded by the fake WeCom.
func TestHelpEndToEnd(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Admin, "help")
	sent := b.waitSent(1)
	m := sent[0]
	if got := strings.Join(m.ToUser, "|"); got != apptest.Admin {
		t.Errorf("sent to %q, want %q", got, apptest.Admin)
	}
	if m.AgentID != wecomtest.FakeAgentID {
		t.Errorf("agentid = %d, want %d", m.AgentID, wecomtest.FakeAgentID)
	}
	contains(t, "help reply", apptest.MessageText(m), "列表", "启动", "vm start 101")

	b.text(apptest.Admin, "帮助")
	contains(t, "帮助 reply", apptest.MessageText(b.waitSent(2)[1]), "关机")

	b.text(apptest.Admin, "make coffee")
	unknown := apptest.MessageText(b.waitSent(3)[2])
	contains(t, "unknown command reply", unknown, "make", "发送 帮助 查看全部命令")
	if strings.Contains(unknown, "列表") {
		t.Errorf("unknown command reply = %q, want a short answer, not the whole help", unknown)
	}
}

// Every bad callback is refused with the right status, and nothing is sent.
func TestCallbackRejects(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	good := b.send.TextXML(apptest.Admin, "help", "")
	q, body := b.send.Build(good)
	otherCorp := *b.send
	otherCorp.CorpID = "wwsomeoneelse0000"
	qc, bodyc := otherCorp.Build(good)
	with := func(k, v string) url.Values {
		c := url.Values{}
		for kk, vv := range q {
			c[kk] = vv
		}
		if v == "" {
			c.Del(k)
		} else {
			c.Set(k, v)
		}
		return c
	}
	cases := []struct {
		name   string
		query  url.Values
		body   []byte
		status int
	}{
		{"wrong signature", with("msg_signature", strings.Repeat("0", 40)), body, http.StatusForbidden},
		{"missing signature", with("msg_signature", ""), body, http.StatusForbidden},
		{"missing timestamp", with("timestamp", ""), body, http.StatusForbidden},
		{"missing nonce", with("nonce", ""), body, http.StatusForbidden},
		{"stale timestamp", with("timestamp", "1409659813"), body, http.StatusForbidden},
		{"malformed xml", q, []byte("<xml><Encrypt>"), http.StatusBadRequest},
		{"wrong corp id", qc, bodyc, http.StatusForbidden},
		{"body over 1 MiB", q, append(body, []byte(strings.Repeat(" ", 1<<20))...), http.StatusRequestEntityTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := b.send.PostRaw(context.Background(), tc.query, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			msg, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			env.CheckNoSecrets(t, "error body", string(msg))
			if strings.Contains(string(msg), "help") {
				t.Errorf("error body %q shows the plaintext", msg)
			}
		})
	}
	// The good one still works afterwards, and it is the only message sent.
	b.text(apptest.Admin, "help")
	b.waitSent(1)
	b.stop()
	if n := len(env.WeCom.Sent()); n != 1 {
		t.Errorf("sent %d messages, want only the reply to the good callback", n)
	}
}

// The same message delivered three times at once, and again after a restart on the same
// data_dir, is answered once.
func TestDuplicateDeliveriesAnsweredOnce(t *testing.T) {
	env := apptest.NewEnv(t)
	dir := t.TempDir()
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{DataDir: dir}})
	const msgID = "CAIQg/PKxgYYAiDx2Z7BBQ=="
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := b.send.TextWithID(context.Background(), apptest.Admin, "help", msgID)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("delivery answered %d, want 200", resp.StatusCode)
			}
		}()
	}
	wg.Wait()
	b.waitSent(1)
	b.stop()

	b2 := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{DataDir: dir}})
	resp, err := b2.send.TextWithID(context.Background(), apptest.Admin, "help", msgID)
	b2.expectOK(resp, err)
	// A fresh message after the retry: once it is answered, the retry has been decided.
	b2.text(apptest.Admin, "帮助")
	b2.waitSent(2)
	b2.stop()
	if n := len(env.WeCom.Sent()); n != 2 {
		t.Errorf("sent %d messages, want 2 (one per distinct message)", n)
	}
}

// The callback is acknowledged while processing is blocked (PVE hangs).
func TestAckBeforeProcessing(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	env.PVE.Hang(true)
	b.text(apptest.Admin, "vm list") // would block here if the bot processed before answering
	if n := len(env.WeCom.Sent()); n != 0 {
		t.Fatalf("sent %d messages while PVE hangs, want 0", n)
	}
	env.PVE.Hang(false)
	contains(t, "list reply", apptest.MessageText(b.waitSent(1)[0]), "homeassistant")
}

// An access token that expires mid-run is refreshed once and the message still arrives once.
func TestTokenExpiryMidRun(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Admin, "help")
	b.waitSent(1)
	env.WeCom.ExpireTokens()
	b.text(apptest.Admin, "help")
	b.waitSent(2)
	if got := env.WeCom.TokensIssued(); got != 2 {
		t.Errorf("tokens issued = %d, want 2 (one refresh)", got)
	}
	if n := len(env.WeCom.Sent()); n != 2 {
		t.Errorf("sent %d, want 2", n)
	}
}

// 60020 (this server's IP is not trusted) gives a log line an operator can act on.
func TestUntrustedIPIsExplained(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	env.WeCom.FailNext("/cgi-bin/message/send", 60020, 1)
	b.text(apptest.Admin, "help")
	waitFor(t, "the 60020 log line", func() bool { return strings.Contains(b.logs.String(), "60020") })
	waitFor(t, "the trusted IP hint", func() bool { return strings.Contains(strings.ToLower(b.logs.String()), "trusted ip") })
}
