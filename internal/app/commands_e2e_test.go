package app_test

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

// POSTs the fake PVE received for power actions on vmid (any action).
func powerPosts(env *apptest.Env, node, kind, vmid string) int {
	return env.PVE.Count("POST", "/nodes/"+node+"/"+kind+"/"+vmid+"/status/")
}

// confirmKey returns the Confirm button's key of a confirmation card.
func confirmKey(t *testing.T, m wecomtest.SentMessage) string {
	t.Helper()
	if m.Card == nil || m.Card.CardType != "button_interaction" {
		t.Fatalf("want a button_interaction card, got %+v (%q)", m.Card, m.Content)
	}
	if len(m.Card.Buttons) != 2 || m.Card.Buttons[0].Style != 1 || m.Card.Buttons[1].Style != 2 {
		t.Fatalf("buttons = %+v, want Confirm (style 1) then Cancel (style 2)", m.Card.Buttons)
	}
	return m.Card.Buttons[0].Key
}

func lastText(b *bot, n int) string {
	b.t.Helper()
	sent := b.waitSent(n)
	return apptest.MessageText(sent[n-1])
}

func TestViewerListsAndIsRefusedStart(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Viewer, "vm list")
	contains(t, "vm list", lastText(b, 1), "homeassistant", "jellyfin", "dev-ubuntu")
	b.text(apptest.Viewer, "启动 dev-ubuntu")
	contains(t, "refusal", lastText(b, 2), "只读成员", "不能执行“启动”")
	if n := powerPosts(env, "pve2", "qemu", "105"); n != 0 {
		t.Errorf("POSTs = %d, want 0", n)
	}
	if g, _ := env.PVE.Guest(105); g.Status != "stopped" {
		t.Errorf("dev-ubuntu is %s, want stopped", g.Status)
	}
}

func TestOperatorShutdownAfterConfirm(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Operator, "关机 docker-host")
	card := b.waitSent(1)[0]
	contains(t, "confirmation card", string(card.Card.Raw), "docker-host", "104", "pve2", "运行中")
	key := confirmKey(t, card)
	if n := powerPosts(env, "pve2", "qemu", "104"); n != 0 {
		t.Fatalf("POSTs before confirming = %d, want 0", n)
	}

	// Another user's click does nothing, and leaves the owner's confirmation usable.
	b.click(apptest.Admin, key, "rc-other")
	contains(t, "other user's click", lastText(b, 2), "不是你发起的")
	if n := powerPosts(env, "pve2", "qemu", "104"); n != 0 {
		t.Fatalf("POSTs after another user's click = %d, want 0", n)
	}

	// The owner's click, delivered three times at once by WeCom's retries, POSTs once.
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); b.click(apptest.Operator, key, "rc-owner") }()
	}
	wg.Wait()
	upd := b.waitUpdates(1)[0]
	if upd.ResponseCode != "rc-owner" {
		t.Errorf("updated card %q, want rc-owner", upd.ResponseCode)
	}
	result := upd.ReplaceName
	if upd.Card != nil {
		result += string(upd.Card.Raw)
	}
	contains(t, "result", result, "docker-host", "已关机")
	if g, _ := env.PVE.Guest(104); g.Status != "stopped" {
		t.Errorf("docker-host is %s, want stopped", g.Status)
	}
	// A second, separate click on the used card gets a one-line answer and no action.
	b.click(apptest.Operator, key, "rc-again")
	contains(t, "second click", lastText(b, 3), "已经处理")
	if n := env.PVE.Count("POST", "/nodes/pve2/qemu/104/status/shutdown"); n != 1 {
		t.Errorf("shutdown POSTs = %d, want exactly 1", n)
	}
	if n := len(env.WeCom.Updates()); n != 1 {
		t.Errorf("card updates = %d, want 1", n)
	}
}

func TestExpiredConfirmationDoesNothing(t *testing.T) {
	env := apptest.NewEnv(t)
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	b := startBot(t, env, botOptions{now: now})
	b.text(apptest.Operator, "重启 docker-host")
	key := confirmKey(t, b.waitSent(1)[0])
	offset.Store(int64(6 * time.Minute)) // confirm_ttl is 5m
	b.click(apptest.Operator, key, "rc-late")
	contains(t, "late click", lastText(b, 2), "过期")
	if n := powerPosts(env, "pve2", "qemu", "104"); n != 0 {
		t.Errorf("POSTs = %d, want 0", n)
	}
}

