package app_test

import (
	"context"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// grantNodePrivs gives the bot's token what node power and migration need besides the seed's
// minimal role (docs/setup.md: Sys.PowerMgmt, VM.Migrate).
func grantNodePrivs(env *apptest.Env) {
	env.PVE.AddToken(pvetest.HomeLabTokenID, pvetest.HomeLabTokenSecret, map[string][]string{
		"/": {"VM.Audit", "VM.PowerMgmt", "Sys.Audit", "Datastore.Audit", "VM.Snapshot", "VM.Backup", "Sys.PowerMgmt", "VM.Migrate"},
	})
}

var typedCodeRE = regexp.MustCompile(`确认 ([A-Z0-9]+) pve2`)

// TestNodeRebootFollowedOnlineAgain is the first Done-when: an operator is refused
// with no request; an admin sees the impact card (guests, HA, quorum), the button alone does
// not do it on a two-node cluster (quorum is lost), the code with the node's name does:
// exactly one node POST, then "pve2 online again".
func TestNodeRebootFollowedOnlineAgain(t *testing.T) {
	env := apptest.NewEnv(t)
	grantNodePrivs(env)
	env.PVE.SetNodeBootTime(300 * time.Millisecond)
	g, _ := env.PVE.Guest(104)
	g.HA = true
	env.PVE.AddGuest(g)
	b := startBot(t, env, botOptions{})
	nodePosts := func() int { return env.PVE.Count("POST", "/nodes/pve2/status") }

	b.text(apptest.Operator, "重启节点 pve2")
	contains(t, "operator refusal", lastText(b, 1), "操作员", "节点电源操作")
	if n := nodePosts(); n != 0 {
		t.Fatalf("node POSTs after the operator's refusal = %d, want 0", n)
	}

	b.text(apptest.Admin, "重启节点 pve2")
	card := b.waitSent(2)[1]
	contains(t, "impact card", string(card.Card.Raw), "pve2", "jellyfin", "docker-host", "HA", "法定票数", "会失去", "须输入节点名", "上线时通知你")
	b.click(apptest.Admin, confirmKey(t, card), "rc-node")
	prompt := lastText(b, 3)
	contains(t, "typed name asked", prompt, "输入节点名", "pve2")
	if n := nodePosts(); n != 0 {
		t.Fatalf("node POSTs after the button alone = %d, want 0 (quorum is lost: the name must be typed)", n)
	}
	m := typedCodeRE.FindStringSubmatch(prompt)
	if m == nil {
		t.Fatalf("no code in %q", prompt)
	}
	b.text(apptest.Admin, "确认 "+m[1]+" pve3")
	contains(t, "wrong name", lastText(b, 4), "节点名不对")
	b.text(apptest.Admin, "确认 "+m[1]+" pve2")
	contains(t, "sent", lastText(b, 5), "已向 pve2 发送重启命令")
	contains(t, "followed", lastText(b, 6), "pve2 已重新上线")
	if n := nodePosts(); n != 1 {
		t.Errorf("node POSTs = %d, want exactly 1", n)
	}
	if got := env.PVE.Requests(); len(got) > 0 {
		for _, r := range got {
			if r.Method == "POST" && r.Path == "/nodes/pve2/status" && r.Form.Get("command") != "reboot" {
				t.Errorf("node POST command = %q, want reboot", r.Form.Get("command"))
			}
		}
	}
}

// TestNodeWakeWithoutMAC: a node without a MAC is answered with how to set it; with one, the
// packet goes out and the node is followed online.
func TestNodeWakeWithoutMAC(t *testing.T) {
	env := apptest.NewEnv(t)
	grantNodePrivs(env)
	env.PVE.SetNodeBootTime(200 * time.Millisecond)
	env.PVE.SetNodeOnline("pve2", false)
	b := startBot(t, env, botOptions{})
	updText := func(n int) string {
		t.Helper()
		u := b.waitUpdates(n)[n-1]
		out := u.ReplaceName
		if u.Card != nil {
			out += string(u.Card.Raw)
		}
		return out
	}
	b.text(apptest.Admin, "唤醒节点 pve2")
	card := b.waitSent(1)[0]
	contains(t, "wake card", string(card.Card.Raw), "pve2", "网络唤醒包")
	b.click(apptest.Admin, confirmKey(t, card), "rc-wake1")
	contains(t, "no mac", updText(1), "MAC", "pvenode config set --wakeonlan")
	if n := env.PVE.Count("POST", "/nodes/pve2/wakeonlan"); n != 1 {
		t.Fatalf("wakeonlan POSTs = %d, want 1", n)
	}
	env.PVE.SetNodeMAC("pve2", "aa:bb:cc:dd:ee:02")
	b.text(apptest.Admin, "node wake pve2")
	card = b.waitSent(2)[1]
	b.click(apptest.Admin, confirmKey(t, card), "rc-wake2")
	contains(t, "sent", updText(2), "唤醒包", "aa:bb:cc:dd:ee:02")
	contains(t, "online", lastText(b, 3), "pve2 已上线")
	if n := env.PVE.Count("POST", "/nodes/pve2/wakeonlan"); n != 2 {
		t.Errorf("wakeonlan POSTs = %d, want 2 (one per confirmed wake)", n)
	}
}

// labSetup runs four lab VMs with startup orders; 113 is protected.
func labSetup(env *apptest.Env) {
	for _, id := range []int{105, 106, 113} {
		g, _ := env.PVE.Guest(id)
		g.Status = "running"
		env.PVE.AddGuest(g)
	}
	env.PVE.SetStartup(104, true, "order=1")
	env.PVE.SetStartup(106, false, "order=2")
	env.PVE.SetStartup(105, false, "order=3,down=60")
}

func shutdownOrder(env *apptest.Env) []string {
	var out []string
	for _, r := range env.PVE.Requests() {
		if r.Method == "POST" && strings.HasSuffix(r.Path, "/status/shutdown") {
			out = append(out, strings.Split(r.Path, "/")[4])
		}
	}
	return out
}

// TestBulkShutdownTagLab: an operator's `vm shutdown tag:lab` shows the set (protected and
// template left out, with the reason), and after confirm exactly one shutdown POST per guest
// in reverse startup order, then one summary.
func TestBulkShutdownTagLab(t *testing.T) {
	env := apptest.NewEnv(t)
	labSetup(env)
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{Protected: `["tag:infra", "113"]`}})
	b.text(apptest.ScopedOp, "vm shutdown tag:lab")
	card := b.waitSent(1)[0]
	raw := string(card.Card.Raw)
	contains(t, "bulk card", raw, "3 个客户机", "dev-ubuntu", "dev-windows", "docker-host", "受保护", "模板", "倒序")
	if strings.Contains(raw, "kali-lab") {
		t.Errorf("bulk card %q lists the protected kali-lab", raw)
	}
	if strings.Index(raw, "dev-ubuntu") > strings.Index(raw, "dev-windows") || strings.Index(raw, "dev-windows") > strings.Index(raw, "docker-host") {
		t.Errorf("bulk card %q: want reverse startup order dev-ubuntu, dev-windows, docker-host", raw)
	}
	if got := shutdownOrder(env); len(got) != 0 {
		t.Fatalf("POSTs before confirming: %v", got)
	}
	b.click(apptest.ScopedOp, confirmKey(t, card), "rc-bulk")
	contains(t, "summary", lastText(b, 2), "批量关机完成", "成功 3", "失败 0")
	if got := strings.Join(shutdownOrder(env), ","); got != "105,106,104" {
		t.Errorf("shutdown POSTs = %s, want 105,106,104 (one each, reverse startup order)", got)
	}
	if g, _ := env.PVE.Guest(113); g.Status != "running" {
		t.Errorf("protected kali-lab is %s, want still running", g.Status)
	}
}

