package app_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/schedule"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

// secretsPush sends an hourly summary to a robot whose key is apptest.RobotKey, and
// node alerts to the admin.
var secretsPush = `timezone: UTC
targets:
  robot:
    webhook_key: "` + apptest.RobotKey + `"
  admins:
    users: [` + apptest.Admin + `]
schedules:
  - name: hourly
    cron: "0 * * * *"
    report: summary
    to: [robot]
alerts:
  interval: 1m
  to: [admins]
  rules:
    storage_usage: { enabled: false }
    guest_stopped: { enabled: false }
`

// TestNoSecretLeaksE2E runs one bot, configured with distinctive secrets, through a
// representative day: help, a list, a confirmed shutdown with a click, a refusal, an
// unknown user, the audit, WeCom refusing (60020, 40001), a scheduled report to a robot,
// an alert, PVE refusing the token (401) and presenting another certificate, and a
// refused reload. Then no log line, error, reply, request body sent to WeCom, /metrics or
// /status body, audit entry or byte of the store's files may hold a secret or an access
// token. (startBot's cleanup checks the log, the replies and data_dir once more after the
// bot stopped.)
func TestNoSecretLeaksE2E(t *testing.T) {
	env := apptest.NewEnv(t)
	clock := schedule.NewManualClock(time.Date(2026, 5, 1, 8, 30, 0, 0, time.UTC))
	dataDir := t.TempDir()
	b := startBot(t, env, botOptions{clock: clock, cfg: apptest.ConfigOptions{DataDir: dataDir, Extra: secretsPush}})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Ordinary chat.
	say(t, b, apptest.Admin, "help", "帮助")
	say(t, b, apptest.Viewer, "vm list", "homeassistant")
	from := len(env.WeCom.Sent())
	b.text(apptest.Operator, "关机 docker-host")
	key := confirmKey(t, waitMessage(t, b, "docker-host", from))
	b.click(apptest.Operator, key, "rc-owner")
	b.waitUpdates(1)
	say(t, b, apptest.Viewer, "启动 dev-ubuntu", "只读成员")
	say(t, b, "XiaoMing", "vm list", "管理员")
	say(t, b, apptest.Admin, "audit 50", "docker-host")

	// WeCom refuses: the server's IP is not trusted (60020), then the secret is wrong
	// (40001) when the bot fetches a new token. Both errmsgs name the caller.
	env.WeCom.FailNext("message/send", 60020, 1)
	b.text(apptest.Admin, "help")
	waitCall(t, b, "/cgi-bin/message/send", 60020)
	env.WeCom.ExpireTokens()
	env.WeCom.FailNext("gettoken", wecomtest.ErrcodeInvalidSecret, 1)
	b.text(apptest.Admin, "帮助")
	waitCall(t, b, "/cgi-bin/gettoken", wecomtest.ErrcodeInvalidSecret)
	say(t, b, apptest.Admin, "vm list", "homeassistant") // the next token works

	// A scheduled report to the robot, then an alert to the admin.
	if !clock.BlockUntil(ctx.Done(), 2) {
		t.Fatal("scheduler did not start")
	}
	clock.Set(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	waitFor(t, "the report to the robot", func() bool { return sentVia(env, "robot") > 0 })
	env.PVE.SetNodeOnline("pve2", false)
	for range 3 { // each step runs a check and waits for it (a scheduled one may be skipped)
		clock.Advance(time.Minute)
		if err := b.app.CheckAlertsNow(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the node-offline alert", func() bool { return alerted(env) })
	env.PVE.SetNodeOnline("pve2", true)

	// PVE refuses the revoked token (401), then presents another certificate.
	env.PVE.RevokeToken(pvetest.HomeLabTokenID)
	say(t, b, apptest.Admin, "启动 dev-ubuntu", "令牌") // the guest list may come from a cache
	env.PVE.RotateCertificate()
	say(t, b, apptest.Admin, "启动 kali-lab", "指纹")

	// A reload whose file is broken next to the secrets: refused, and the error (in the log
	// and /status) must not quote them.
	raw, err := os.ReadFile(b.cfg.Path)
	if err != nil {
		t.Fatal(err)
	}
	broken := strings.NewReplacer(
		"token: \""+apptest.CallbackToken+"\"", "token: \""+apptest.CallbackToken+"!\"",
		"webhook_key: \""+apptest.RobotKey+"\"", "webhook_key: [\""+apptest.RobotKey+"\"]",
	).Replace(string(raw))
	if broken == string(raw) {
		t.Fatal("the config did not change")
	}
	writeFile(t, b.cfg.Path, broken)
	var errs []string
	if err := b.app.ReloadFile(b.cfg.Path); err == nil {
		t.Error("a broken reload succeeded")
	} else {
		errs = append(errs, err.Error())
	}

	audit := say(t, b, apptest.Admin, "audit 50", "XiaoMing")

	// Everything the bot said or wrote, while it runs.
	var texts []string
	for _, c := range env.WeCom.Calls() {
		texts = append(texts, string(c.Body), queryWithout(c.Query, "corpsecret", "access_token", "key"))
	}
	env.CheckNoSecrets(t, "requests to WeCom", texts...)
	env.CheckNoSecrets(t, "errors", errs...)
	env.CheckNoSecrets(t, "audit reply", audit)
	_, metrics := get(t, b.adminURL("/metrics"))
	env.CheckNoSecrets(t, "/metrics", metrics)
	_, status := get(t, b.adminURL("/status"))
	contains(t, "/status", status, "reload_ok")
	env.CheckNoSecrets(t, "/status", status)
	entries, err := b.app.Store().RecentAudit(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]bool{}
	for _, e := range entries {
		users[e.User] = true
		env.CheckNoSecrets(t, fmt.Sprintf("audit entry %d", e.ID), fmt.Sprintf("%+v", e))
	}
	for _, u := range []string{apptest.Operator, apptest.Viewer, "XiaoMing"} {
		if !users[u] {
			t.Errorf("no audit entry for %s: %+v", u, entries)
		}
	}
	env.CheckNoSecretsInDir(t, dataDir) // bot.db and its WAL, live
	env.CheckNoSecrets(t, "bot log", b.logs.String())

	// The paths above were taken: the checks did not pass by looking at nothing.
	for _, want := range []string{"60020", "40001", "401", "fingerprint", "config reload refused"} {
		if !strings.Contains(b.logs.String(), want) {
			t.Errorf("the log does not mention %q: that path was not exercised\nlog:\n%s", want, tail(b.logs.String(), 3000))
		}
	}
	if n := len(env.WeCom.Calls()); n < 15 {
		t.Errorf("WeCom calls = %d, want at least 15", n)
	}
}

// say sends text as user and returns the first message sent after it that contains want.
func say(t *testing.T, b *bot, user, text, want string) string {
	t.Helper()
	from := len(b.env.WeCom.Sent())
	b.text(user, text)
	return apptest.MessageText(waitMessage(t, b, want, from))
}

// waitMessage waits for a message, among those sent from index from on, that contains want.
func waitMessage(t *testing.T, b *bot, want string, from int) wecomtest.SentMessage {
	t.Helper()
	var found *wecomtest.SentMessage
	deadline := time.Now().Add(15 * time.Second)
	for found == nil {
		sent := b.env.WeCom.Sent()
		for i := from; i < len(sent) && found == nil; i++ {
			if strings.Contains(apptest.MessageText(sent[i]), want) {
				found = &sent[i]
			}
		}
		if found != nil {
			break
		}
		if time.Now().After(deadline) {
			var got []string
			for _, m := range b.env.WeCom.Sent()[from:] {
				got = append(got, tail(apptest.MessageText(m), 300))
			}
			t.Fatalf("no message containing %q after message %d; sent since: %q\nlog:\n%s", want, from, got, tail(b.logs.String(), 4000))
		}
		time.Sleep(10 * time.Millisecond)
	}
	return *found
}

// waitCall waits until the fake WeCom answered a call to path with errcode.
func waitCall(t *testing.T, b *bot, path string, errcode int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%s answered %d", path, errcode), func() bool {
		for _, c := range b.env.WeCom.Calls() {
			if c.Path == path && c.ErrCode == errcode {
				return true
			}
		}
		return false
	})
}

func sentVia(env *apptest.Env, via string) int {
	n := 0
	for _, m := range env.WeCom.Sent() {
		if m.Via == via {
			n++
		}
	}
	return n
}

func alerted(env *apptest.Env) bool {
	for _, m := range env.WeCom.Sent() {
		if strings.Contains(apptest.MessageText(m), "节点离线") {
			return true
		}
	}
	return false
}

// queryWithout encodes q without the parameters that carry a secret by design.
func queryWithout(q url.Values, drop ...string) string {
	c := url.Values{}
	for k, v := range q {
		c[k] = v
	}
	for _, k := range drop {
		c.Del(k)
	}
	return c.Encode()
}