func TestAdminResets(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Operator, "重置 docker-host")
	contains(t, "operator reset", lastText(b, 1), "操作员", "重置")
	b.text(apptest.Admin, "vm reset docker-host")
	key := confirmKey(t, b.waitSent(2)[1])
	b.click(apptest.Admin, key, "rc-reset")
	b.waitUpdates(1)
	if n := env.PVE.Count("POST", "/nodes/pve2/qemu/104/status/reset"); n != 1 {
		t.Errorf("reset POSTs = %d, want 1", n)
	}
}

func TestReadOnlyRefusesPowerActions(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{ReadOnly: true}})
	b.text(apptest.Admin, "启动 dev-ubuntu")
	contains(t, "read-only refusal", lastText(b, 1), "只读")
	b.text(apptest.Admin, "状态 dev-ubuntu")
	contains(t, "reads still work", lastText(b, 2), "dev-ubuntu", "已停止")
	if n := powerPosts(env, "pve2", "qemu", "105"); n != 0 {
		t.Errorf("POSTs = %d, want 0", n)
	}
}

func TestProtectedGuestRefusesOperator(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Operator, "重启 opnsense") // tag infra is protected
	contains(t, "protected refusal", lastText(b, 1), "受保护")
	b.text(apptest.Admin, "重启 opnsense")
	confirmKey(t, b.waitSent(2)[1]) // an admin is asked to confirm
	if n := powerPosts(env, "pve1", "qemu", "100"); n != 0 {
		t.Errorf("POSTs = %d, want 0", n)
	}
}

func TestUnknownUserGetsTheirUserID(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text("XiaoMing", "vm list")
	m := b.waitSent(1)[0]
	if strings.Join(m.ToUser, "|") != "XiaoMing" {
		t.Errorf("answered %v, want XiaoMing", m.ToUser)
	}
	contains(t, "unknown user reply", apptest.MessageText(m), "XiaoMing", "管理员")
	if strings.Contains(apptest.MessageText(m), "homeassistant") {
		t.Error("an unknown user was shown guests")
	}
}

func TestScopeHidesGuests(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.ScopedOp, "vm list")
	list := lastText(b, 1)
	contains(t, "scoped list", list, "jellyfin", "dev-ubuntu")
	for _, hidden := range []string{"opnsense", "truenas", "homeassistant", "nextcloud"} {
		if strings.Contains(list, hidden) {
			t.Errorf("scoped list shows %s, outside the user's scope", hidden)
		}
	}
	b.text(apptest.ScopedOp, "启动 truenas")
	contains(t, "out of scope reads as missing", lastText(b, 2), "找不到 truenas")
	if n := powerPosts(env, "pve1", "qemu", "101"); n != 0 {
		t.Errorf("POSTs = %d, want 0", n)
	}
}

var codeRE = regexp.MustCompile(`确认 ([A-Z0-9]{6})`)

func TestTextModeConfirmsWithCode(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{ReplyMode: "text"}})
	b.text(apptest.Operator, "关机 docker-host")
	ask := b.waitSent(1)[0]
	if ask.MsgType != "text" {
		t.Fatalf("msgtype = %s, want text", ask.MsgType)
	}
	m := codeRE.FindStringSubmatch(ask.Content)
	if m == nil {
		t.Fatalf("no 确认 <code> in %q", ask.Content)
	}
	b.text(apptest.Viewer, "确认 "+m[1]) // not theirs
	contains(t, "someone else's code", lastText(b, 2), "不是你发起的")
	b.text(apptest.Operator, "确认 "+strings.ToLower(m[1]))
	contains(t, "result", lastText(b, 3), "docker-host", "已关机")
	for _, s := range env.WeCom.Sent() {
		if s.MsgType != "text" {
			t.Errorf("text mode sent a %s message", s.MsgType)
		}
	}
	if n := env.PVE.Count("POST", "/nodes/pve2/qemu/104/status/shutdown"); n != 1 {
		t.Errorf("shutdown POSTs = %d, want 1", n)
	}
}

func TestAuditShowsRefusalsAndActions(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Viewer, "启动 dev-ubuntu") // refused
	b.waitSent(1)
	b.text(apptest.Operator, "启动 dev-ubuntu") // start needs no confirmation
	contains(t, "start result", lastText(b, 2), "dev-ubuntu", "已启动")
	b.text(apptest.Admin, "audit 5")
	audit := lastText(b, 3)
	contains(t, "audit", audit, apptest.Viewer, apptest.Operator, "105", "角色无权限", "成功")
	b.text(apptest.Viewer, "审计")
	contains(t, "viewer audit", lastText(b, 4), "只读成员", "审计")

	b.text(apptest.Admin, "任务")
	contains(t, "task list", lastText(b, 5), "启动 105", apptest.Operator, "成功")
}