// TestBulkResumesAfterCrash: a bot that died mid-way through a bulk (one guest done, one
// POST that may or may not have left, one not begun) resumes on restart without sending
// any guest's POST again and finishes the rest.
func TestBulkResumesAfterCrash(t *testing.T) {
	env := apptest.NewEnv(t)
	labSetup(env)
	dir := t.TempDir()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p := url.Values{"bulk": {"1"}, "verb": {"shutdown"}, "sel": {"tag:lab"},
		"g": {"home/105@pve2@3", "home/106@pve1@2", "home/104@pve2@1"}}
	started := time.Now().Add(-time.Minute)
	mustBegin := func(a store.Action) {
		t.Helper()
		if _, err := st.BeginAction(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	mustBegin(store.Action{ID: "bulk-crashed-0123456789", User: apptest.ScopedOp, Action: "bulk", Started: started, Params: p.Encode()})
	mustBegin(store.Action{ID: "bulk-crashed-0123456789#bulk#home/105", User: apptest.ScopedOp, Action: "shutdown", Cluster: "home", Node: "pve2", GuestType: "qemu", VMID: 105, Started: started})
	if err := st.ActionDone(ctx, "bulk-crashed-0123456789#bulk#home/105", "OK"); err != nil {
		t.Fatal(err)
	}
	// 106: the bot died between its journal entry and PVE's answer; PVE never got it.
	mustBegin(store.Action{ID: "bulk-crashed-0123456789#bulk#home/106", User: apptest.ScopedOp, Action: "shutdown", Cluster: "home", Node: "pve1", GuestType: "qemu", VMID: 106, Started: started})
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{DataDir: dir, Protected: `["tag:infra", "113"]`}})
	summary := lastText(b, 1)
	contains(t, "resumed summary", summary, "批量关机完成", "成功 2", "失败 1", "未重发")
	if got := strings.Join(shutdownOrder(env), ","); got != "104" {
		t.Errorf("shutdown POSTs after the restart = %q, want only 104 (105 was done, 106 is never re-sent)", got)
	}
}

