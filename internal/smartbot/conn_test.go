package smartbot

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

const (
	testBotID  = "aib-test-bot"
	testSecret = "fake-smartbot-secret"
)

// harness is one Client against one fake, with every pause and state change visible.
type harness struct {
	fake   *wecomtest.SmartBot
	c      *Client
	msgs   chan chat.Message
	states chan Status
	pauses chan time.Duration
	fire   chan time.Time // what the pauses wait on: send to end one
}

func newHarness(t *testing.T, fake *wecomtest.SmartBot, secret string) *harness {
	t.Helper()
	h := &harness{fake: fake, msgs: make(chan chat.Message, 16), states: make(chan Status, 64),
		pauses: make(chan time.Duration, 16), fire: make(chan time.Time)}
	h.c = New(Options{URL: fake.URL(), BotID: testBotID, Secret: secret, BotName: "运维助手", Heartbeat: time.Hour,
		After: func(d time.Duration) <-chan time.Time {
			h.pauses <- d
			return h.fire
		},
		OnState: func(s Status) { h.states <- s },
	}, func(_ context.Context, m chat.Message) error { h.msgs <- m; return nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = h.c.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

func (h *harness) waitState(t *testing.T, state string) Status {
	t.Helper()
	for {
		select {
		case s := <-h.states:
			if s.State == state {
				return s
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("state %s never came", state)
		}
	}
}

func waitEvent(t *testing.T, fake *wecomtest.SmartBot, kind string) wecomtest.SmartBotEvent {
	t.Helper()
	for {
		select {
		case e := <-fake.Events:
			if e.Kind == kind {
				return e
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("fake event %s never came", kind)
		}
	}
}

func newFake(t *testing.T) *wecomtest.SmartBot {
	fake := wecomtest.NewSmartBot(testBotID, testSecret)
	t.Cleanup(fake.Close)
	return fake
}

func TestGroupMessageIsAnsweredInTheGroup(t *testing.T) {
	fake := newFake(t)
	h := newHarness(t, fake, testSecret)
	h.waitState(t, StateOnline)

	ctx := context.Background()
	reqID, msgID, err := fake.Deliver(ctx, wecomtest.SmartBotMessage{User: "WangHao", ChatID: "wrkSFfCgAAtest", Text: "vm list@运维助手 "})
	if err != nil {
		t.Fatal(err)
	}
	m := <-h.msgs
	if m.User != "WangHao" || m.Text != "vm list" || m.ID != IDPrefix+msgID || m.Kind != chat.KindText || m.Chat != "wrkSFfCgAAtest" {
		t.Fatalf("message = %+v", m)
	}
	conv, ok := ParseSource(m.Source)
	if !ok || conv.Type != ChatGroup || conv.ID != "wrkSFfCgAAtest" || conv.ReqID != reqID {
		t.Fatalf("conversation = %+v, %v", conv, ok)
	}

	r := NewReplier(h.c, nil, "zh", nil, nil)
	rctx := chat.WithSource(ctx, m.Source)
	if err := r.Reply(rctx, m.User, chat.Reply{Kind: chat.ReplyConfirm, Title: "关机 homeassistant (104)", Code: "AB12",
		Buttons: []chat.Button{{Text: "确认", Key: "confirm:x"}}}); err != nil {
		t.Fatal(err)
	}
	out := <-fake.Out
	if out.Cmd != "aibot_respond_msg" || out.ChatID != "wrkSFfCgAAtest" || out.MsgType != "stream" || !out.Finish {
		t.Fatalf("reply = %+v", out)
	}
	// A group gets no card: the confirmation is a code only the asker can use.
	if want := "确认 AB12"; !strings.Contains(out.Content, want) {
		t.Errorf("group confirmation %q does not hold %q", out.Content, want)
	}
}

func TestSingleChatConfirmationIsACard(t *testing.T) {
	fake := newFake(t)
	h := newHarness(t, fake, testSecret)
	h.waitState(t, StateOnline)
	ctx := context.Background()
	if _, _, err := fake.Deliver(ctx, wecomtest.SmartBotMessage{User: "WangHao", Text: "vm shutdown 104"}); err != nil {
		t.Fatal(err)
	}
	m := <-h.msgs
	r := NewReplier(h.c, nil, "zh", nil, nil)
	if err := r.Reply(chat.WithSource(ctx, m.Source), m.User, chat.Reply{Kind: chat.ReplyConfirm, Title: "关机", Code: "AB12",
		Buttons: []chat.Button{{Text: "确认", Key: "confirm:x"}, {Text: "取消", Key: "cancel:x"}}}); err != nil {
		t.Fatal(err)
	}
	out := <-fake.Out
	if out.MsgType != "template_card" || out.ChatID != "WangHao" || !strings.Contains(string(out.Card), "confirm:x") {
		t.Fatalf("reply = %+v", out)
	}
}

func TestRefusedReplyFallsBackToSend(t *testing.T) {
	fake := newFake(t)
	h := newHarness(t, fake, testSecret)
	h.waitState(t, StateOnline)
	ctx := context.Background()
	if _, _, err := fake.Deliver(ctx, wecomtest.SmartBotMessage{User: "WangHao", ChatID: "grp1", Text: "@运维助手 status"}); err != nil {
		t.Fatal(err)
	}
	m := <-h.msgs
	fake.RefuseCmd("aibot_respond_msg", 846605) // invalid req_id
	r := NewReplier(h.c, nil, "zh", nil, nil)
	if err := r.Reply(chat.WithSource(ctx, m.Source), m.User, chat.Reply{Kind: chat.ReplyText, Title: "ok"}); err != nil {
		t.Fatal(err)
	}
	out := <-fake.Out
	if out.Cmd != "aibot_send_msg" || out.ChatID != "grp1" || out.MsgType != "markdown" {
		t.Fatalf("fallback = %+v", out)
	}
}

func TestWrongSecretIsReportedAndRetriedWithPauses(t *testing.T) {
	fake := newFake(t)
	h := newHarness(t, fake, "not-the-secret")
	st := h.waitState(t, StateAuthFailed)
	if !strings.Contains(st.Problem, "wecom.smartbot.bot_id and secret") {
		t.Errorf("problem %q does not tell the operator what to fix", st.Problem)
	}
	if strings.Contains(st.Problem, "not-the-secret") {
		t.Errorf("problem %q holds the secret", st.Problem)
	}
	first := <-h.pauses
	h.fire <- time.Now()
	waitEvent(t, fake, "refused")
	second := <-h.pauses
	if first <= 0 || second <= 0 {
		t.Errorf("pauses %v, %v: every retry must wait", first, second)
	}
}

func TestNewerConnectionTakesOverAndTheOlderStopsFighting(t *testing.T) {
	fake := newFake(t)
	old := newHarness(t, fake, testSecret)
	old.waitState(t, StateOnline)
	waitEvent(t, fake, "subscribed")

	newer := newHarness(t, fake, testSecret)
	newer.waitState(t, StateOnline)
	st := old.waitState(t, StateReplaced)
	if !strings.Contains(st.Problem, "same BotID") {
		t.Errorf("problem = %q", st.Problem)
	}
	// The older one waits the long pause, not a reconnect backoff: no storm.
	if d := <-old.pauses; d != 15*time.Minute {
		t.Errorf("pause after being replaced = %v, want 15m", d)
	}
	// The newer one keeps working.
	if _, _, err := fake.Deliver(context.Background(), wecomtest.SmartBotMessage{User: "WangHao", Text: "help"}); err != nil {
		t.Fatal(err)
	}
	if m := <-newer.msgs; m.Text != "help" {
		t.Errorf("newer got %+v", m)
	}
}

func TestReconnectAfterALostConnection(t *testing.T) {
	fake := newFake(t)
	h := newHarness(t, fake, testSecret)
	h.waitState(t, StateOnline)
	waitEvent(t, fake, "subscribed")
	fake.Drop()
	h.waitState(t, StateRetrying)
	if d := <-h.pauses; d <= 0 {
		t.Errorf("pause %v", d)
	}
	h.fire <- time.Now()
	h.waitState(t, StateOnline)
	if s := h.c.Status(); s.Reconnects != 1 {
		t.Errorf("reconnects = %d", s.Reconnects)
	}
	if _, _, err := fake.Deliver(context.Background(), wecomtest.SmartBotMessage{User: "WangHao", Text: "help"}); err != nil {
		t.Fatal(err)
	}
	<-h.msgs
}

func TestHeartbeat(t *testing.T) {
	fake := newFake(t)
	c := New(Options{URL: fake.URL(), BotID: testBotID, Secret: testSecret, Heartbeat: 5 * time.Millisecond},
		func(context.Context, chat.Message) error { return nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = c.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	for range 3 {
		waitEvent(t, fake, "ping")
	}
}

func TestCheckOnline(t *testing.T) {
	fake := newFake(t)
	ok := New(Options{URL: fake.URL(), BotID: testBotID, Secret: testSecret}, nil)
	if err := ok.CheckOnline(context.Background()); err != nil {
		t.Errorf("right secret: %v", err)
	}
	bad := New(Options{URL: fake.URL(), BotID: testBotID, Secret: "wrong-secret-value"}, nil)
	err := bad.CheckOnline(context.Background())
	if ae, isAPI := err.(*APIError); !isAPI || ae.Op != "subscribe" {
		t.Errorf("wrong secret: %v", err)
	}
}

func TestFollowUpFinishesTheStreamOrFallsBackAfterTheWindow(t *testing.T) {
	fake := newFake(t)
	var offset atomic.Int64
	fake.Now = func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	h := newHarness(t, fake, testSecret)
	h.waitState(t, StateOnline)
	r := NewReplier(h.c, nil, "zh", nil, nil)
	ctx := context.Background()

	for _, late := range []bool{false, true} {
		if _, _, err := fake.Deliver(ctx, wecomtest.SmartBotMessage{User: "WangHao", ChatID: "grp1", Text: "@运维助手 确认 AB12"}); err != nil {
			t.Fatal(err)
		}
		m := <-h.msgs
		rctx := chat.WithSource(ctx, m.Source)
		if err := r.Reply(rctx, m.User, chat.Reply{Kind: chat.ReplyCard, Title: "正在关机", FollowUp: true}); err != nil {
			t.Fatal(err)
		}
		running := <-fake.Out
		if running.Finish {
			t.Fatalf("running = %+v, want an open stream", running)
		}
		if late {
			offset.Store(int64(7 * time.Minute)) // past the stream's 6 minutes
		}
		if err := r.Reply(rctx, m.User, chat.Reply{Kind: chat.ReplyCard, Title: "已关机"}); err != nil {
			t.Fatal(err)
		}
		res := <-fake.Out
		switch {
		case !late && (res.StreamID != running.StreamID || !res.Finish || !strings.Contains(res.Content, "正在关机")):
			t.Errorf("in time: result = %+v", res)
		case late && (res.Cmd != "aibot_send_msg" || res.ChatID != "grp1" || !strings.Contains(res.Content, "已关机")):
			t.Errorf("late: result = %+v, want a new message to the group", res)
		}
	}
}

func TestPerConversationBudget(t *testing.T) {
	fake := newFake(t)
	h := newHarness(t, fake, testSecret)
	h.waitState(t, StateOnline)
	r := NewReplier(h.c, nil, "zh", wecom.NewBudget(2, time.Hour, nil), nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	source := func(chatID string) context.Context {
		if _, _, err := fake.Deliver(ctx, wecomtest.SmartBotMessage{User: "WangHao", ChatID: chatID, Text: "help"}); err != nil {
			t.Fatal(err)
		}
		return chat.WithSource(ctx, (<-h.msgs).Source)
	}
	g1 := source("grp1")
	for i := range 2 {
		if err := r.Reply(g1, "WangHao", chat.Reply{Kind: chat.ReplyText, Title: "ok"}); err != nil {
			t.Fatalf("reply %d: %v", i+1, err)
		}
	}
	// The third within the hour waits for room: with a context that has ended, it fails.
	ended, stop := context.WithCancel(g1)
	stop()
	if err := r.Reply(ended, "WangHao", chat.Reply{Kind: chat.ReplyText, Title: "ok"}); err == nil {
		t.Error("a third message to grp1 went out within the budget of 2")
	}
	// Another conversation has its own budget.
	if err := r.Reply(source("grp2"), "WangHao", chat.Reply{Kind: chat.ReplyText, Title: "ok"}); err != nil {
		t.Errorf("grp2: %v", err)
	}
}

func TestRetriedReplyIsNotShownTwice(t *testing.T) {
	fake := newFake(t)
	h := newHarness(t, fake, testSecret)
	h.waitState(t, StateOnline)
	ctx := context.Background()
	if _, _, err := fake.Deliver(ctx, wecomtest.SmartBotMessage{User: "WangHao", ChatID: "grp1", Text: "@运维助手 vm list"}); err != nil {
		t.Fatal(err)
	}
	m := <-h.msgs
	r := NewReplier(h.c, nil, "zh", nil, nil)
	rctx := chat.WithSource(ctx, m.Source)
	rep := chat.Reply{Kind: chat.ReplyList, Title: "虚拟机列表", Lines: []string{"104 docker-host"}}
	for i := range 2 { // the second as the inbox's retry after a lost acknowledgement
		if err := r.Reply(rctx, m.User, rep); err != nil {
			t.Fatalf("try %d: %v", i+1, err)
		}
	}
	if err := r.Reply(rctx, m.User, chat.Reply{Kind: chat.ReplyText, Title: "marker"}); err != nil {
		t.Fatal(err)
	}
	if o := <-fake.Out; !strings.Contains(o.Content, "docker-host") {
		t.Fatalf("first = %+v", o)
	}
	if o := <-fake.Out; !strings.Contains(o.Content, "marker") {
		t.Errorf("the list was shown again: %+v", o)
	}
}

// The fake holds WeCom's per-conversation limit, so that a bot without its budget would
// be caught: the 31st message in a minute is refused with 45009.
func TestFakeEnforcesTheConversationLimit(t *testing.T) {
	fake := newFake(t)
	h := newHarness(t, fake, testSecret)
	h.waitState(t, StateOnline)
	ctx := context.Background()
	if _, _, err := fake.Deliver(ctx, wecomtest.SmartBotMessage{User: "WangHao", ChatID: "grp1", Text: "help"}); err != nil {
		t.Fatal(err)
	}
	<-h.msgs
	b := markdownBody{ChatID: "grp1", ChatType: 2, MsgType: "markdown"}
	b.Markdown.Content = "x"
	for i := range 30 {
		if err := h.c.Send(ctx, b); err != nil {
			t.Fatalf("message %d: %v", i+1, err)
		}
	}
	var ae *APIError
	if err := h.c.Send(ctx, b); !errors.As(err, &ae) || ae.Code != 45009 {
		t.Errorf("31st message: %v, want errcode 45009", err)
	}
	// Text is not a message type aibot_send_msg takes.
	if err := h.c.Send(ctx, map[string]any{"chatid": "grp1", "msgtype": "text", "text": map[string]string{"content": "x"}}); !errors.As(err, &ae) || ae.Code != 40008 {
		t.Errorf("text to a chat: %v, want errcode 40008", err)
	}
	// Nor may the bot post to a chat that never talked to it.
	if err := h.c.Send(ctx, markdownBody{ChatID: "grp-never", ChatType: 2, MsgType: "markdown"}); !errors.As(err, &ae) {
		t.Errorf("to a chat that never talked: %v, want a refusal", err)
	}
}