func TestLongTaskAnswersRunningThenFollowsUp(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{quickWait: 50 * time.Millisecond})
	b.text(apptest.Operator, "状态 dev-ubuntu") // fills the guest cache before PVE slows down
	b.waitSent(1)
	env.PVE.SetLatency(200 * time.Millisecond) // every task poll outlasts the 50ms quick wait
	b.text(apptest.Operator, "启动 dev-ubuntu")
	contains(t, "running notice", lastText(b, 2), "dev-ubuntu", "正在")
	contains(t, "follow-up", lastText(b, 3), "dev-ubuntu", "已启动")
	if n := env.PVE.Count("POST", "/nodes/pve2/qemu/105/status/start"); n != 1 {
		t.Errorf("start POSTs = %d, want 1", n)
	}
}

// PVE down: commands answer with the reason in words, and the bot stays up.
func TestPVEDownAnswersWithReason(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	env.PVE.Close()
	b.text(apptest.Admin, "vm list")
	contains(t, "list while PVE is down", lastText(b, 1), "home")
	b.text(apptest.Admin, "启动 dev-ubuntu")
	reply := lastText(b, 2)
	if strings.Contains(reply, "https://") || strings.Contains(reply, "127.0.0.1") {
		t.Errorf("reply shows an address: %q", reply)
	}
	b.text(apptest.Admin, "help") // still answering
	b.waitSent(3)
}

// Over the rate limit: one polite notice, not silence, and not a notice per message.
func TestRateLimitNotice(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{RateLimit: "2/m"}})
	for range 2 {
		b.text(apptest.Viewer, "help")
	}
	b.waitSent(2)
	b.text(apptest.Viewer, "help")
	contains(t, "notice", lastText(b, 3), "频繁")
	b.text(apptest.Viewer, "help")
	b.text(apptest.Admin, "help") // others are not limited
	sent := b.waitSent(4)
	b.stop() // drains the queue
	if n := len(env.WeCom.Sent()); n != 4 {
		t.Errorf("sent %d messages, want 4 (2 answers, 1 notice, the admin's answer); last went to %v", n, sent[len(sent)-1].ToUser)
	}
}

// language: en answers in English, commands still work in both languages, and a typo gets
// a "did you mean".
func TestEnglishReplies(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{Language: "en"}})
	b.text(apptest.Operator, "关机 docker-host")
	card := b.waitSent(1)[0]
	contains(t, "English confirmation card", string(card.Card.Raw), "docker-host", "Confirm", "Cancel", "running")
	b.text(apptest.Operator, "vm strat docker-host")
	contains(t, "typo", lastText(b, 2), "vm start")
	b.text(apptest.Viewer, "vm start docker-host")
	contains(t, "refusal", lastText(b, 3), "viewer")
}

// What a user typed cannot act as markup in an admin's audit view.
func TestAuditViewIsInert(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text("mallory", "[点我](https://evil.example) <font color=\"info\">ok</font>")
	b.waitSent(1)
	b.text(apptest.Admin, "audit 5")
	audit := lastText(b, 2)
	contains(t, "audit", audit, "mallory", "点我")
	for _, bad := range []string{"](https://", "<font"} {
		if strings.Contains(audit, bad) {
			t.Errorf("audit view carries live markup %q: %q", bad, audit)
		}
	}
}

// A power command whose guest cannot be looked up (token revoked) is audited.
func TestFailedLookupIsAudited(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	env.PVE.RevokeToken("chatbot@pve!bot")
	b.text(apptest.Operator, "启动 kali-lab")
	lastText(b, 1)
	entries, err := b.app.Store().RecentAudit(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) == 0 || entries[0].Decision != "error" || entries[0].User != apptest.Operator {
		t.Errorf("audit = %+v, want an error entry for %s", entries, apptest.Operator)
	}
}

// A shared storage is one storage: listed once, marked shared, not once per node.
func TestSharedStorageListedOnce(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Viewer, "存储")
	list := lastText(b, 1)
	if n := strings.Count(list, "nas ("); n != 1 || !strings.Contains(list, "nas (共享)") {
		t.Errorf("storage list shows nas %d times: %q", n, list)
	}
	contains(t, "storage list", list, "local (pve1)", "local (pve2)")
}