// TestMigrateRunningVMFollowed: migrating a running VM sends one live migrate POST and is
// followed until the guest runs on the target; an HA guest goes through HA and is followed
// until it is listed there.
func TestMigrateRunningVMFollowed(t *testing.T) {
	env := apptest.NewEnv(t)
	grantNodePrivs(env)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Operator, "迁移 docker-host pve1")
	contains(t, "operator", lastText(b, 1), "操作员", "迁移")
	b.text(apptest.Admin, "迁移 docker-host pve1")
	card := b.waitSent(2)[1]
	contains(t, "migrate card", string(card.Card.Raw), "docker-host", "pve2", "pve1", "在线迁移")
	b.click(apptest.Admin, confirmKey(t, card), "rc-migrate")
	upd := b.waitUpdates(1)[0]
	res := upd.ReplaceName
	if upd.Card != nil {
		res += string(upd.Card.Raw)
	}
	contains(t, "migrate result", res, "docker-host", "已迁移", "pve1")
	if n := env.PVE.Count("POST", "/nodes/pve2/qemu/104/migrate"); n != 1 {
		t.Errorf("migrate POSTs = %d, want 1", n)
	}
	for _, r := range env.PVE.Requests() {
		if r.Path == "/nodes/pve2/qemu/104/migrate" && r.Method == "POST" && (r.Form.Get("online") != "1" || r.Form.Get("target") != "pve1") {
			t.Errorf("migrate form %v, want online=1 target=pve1", r.Form)
		}
	}
	if g, _ := env.PVE.Guest(104); g.Node != "pve1" || g.Status != "running" {
		t.Errorf("docker-host is %s on %s, want running on pve1", g.Status, g.Node)
	}

	env.PVE.SetLocalResources(112, []string{"hostpci0"}, nil)
	b.text(apptest.Admin, "迁移 nextcloud pve2")
	contains(t, "local devices", lastText(b, 3), "本机设备", "hostpci0")
	if n := env.PVE.Count("POST", "/nodes/pve1/qemu/112/migrate"); n != 0 {
		t.Errorf("migrate POSTs for a VM with local devices = %d, want 0", n)
	}

	b.text(apptest.Admin, "迁移 jellyfin pve1")
	contains(t, "container restart mode", string(b.waitSent(4)[3].Card.Raw), "jellyfin", "180 秒")
}

