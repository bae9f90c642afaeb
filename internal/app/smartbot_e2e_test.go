package app_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/schedule"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

const (
	sbBotID  = "aib-e2e-bot"
	sbSecret = "smartbot-SECRET-5d1e-never-log-me"
	sbGroup  = "wrkSFfCgAAe2egroup"
)

// smartbotYAML is the wecom.smartbot section of a long-connection bot on fake.
func smartbotYAML(fake *wecomtest.SmartBot) string {
	return "  smartbot:\n    bot_id: " + sbBotID + "\n    name: 运维助手\n    secret: " + sbSecret + "\n    ws_url: " + fake.URL() + "\n"
}

// startSmartbot runs a bot with a smart bot only (no self-built app) on fake and waits
// until it subscribed.
func startSmartbot(t *testing.T, env *apptest.Env, fake *wecomtest.SmartBot, o botOptions) *bot {
	t.Helper()
	o.cfg.SmartBot, o.cfg.NoApp = smartbotYAML(fake), true
	b := startBot(t, env, o)
	checkNoSmartbotSecrets(t, b)
	waitSB(t, fake.Events, "subscribed")
	return b
}

// checkNoSmartbotSecrets checks, when the test ends, that the smart bot's secrets never
// reached b's log or data_dir.
func checkNoSmartbotSecrets(t *testing.T, b *bot) {
	t.Cleanup(func() {
		b.stop()
		for _, secret := range []string{sbSecret, sbToken, sbAESKey} {
			if strings.Contains(b.logs.String(), secret) {
				t.Errorf("a smart bot secret reached the log")
			}
		}
	})
}

func newSmartbotFake(t *testing.T) *wecomtest.SmartBot {
	fake := wecomtest.NewSmartBot(sbBotID, sbSecret)
	t.Cleanup(fake.Close)
	return fake
}

func waitSB(t *testing.T, events chan wecomtest.SmartBotEvent, kind string) wecomtest.SmartBotEvent {
	t.Helper()
	for {
		select {
		case e := <-events:
			if e.Kind == kind {
				return e
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("no %s event from the fake", kind)
		}
	}
}

// nextOut waits for the bot's next message to chat.
func nextOut(t *testing.T, fake *wecomtest.SmartBot, chat string) wecomtest.SmartBotOut {
	t.Helper()
	for {
		select {
		case o := <-fake.Out:
			if o.ChatID == chat {
				return o
			}
			t.Logf("message to another chat %s: %.60q", o.ChatID, o.Content)
		case <-time.After(15 * time.Second):
			t.Fatalf("no message to %s", chat)
		}
	}
}

func deliver(t *testing.T, fake *wecomtest.SmartBot, m wecomtest.SmartBotMessage) (reqID, msgID string) {
	t.Helper()
	reqID, msgID, err := fake.Deliver(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return reqID, msgID
}

var codeRe = regexp.MustCompile(`确认 ([A-Z0-9]+)`)

func TestSmartbotGroupListAndConfirmedShutdownE2E(t *testing.T) {
	env := apptest.NewEnv(t)
	fake := newSmartbotFake(t)
	startSmartbot(t, env, fake, botOptions{})

	// vm list in the group, the @mention after the text as a real client sends it.
	reqID, _ := deliver(t, fake, wecomtest.SmartBotMessage{User: apptest.Operator, ChatID: sbGroup, Text: "vm list@运维助手 "})
	out := nextOut(t, fake, sbGroup)
	if out.Cmd != "aibot_respond_msg" || out.ReqID != reqID || out.MsgType != "stream" || !out.Finish {
		t.Errorf("list answer = %+v", out)
	}
	contains(t, "vm list in the group", out.Content, "homeassistant", "docker-host")

	// vm shutdown 104: a text code in the group, not a card.
	deliver(t, fake, wecomtest.SmartBotMessage{User: apptest.Operator, ChatID: sbGroup, Text: "@运维助手 vm shutdown 104"})
	ask := nextOut(t, fake, sbGroup)
	if ask.MsgType != "stream" {
		t.Fatalf("confirmation in a group is %s, want markdown in a stream", ask.MsgType)
	}
	m := codeRe.FindStringSubmatch(ask.Content)
	if m == nil {
		t.Fatalf("no confirmation code in %q", ask.Content)
	}
	code := m[1]

	// Another member of the group types the code: refused, nothing sent to PVE.
	deliver(t, fake, wecomtest.SmartBotMessage{User: apptest.Admin, ChatID: sbGroup, Text: "@运维助手 确认 " + code})
	contains(t, "another member's confirmation", nextOut(t, fake, sbGroup).Content, "不是你发起的")
	if n := env.PVE.Count("POST", "/nodes/pve2/qemu/104/status/shutdown"); n != 0 {
		t.Fatalf("shutdown POSTs after another member's attempt = %d, want 0", n)
	}
	deliver(t, fake, wecomtest.SmartBotMessage{User: apptest.Admin, ChatID: sbGroup, Text: "@运维助手 取消 " + code})
	contains(t, "another member's cancel", nextOut(t, fake, sbGroup).Content, "不是你发起的")

	// The member who asked confirms: exactly one shutdown POST, the result in the group.
	deliver(t, fake, wecomtest.SmartBotMessage{User: apptest.Operator, ChatID: sbGroup, Text: "@运维助手 确认 " + code})
	res := nextOut(t, fake, sbGroup)
	for !strings.Contains(res.Content, "已关机") {
		res = nextOut(t, fake, sbGroup) // "running" first when the task is slow
	}
	contains(t, "result", res.Content, "docker-host")
	if n := env.PVE.Count("POST", "/nodes/pve2/qemu/104/status/shutdown"); n != 1 {
		t.Errorf("shutdown POSTs = %d, want exactly 1", n)
	}
}

func TestSmartbotReconnectLosesNothingAndAnswersOnceE2E(t *testing.T) {
	// Whether WeCom takes a reply to a req_id of the connection before is not documented:
	// both ways, the message is answered once.
	for _, perConn := range []bool{false, true} {
		t.Run(map[bool]string{false: "req_id outlives its connection", true: "req_id bound to its connection"}[perConn], func(t *testing.T) {
			testReconnect(t, perConn)
		})
	}
}

func testReconnect(t *testing.T, reqIDsPerConnection bool) {
	env := apptest.NewEnv(t)
	fake := newSmartbotFake(t)
	fake.ReqIDsPerConnection = reqIDsPerConnection
	startSmartbot(t, env, fake, botOptions{})

	// The connection dies right after WeCom delivered a message.
	msg := wecomtest.SmartBotMessage{User: apptest.Operator, ChatID: sbGroup, Text: "@运维助手 vm list"}
	_, msg.MsgID = deliver(t, fake, msg)
	fake.Drop()
	waitSB(t, fake.Events, "subscribed") // the bot came back
	// WeCom, unsure, delivers it again on the new connection.
	deliver(t, fake, msg)
	// Then a marker: once it is answered, the duplicate has long been seen.
	deliver(t, fake, wecomtest.SmartBotMessage{User: apptest.Operator, ChatID: sbGroup, Text: "@运维助手 help"})

	// Both the list and the marker are answered; the list once.
	lists, marker := 0, false
	for lists == 0 || !marker {
		o := nextOut(t, fake, sbGroup)
		if strings.Contains(o.Content, "docker-host") {
			lists++
		} else {
			marker = true
		}
	}
	if lists != 1 {
		t.Errorf("vm list answered %d times, want exactly once", lists)
	}
	select {
	case o := <-fake.Out:
		t.Errorf("one more answer: %.80q", o.Content)
	default:
	}
}

func TestSmartbotSecondProcessIsDetectedE2E(t *testing.T) {
	env := apptest.NewEnv(t)
	fake := newSmartbotFake(t)
	first := startSmartbot(t, env, fake, botOptions{})
	second := startSmartbot(t, env, fake, botOptions{}) // WeCom kicks the first

	st := waitSmartbotState(t, first, "replaced")
	contains(t, "first bot's /status", st.Problem, "same BotID")
	contains(t, "first bot's log", first.logs.String(), "another connection with the same BotID took over")
	if s := waitSmartbotState(t, second, "online"); s.Reconnects != 0 {
		t.Errorf("second bot reconnected %d times", s.Reconnects)
	}
	// No storm: the second keeps the connection and answers.
	deliver(t, fake, wecomtest.SmartBotMessage{User: apptest.Operator, Text: "help"})
	nextOut(t, fake, apptest.Operator)
	select {
	case e := <-fake.Events:
		if e.Kind == "subscribed" || e.Kind == "kicked" {
			t.Errorf("after the takeover: %+v", e)
		}
	default:
	}
}

type sbStatus struct {
	State      string `json:"state"`
	Problem    string `json:"problem"`
	Reconnects int    `json:"reconnects"`
}

// waitSmartbotState reads b's /status until the smart bot is in state.
func waitSmartbotState(t *testing.T, b *bot, state string) sbStatus {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(b.adminURL("/status"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var rep struct {
			SmartBot *sbStatus `json:"smartbot"`
		}
		if err := json.Unmarshal(body, &rep); err != nil || rep.SmartBot == nil {
			t.Fatalf("/status: %v: %s", err, body)
		}
		if rep.SmartBot.State == state {
			return *rep.SmartBot
		}
		if time.Now().After(deadline) {
			t.Fatalf("smart bot state %q, want %q", rep.SmartBot.State, state)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const (
	sbToken = "sbTOKEN7c1fNeverLog"
)

// sbAESKey is the smart bot's own EncodingAESKey (43 characters).
var sbAESKey = strings.TrimRight(base64.StdEncoding.EncodeToString([]byte("smartbot-aes-key-0123456789abcde")), "=")

// startSmartbotWebhook runs a bot with a webhook-mode smart bot only and returns the
// sender that plays WeCom for it.
func startSmartbotWebhook(t *testing.T, env *apptest.Env, o botOptions) (*bot, *wecomtest.SmartBotSender) {
	t.Helper()
	o.cfg.NoApp = true
	o.cfg.SmartBot = "  smartbot:\n    mode: webhook\n    bot_id: " + sbBotID + "\n    name: 运维助手\n    token: " + sbToken +
		"\n    encoding_aes_key: " + sbAESKey + "\n    callback_path: /wecom/smartbot\n"
	b := startBot(t, env, o)
	s := &wecomtest.SmartBotSender{URL: "http://" + b.app.Addr() + "/wecom/smartbot", Token: sbToken, EncodingAESKey: sbAESKey, BotID: sbBotID}
	s.StartResponseURLs(t)
	checkNoSmartbotSecrets(t, b)
	return b, s
}

// finish refreshes a stream until WeCom would be told it is finished.
func finish(t *testing.T, s *wecomtest.SmartBotSender, rep wecomtest.SmartBotReply) wecomtest.SmartBotReply {
	t.Helper()
	ctx := context.Background()
	for i := 0; !rep.Stream.Finish; i++ {
		if i == 100 {
			t.Fatalf("stream %s never finished", rep.Stream.ID)
		}
		var err error
		if rep, err = s.Refresh(ctx, rep.Stream.ID); err != nil {
			t.Fatal(err)
		}
	}
	return rep
}

func TestSmartbotWebhookGroupFlowsE2E(t *testing.T) {
	env := apptest.NewEnv(t)
	// A tiny quick wait: the shutdown's result comes after the stream closed, through
	// the message's response_url.
	_, s := startSmartbotWebhook(t, env, botOptions{quickWait: time.Millisecond})
	ctx := context.Background()

	if status, body, err := s.Verify(ctx, "5927782489442352469"); err != nil || status != 200 || body != "5927782489442352469" {
		t.Fatalf("URL check = %d %q %v", status, body, err)
	}

	rep, err := s.Text(ctx, apptest.Operator, sbGroup, "vm list@运维助手 ", "")
	if err != nil {
		t.Fatal(err)
	}
	rep = finish(t, s, rep)
	contains(t, "vm list over the webhook", rep.Stream.Content, "homeassistant", "docker-host")

	// WeCom's retry of a message (same msgid) is not run again: same stream, no new work.
	msgID := "CAIQ16HMjQYYretry"
	first, err := s.Text(ctx, apptest.Operator, sbGroup, "@运维助手 vm shutdown 104", msgID)
	if err != nil {
		t.Fatal(err)
	}
	first = finish(t, s, first)
	again, err := s.Text(ctx, apptest.Operator, sbGroup, "@运维助手 vm shutdown 104", msgID)
	if err != nil {
		t.Fatal(err)
	}
	if again.Stream.ID != first.Stream.ID || again.Stream.Content != first.Stream.Content {
		t.Errorf("retry answered %+v, want the first answer %+v", again, first)
	}
	m := codeRe.FindStringSubmatch(first.Stream.Content)
	if m == nil {
		t.Fatalf("no confirmation code in %q", first.Stream.Content)
	}

	// Another member cannot confirm.
	other, err := s.Text(ctx, apptest.Admin, sbGroup, "@运维助手 确认 "+m[1], "")
	if err != nil {
		t.Fatal(err)
	}
	contains(t, "another member's confirmation", finish(t, s, other).Stream.Content, "不是你发起的")
	if n := env.PVE.Count("POST", "/nodes/pve2/qemu/104/status/shutdown"); n != 0 {
		t.Fatalf("shutdown POSTs after another member's attempt = %d", n)
	}

	// The asker confirms: one POST; "running" in the stream, the result at response_url.
	ok, err := s.Text(ctx, apptest.Operator, sbGroup, "@运维助手 确认 "+m[1], "")
	if err != nil {
		t.Fatal(err)
	}
	// The result finishes the stream when it comes while the stream is open, or goes to the
	// response_url once, when the stream closed first: either way, exactly once.
	if done := finish(t, s, ok).Stream.Content; !strings.Contains(done, "已关机") {
		lctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		defer cancel()
		late, err := s.Late(lctx)
		if err != nil {
			t.Fatalf("the stream ended with %q and no late answer came at response_url", done)
		}
		if late.MsgType != "markdown" {
			t.Errorf("late answer = %+v", late)
		}
		contains(t, "late result", late.Content, "docker-host", "已关机")
	}
	if n := env.PVE.Count("POST", "/nodes/pve2/qemu/104/status/shutdown"); n != 1 {
		t.Errorf("shutdown POSTs = %d, want exactly 1", n)
	}
}

func TestSmartbotPushesToAGroupE2E(t *testing.T) {
	env := apptest.NewEnv(t)
	fake := newSmartbotFake(t)
	clock := schedule.NewManualClock(time.Date(2026, 5, 1, 0, 40, 0, 0, time.UTC)) // 08:40 in Shanghai
	startSmartbot(t, env, fake, botOptions{clock: clock, cfg: apptest.ConfigOptions{Extra: `timezone: Asia/Shanghai
targets:
  family: { smartbot_chat: ` + sbGroup + ` }
schedules:
  - name: morning
    cron: "5 9 * * *"
    report: summary
    to: [family]
alerts:
  interval: 1m
  to: [family]
  rules:
    storage_usage: { enabled: false }
    guest_stopped: { enabled: false }
`}})
	// WeCom lets the bot post only to a chat that has talked to it.
	deliver(t, fake, wecomtest.SmartBotMessage{User: apptest.Operator, ChatID: sbGroup, Text: "@运维助手 help"})
	nextOut(t, fake, sbGroup)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if !clock.BlockUntil(ctx.Done(), 3) {
		t.Fatal("scheduler did not start")
	}
	clock.Set(time.Date(2026, 5, 1, 1, 5, 0, 0, time.UTC))
	sum := nextOut(t, fake, sbGroup)
	if sum.Cmd != "aibot_send_msg" || sum.MsgType != "markdown" || !strings.HasPrefix(sum.Content, "**集群概览** · 2026-05-01 09:05") {
		t.Errorf("summary = %+v", sum)
	}

	env.PVE.SetNodeOnline("pve2", false)
	for i := 0; ; i++ {
		if i == 60 {
			t.Fatal("no alert after an hour offline")
		}
		clock.Advance(time.Minute)
		select {
		case o := <-fake.Out:
			if o.ChatID != sbGroup || o.Cmd != "aibot_send_msg" {
				t.Fatalf("alert went to %+v", o)
			}
			contains(t, "alert", o.Content, "pve2")
			return
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// In a 1:1 chat a confirmation is a card; its button comes back as a card event on the
// long connection, and the answer goes to the chat (WeCom takes no stream for a click).
func TestSmartbotSingleChatCardClickE2E(t *testing.T) {
	env := apptest.NewEnv(t)
	fake := newSmartbotFake(t)
	startSmartbot(t, env, fake, botOptions{})

	deliver(t, fake, wecomtest.SmartBotMessage{User: apptest.Operator, Text: "vm shutdown 104"})
	card := nextOut(t, fake, apptest.Operator)
	if card.MsgType != "template_card" {
		t.Fatalf("1:1 confirmation = %+v, want a card", card)
	}
	var tc struct {
		TaskID  string `json:"task_id"`
		Buttons []struct {
			Key string `json:"key"`
		} `json:"button_list"`
	}
	if err := json.Unmarshal(card.Card, &tc); err != nil || len(tc.Buttons) == 0 {
		t.Fatalf("card %s: %v", card.Card, err)
	}
	confirm := tc.Buttons[0].Key
	if !strings.HasPrefix(confirm, "confirm:") {
		t.Fatalf("first button %q", confirm)
	}
	deliver(t, fake, wecomtest.SmartBotMessage{User: apptest.Operator, EventKey: confirm, TaskID: tc.TaskID})
	res := nextOut(t, fake, apptest.Operator)
	for !strings.Contains(res.Content+string(res.Card), "已关机") {
		res = nextOut(t, fake, apptest.Operator)
	}
	if res.Cmd != "aibot_send_msg" {
		t.Errorf("click answered with %s, want aibot_send_msg", res.Cmd)
	}
	if n := env.PVE.Count("POST", "/nodes/pve2/qemu/104/status/shutdown"); n != 1 {
		t.Errorf("shutdown POSTs = %d, want exactly 1", n)
	}
}

// A power action that takes a while: the group sees "running" in a stream, and the
// result finishes the same stream.
func TestSmartbotPowerActionStreamsItsProgressE2E(t *testing.T) {
	env := apptest.NewEnv(t)
	fake := newSmartbotFake(t)
	startSmartbot(t, env, fake, botOptions{quickWait: time.Millisecond})
	env.PVE.SetLatency(20 * time.Millisecond) // the task outlasts the quick wait

	deliver(t, fake, wecomtest.SmartBotMessage{User: apptest.Operator, ChatID: sbGroup, Text: "@运维助手 vm shutdown 104"})
	m := codeRe.FindStringSubmatch(nextOut(t, fake, sbGroup).Content)
	if m == nil {
		t.Fatal("no confirmation code")
	}
	deliver(t, fake, wecomtest.SmartBotMessage{User: apptest.Operator, ChatID: sbGroup, Text: "@运维助手 确认 " + m[1]})
	running := nextOut(t, fake, sbGroup)
	if running.MsgType != "stream" || running.Finish {
		t.Fatalf("first answer = %+v, want an open stream", running)
	}
	done := nextOut(t, fake, sbGroup)
	if done.StreamID != running.StreamID || !done.Finish || done.ReqID != running.ReqID {
		t.Fatalf("result = %+v, want it to finish stream %s", done, running.StreamID)
	}
	contains(t, "finished stream", done.Content, running.Content, "已关机")
	if n := env.PVE.Count("POST", "/nodes/pve2/qemu/104/status/shutdown"); n != 1 {
		t.Errorf("shutdown POSTs = %d, want exactly 1", n)
	}
}

// An app and a smart bot in one bot: each conversation is answered where it came from,
// and the follow-up of an action started in the group goes to the group.
func TestAppAndSmartbotTogetherE2E(t *testing.T) {
	env := apptest.NewEnv(t)
	fake := newSmartbotFake(t)
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{SmartBot: smartbotYAML(fake)}})
	checkNoSmartbotSecrets(t, b)
	waitSB(t, fake.Events, "subscribed")

	b.text(apptest.Operator, "vm list")
	contains(t, "app answer", apptest.MessageText(b.waitSent(1)[0]), "docker-host")

	deliver(t, fake, wecomtest.SmartBotMessage{User: apptest.Operator, ChatID: sbGroup, Text: "@运维助手 vm list"})
	contains(t, "group answer", nextOut(t, fake, sbGroup).Content, "docker-host")
	if n := len(env.WeCom.Sent()); n != 1 {
		t.Errorf("the app sent %d messages, want only its own answer", n)
	}
}