// TestMigrateHAGuestThroughHA: an HA guest's migration goes through HA (hamigrate) and is
// followed until the guest is listed on the target node.
func TestMigrateHAGuestThroughHA(t *testing.T) {
	env := apptest.NewEnv(t)
	grantNodePrivs(env)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Admin, "vm migrate homeassistant pve2")
	card := b.waitSent(1)[0]
	contains(t, "ha card", string(card.Card.Raw), "homeassistant", "通过 HA 迁移")
	b.click(apptest.Admin, confirmKey(t, card), "rc-hamigrate")
	// The HA stack moves it in its next rounds (CRM, then LRM); run them now instead of
	// waiting for the fake's 10 s rounds.
	deadline := time.Now().Add(10 * time.Second)
	for g, _ := env.PVE.Guest(102); g.Node != "pve2"; g, _ = env.PVE.Guest(102) {
		if time.Now().After(deadline) {
			t.Fatalf("the HA stack never moved homeassistant (on %s)", g.Node)
		}
		if env.PVE.Count("POST", "/nodes/pve1/qemu/102/migrate") == 1 {
			env.PVE.RunHARound()
		}
		time.Sleep(5 * time.Millisecond)
	}
	upd := b.waitUpdates(1)[0]
	res := upd.ReplaceName
	if upd.Card != nil {
		res += string(upd.Card.Raw)
	}
	contains(t, "ha migrate result", res, "homeassistant", "已迁移", "pve2")
	if g, _ := env.PVE.Guest(102); g.Node != "pve2" {
		t.Errorf("homeassistant is on %s when the bot reported it migrated, want pve2", g.Node)
	}
	if n := env.PVE.Count("POST", "/nodes/pve1/qemu/102/migrate"); n != 1 {
		t.Errorf("migrate POSTs = %d, want 1", n)
	}
}

// TestBulkRefusals: read_only refuses a bulk outright; a viewer is refused by role; a
// selector that matches nothing to do says so; nothing is sent.
func TestBulkRefusals(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{ReadOnly: true}})
	b.text(apptest.Admin, "关机 pool:media")
	contains(t, "read only", lastText(b, 1), "只读")
	b.text(apptest.Viewer, "启动 all")
	contains(t, "viewer", lastText(b, 2), "只读成员", "启动")
	if got := shutdownOrder(env); len(got) != 0 {
		t.Errorf("POSTs = %v, want none", got)
	}
}

// TestBulkNothingToDo: a selector whose guests are all there already is answered with the
// count left out and why, and no card.
func TestBulkNothingToDo(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Operator, "vm start pool:media")
	contains(t, "nothing", lastText(b, 1), "没有需要操作的客户机", "3 个已是目标状态")
	if n := env.PVE.Count("POST", "/nodes/"); n != 0 {
		t.Errorf("POSTs = %d, want 0", n)
	}
}

// TestBulkWithHAGuestWaitsForHA: a bulk shutdown that includes an HA guest counts it done
// only once the HA manager has stopped it, not when its hastop task ended.
func TestBulkWithHAGuestWaitsForHA(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{Protected: `["100"]`}})
	b.text(apptest.Admin, "关机 name:homeassistant")
	card := b.waitSent(1)[0]
	contains(t, "bulk card", string(card.Card.Raw), "homeassistant(HA)", "数量")
	b.click(apptest.Admin, confirmKey(t, card), "rc-bulk-ha")
	deadline := time.Now().Add(10 * time.Second)
	for g, _ := env.PVE.Guest(102); g.Status != "stopped"; g, _ = env.PVE.Guest(102) {
		if time.Now().After(deadline) {
			t.Fatalf("the HA stack never stopped homeassistant (%s)", g.Status)
		}
		if env.PVE.Count("POST", "/nodes/pve1/qemu/102/status/shutdown") == 1 {
			env.PVE.RunHARound()
		}
		time.Sleep(5 * time.Millisecond)
	}
	contains(t, "summary", lastText(b, 2), "批量关机完成", "成功 1")
}
