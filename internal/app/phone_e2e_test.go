package app_test

// End-to-end tests of the answers shaped for a phone (issue 13, sections 1-3): role-aware
// help, short parse errors with a button, candidate buttons, a status card's action
// buttons, numbered replies in text mode and Chinese throughout.

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom/wecomtest"
)

// stopGuest makes the fake's guest vmid stopped, as if someone shut it down in PVE.
func stopGuest(t *testing.T, env *apptest.Env, vmid int) {
	t.Helper()
	g, ok := env.PVE.Guest(vmid)
	if !ok {
		t.Fatalf("no guest %d", vmid)
	}
	g.Status, g.Uptime = "stopped", 0
	env.PVE.AddGuest(g)
}

// visible is what a person reads in a message: a card's texts (not its JSON), a markdown
// message without its markup.
func visible(m wecomtest.SentMessage) string {
	if m.Card == nil {
		return markup.ReplaceAllString(m.Content, "")
	}
	parts := []string{m.Card.SourceDesc, m.Card.Title, m.Card.SubTitle}
	for _, f := range m.Card.Fields {
		parts = append(parts, f.KeyName, f.Value)
	}
	for _, b := range m.Card.Buttons {
		parts = append(parts, b.Text)
	}
	return strings.Join(parts, "\n")
}

var markup = regexp.MustCompile(`</?font[^>]*>|\*\*`)

// buttons returns a card's buttons as "text=key".
func buttons(m wecomtest.SentMessage) []string {
	if m.Card == nil {
		return nil
	}
	var out []string
	for _, b := range m.Card.Buttons {
		out = append(out, b.Text+"="+b.Key)
	}
	return out
}

// cardLines is what a person reads on a card: its title and each line of the sub-title.
func cardLines(m wecomtest.SentMessage) []string {
	if m.Card == nil {
		return strings.Split(m.Content, "\n")
	}
	lines := []string{m.Card.Title}
	if m.Card.SubTitle != "" {
		lines = append(lines, strings.Split(m.Card.SubTitle, "\n")...)
	}
	return lines
}

func TestHelpListsOnlyWhatTheUserMayRun(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	power := []string{"启动 101 —", "关机 101 —", "重启 101 —", "暂停 101 —", "恢复 101 —", "强制关机 101 —", "重置 101 —"}

	b.text(apptest.Viewer, "帮助")
	viewer := lastText(b, 1)
	contains(t, "viewer help", viewer, "概览 —", "列表 运行中 —", "状态 101 —", "我的权限 —")
	for _, p := range append(power, "审计 5", "确认 AB12CD") {
		if strings.Contains(viewer, p) {
			t.Errorf("viewer help = %q, want no %q", viewer, p)
		}
	}

	b.text(apptest.Operator, "帮助")
	op := lastText(b, 2)
	contains(t, "operator help", op, "启动 101 — 启动虚拟机或容器", "关机 101 — 正常关机，等待系统自行关闭（需确认）")
	for _, p := range []string{"强制关机 101", "重置 101", "审计 5"} {
		if strings.Contains(op, p) {
			t.Errorf("operator help = %q, want no %q", op, p)
		}
	}

	b.text(apptest.Viewer, "帮助 启动")
	contains(t, "viewer help 启动", lastText(b, 3), "命令帮助 · 启动", "启动 <目标> · vm start <target>", "你目前不能使用这个命令")
}

func TestWhoami(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.ScopedOp, "我的权限")
	got := lastText(b, 1)
	contains(t, "whoami", got, "我的权限", apptest.ScopedOp, "操作员", "资源池 media", "标签 lab", "启动", "需要确认：关机")
	if strings.Contains(got, "强制关机") || strings.Contains(got, "operator") {
		t.Errorf("whoami = %q, want no 强制关机 and no English role", got)
	}
	b.text(apptest.Viewer, "whoami")
	contains(t, "viewer whoami", lastText(b, 2), "只读成员", "全部虚拟机和容器", "可以：概览")
}

func TestTypoAnswersShortWithAButtonThatRuns(t *testing.T) {
	for _, tc := range []struct {
		name    string
		extra   string
		confirm bool
	}{
		{"start not confirmed", "", false},
		{"start confirmed", "confirm: [start]\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := apptest.NewEnv(t)
			stopGuest(t, env, 101)
			b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{Protected: "[]", Extra: tc.extra}})
			b.text(apptest.Operator, "vm strat 101")
			m := b.waitSent(1)[0]
			lines := cardLines(m)
			if len(lines) > 3 {
				t.Errorf("answer has %d lines, want at most 3: %q", len(lines), lines)
			}
			contains(t, "answer", strings.Join(lines, "\n"), "strat", "你是不是想输入：启动 101？", "发送 帮助 查看全部命令")
			if got, want := buttons(m), []string{"启动 101=run:启动 101"}; !slices.Equal(got, want) {
				t.Fatalf("buttons = %q, want %q", got, want)
			}
			if n := powerPosts(env, "pve1", "qemu", "101"); n != 0 {
				t.Fatalf("POSTs before the press = %d, want 0", n)
			}

			b.click(apptest.Operator, "run:启动 101", "rc-typo")
			upd := b.waitUpdates(1)[0]
			if upd.ResponseCode != "rc-typo" || upd.ReplaceName != "已选择：启动 101" {
				t.Errorf("pressed card updated to %+v, want it greyed with 已选择：启动 101", upd)
			}
			if tc.confirm {
				card := b.waitSent(2)[1]
				contains(t, "confirmation", string(card.Card.Raw), "truenas (101)：确认启动？")
				if n := powerPosts(env, "pve1", "qemu", "101"); n != 0 {
					t.Fatalf("POSTs before confirming = %d, want 0", n)
				}
				b.click(apptest.Operator, confirmKey(t, card), "rc-confirm")
				b.waitUpdates(2)
			} else {
				contains(t, "result", lastText(b, 2), "truenas (101)", "已启动")
			}
			if n := env.PVE.Count("POST", "/nodes/pve1/qemu/101/status/start"); n != 1 {
				t.Errorf("start POSTs = %d, want 1", n)
			}
			if g, _ := env.PVE.Guest(101); g.Status != "running" {
				t.Errorf("truenas is %s, want running", g.Status)
			}
		})
	}
}

// A viewer's typo is not answered with a button they could not use.
func TestTypoOffersNoCommandTheUserMayNotRun(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Viewer, "vm strat 105")
	m := b.waitSent(1)[0]
	if got := buttons(m); len(got) != 0 {
		t.Errorf("buttons = %q, want none", got)
	}
	if strings.Contains(apptest.MessageText(m), "启动 105") {
		t.Errorf("answer = %q, want no suggestion to start", apptest.MessageText(m))
	}
	b.text(apptest.Viewer, "状太 105") // a typo of 状态, which the viewer may run
	contains(t, "status typo", lastText(b, 2), "你是不是想输入：状态 105？")
}

func TestAmbiguousTargetOffersCandidates(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Operator, "启动 dev")
	m := b.waitSent(1)[0]
	contains(t, "ambiguous", apptest.MessageText(m), "“dev”匹配多个")
	want := []string{"dev-ubuntu (105)=run:启动 105", "dev-windows (106)=run:启动 106"}
	if got := buttons(m); !slices.Equal(got, want) {
		t.Fatalf("buttons = %q, want %q", got, want)
	}
	b.click(apptest.Operator, "run:启动 106", "rc-dev")
	contains(t, "result", lastText(b, 2), "dev-windows (106)", "已启动")
	if n := env.PVE.Count("POST", "/nodes/pve1/qemu/106/status/start"); n != 1 {
		t.Errorf("start POSTs for 106 = %d, want 1", n)
	}
	if n := powerPosts(env, "pve2", "qemu", "105"); n != 0 {
		t.Errorf("POSTs for 105 = %d, want 0: only the chosen guest acts", n)
	}
	// The refusal is in the audit log.
	b.text(apptest.Admin, "审计")
	contains(t, "audit", lastText(b, 3), "启动 dev", "目标不明确")
}

func TestStatusCardOffersThePermittedActions(t *testing.T) {
	tests := []struct {
		user string
		want []string
	}{
		{apptest.Admin, []string{"关机=run:关机 104", "重启=run:重启 104", "暂停=run:暂停 104", "强制关机=run:强制关机 104", "重置=run:重置 104", "创建快照=run:快照 104"}},
		{apptest.Operator, []string{"关机=run:关机 104", "重启=run:重启 104", "暂停=run:暂停 104", "创建快照=run:快照 104", "备份=run:备份 104"}},
		{apptest.Viewer, nil},
	}
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	for i, tt := range tests {
		b.text(tt.user, "vm status 104")
		m := b.waitSent(i + 1)[i]
		if got := buttons(m); !slices.Equal(got, tt.want) {
			t.Errorf("%s: buttons = %q, want %q", tt.user, got, tt.want)
		}
		if m.Card == nil || m.Card.SourceDesc == "成功" {
			t.Errorf("%s: card = %+v, want a card not labelled 成功", tt.user, m.Card)
		}
	}
	b.text(apptest.Viewer, "节点 状态 pve1")
	if m := b.waitSent(len(tests) + 1)[len(tests)]; m.Card == nil || m.Card.SourceDesc == "成功" {
		t.Errorf("node card = %+v, want a card not labelled 成功", m.Card)
	}
	// A stopped guest offers start (and a snapshot, a backup); a press is confirmed like typed text.
	b.text(apptest.Operator, "状态 105")
	m := b.waitSent(5)[4]
	if got, want := buttons(m), []string{"启动=run:启动 105", "创建快照=run:快照 105", "备份=run:备份 105"}; !slices.Equal(got, want) {
		t.Errorf("stopped guest: buttons = %q, want %q", got, want)
	}
	b.click(apptest.Operator, "run:关机 104", "rc-status")
	card := b.waitSent(6)[5]
	contains(t, "shutdown from the card", string(card.Card.Raw), "docker-host (104)：确认关机？")
	if n := powerPosts(env, "pve2", "qemu", "104"); n != 0 {
		t.Errorf("POSTs before confirming = %d, want 0", n)
	}
	// A press is re-authorised: the viewer pressing a forged button is refused.
	b.click(apptest.Viewer, "run:关机 104", "rc-forged")
	contains(t, "viewer press", lastText(b, 7), "只读成员", "不能执行“关机”")
}

func TestTextModeNumberedChoices(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{ReplyMode: "text"}})
	b.text(apptest.Operator, "启动 dev")
	got := lastText(b, 1)
	contains(t, "numbered candidates", got, "1 · 启动 105", "2 · 启动 106", "回复编号即可执行")
	if strings.Contains(got, "**") {
		t.Errorf("text reply %q has markdown", got)
	}
	b.text(apptest.Operator, "２")
	contains(t, "choice 2", lastText(b, 2), "dev-windows (106)", "已启动")
	if n := powerPosts(env, "pve2", "qemu", "105"); n != 0 {
		t.Errorf("POSTs for 105 = %d, want 0", n)
	}
	b.text(apptest.Operator, "7")
	contains(t, "no such choice", lastText(b, 3), "不认识“7”")
	// Another user's "1" is not the operator's choice.
	b.text(apptest.Viewer, "1")
	contains(t, "other user's 1", lastText(b, 4), "不认识“1”")
}

func TestListSelectors(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	tests := []struct {
		in        string
		want, not []string
	}{
		{"列表 tag:lab", []string{"docker-host", "dev-ubuntu", "kali-lab"}, []string{"jellyfin", "truenas"}},
		{"vm list pool:media", []string{"jellyfin", "sonarr"}, []string{"docker-host", "nextcloud"}},
		{"vm list node:pve2", []string{"docker-host", "jellyfin"}, []string{"truenas", "nextcloud"}},
		{"vm list running", []string{"docker-host", "truenas"}, []string{"dev-ubuntu", "kali-lab"}},
		{"列表 tag:lab 运行中", []string{"docker-host"}, []string{"dev-ubuntu", "kali-lab"}},
		{"列表 lab", []string{"kali-lab", "docker-host"}, []string{"truenas"}},
	}
	for i, tt := range tests {
		b.text(apptest.Admin, tt.in)
		got := lastText(b, i+1)
		contains(t, tt.in, got, tt.want...)
		for _, n := range tt.not {
			if strings.Contains(got, n) {
				t.Errorf("%s = %q, want no %s", tt.in, got, n)
			}
		}
	}
	b.text(apptest.Admin, "vm list running extra")
	contains(t, "no match", lastText(b, len(tests)+1), "没有符合“running extra”的虚拟机或容器")
	b.text(apptest.Admin, "vm list tag:")
	contains(t, "bad selector", lastText(b, len(tests)+2), "tag:")
	b.text(apptest.Admin, "容器")
	cts := lastText(b, len(tests)+3)
	contains(t, "container list", cts, "容器列表", "共 6 个，5 个运行中")
	if strings.Contains(cts, "· 容器") {
		t.Errorf("container list = %q, want 容器 not repeated on each line", cts)
	}
}

// TestChineseRepliesHaveNoEnglish runs the commands people use, as each role, and fails on
// an English word in a Chinese reply: names of guests, nodes, storage, users and the
// cluster, and a few terms used as is in Chinese, are allowed.
func TestChineseRepliesHaveNoEnglish(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	n := 0
	say := func(user, text string) string {
		t.Helper()
		b.text(user, text)
		n++
		return visible(b.waitSent(n)[n-1])
	}
	press := func(user, key string) {
		t.Helper()
		b.click(user, key, "rc-"+key)
	}
	var all []string
	for _, user := range []string{apptest.Admin, apptest.Operator, apptest.Viewer, apptest.FamilyMember} {
		for _, c := range []string{"帮助", "帮助 启动", "帮助 节点", "概览", "列表", "容器", "状态 102", "状态 103", "节点", "节点 状态 pve1", "存储", "任务", "我的权限", "启动 dev", "重置 103", "关机", "vm strat 101"} {
			all = append(all, say(user, c))
		}
	}
	// refusals, a confirmation, a cancel, a hard stop's title, the audit view
	all = append(all, say(apptest.Viewer, "启动 105"), say(apptest.Operator, "强制关机 112"), say(apptest.Operator, "关机 nextcloud"))
	stop := say(apptest.Admin, "强制关机 112")
	all = append(all, stop)
	contains(t, "强制关机 title", stop, "nextcloud (112)：确认强制关机？")
	cancel := b.waitSent(n)[n-1]
	press(apptest.Admin, cancel.Card.Buttons[1].Key)
	upd := b.waitUpdates(1)[0]
	all = append(all, upd.ReplaceName)
	audit := say(apptest.Admin, "审计 20")
	all = append(all, audit)
	contains(t, "audit", audit, "↩️", "用户取消", "等待确认", "目标不明确", "角色无权限")

	// what a Chinese reply may carry: terms used as is, units, the commands users type
	// (aliases, "vm start 101"), the selector words and the lab's own names
	allowed := map[string]bool{"VMID": true, "UserID": true, "CPU": true, "HA": true, "PVE": true, "IP": true, "IO": true, "zfs": true, "GiB": true, "MiB": true, "TiB": true,
		"vm": true, "start": true, "tag": true, "pool": true, "node": true, "nodes": true, "list": true, "ls": true, "status": true, "ct": true,
		"lxc": true, "qemu": true, "guest": true, "reset": true, "help": true, "overview": true, "summary": true, "restart": true, "reboot": true,
		"shutdown": true, "stop": true, "storage": true, "task": true, "tasks": true, "whoami": true, "n": true,
		"target": true, "filter": true, "selector": true, "wake": true, "all": true, // the English usage beside the Chinese one in "帮助 <命令>"
		"home": true, "local": true, "lvm": true, "nas": true, "family": true, "before_upgrade": true, // an example snapshot name (PVE allows ASCII names only)
		"infra": true, "critical": true, "media": true}
	for _, name := range []string{"opnsense", "truenas", "homeassistant", "jellyfin", "docker", "host", "dev", "ubuntu", "windows", "pihole", "adguard",
		"nginx", "proxy", "sonarr", "radarr", "nextcloud", "kali", "lab", "backup", "pbs", "cloud", "pve", "zhangsan", "zhaoliu", "wangwu", "qianqi", "lisi", "strat"} {
		allowed[name] = true
	}
	word := regexp.MustCompile(`[A-Za-z][A-Za-z_]*`)
	for _, text := range all {
		for _, w := range word.FindAllString(text, -1) {
			if !allowed[w] && !allowed[strings.ToLower(w)] {
				t.Errorf("English word %q in a Chinese reply: %q", w, text)
			}
		}
	}
}

func TestEnglishAllTheWay(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{Language: "en"}})
	b.text(apptest.Operator, "vm strat 105")
	m := b.waitSent(1)[0]
	contains(t, "typo", visible(m), "Did you mean: vm start 105?", "Send help to see every command")
	if got, want := buttons(m), []string{"vm start 105=run:vm start 105"}; !slices.Equal(got, want) {
		t.Errorf("buttons = %q, want %q", got, want)
	}
	b.text(apptest.Viewer, "vm start 105")
	contains(t, "refusal", lastText(b, 2), `Your role (viewer) may not run "start"`)
	b.text(apptest.Operator, "whoami")
	contains(t, "whoami", lastText(b, 3), "My access", "Role: operator", "You may: status, vm list")
	b.text(apptest.Operator, "help start")
	contains(t, "help start", lastText(b, 4), "Commands · start", "vm start <target> · 启动 <目标>")
	b.text(apptest.Operator, "vm status 104")
	if got := buttons(b.waitSent(5)[4]); !slices.Contains(got, "shut down=run:vm shutdown 104") {
		t.Errorf("status buttons = %q, want shut down", got)
	}
	// The command names are the metrics labels.
	_, metrics := get(t, b.adminURL("/metrics"))
	contains(t, "metrics", metrics, `command="whoami"`, `command="guest_status"`, `command="help"`)
}

func TestVMIPAndLinks(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	tests := []struct {
		in        string
		want, not []string
	}{
		{"vm ip 104", []string{"docker-host (104) 的地址", "ens18 · 192.168.1.44/24", "docker0 · 172.17.0.1/16"}, []string{"127.0.0.1/8", "lo ·", "fe80"}},
		{"IP docker-host", []string{"ens18 · 192.168.1.44/24"}, nil},
		{"地址 103", []string{"jellyfin (103) 的地址", "eth0 · 192.168.1.33/24"}, []string{"127.0.0.1/8"}},
		{"地址 101", []string{"truenas (101) 没有启用 QEMU 客户机代理", "qemu-guest-agent"}, nil},
		{"地址 114", []string{"backup-pbs (114) 的客户机代理没有响应"}, nil},
		{"地址 105", []string{"dev-ubuntu (105) 没有运行"}, nil},
	}
	for i, tt := range tests {
		b.text(apptest.Viewer, tt.in)
		got := visible(b.waitSent(i + 1)[i])
		contains(t, tt.in, got, tt.want...)
		for _, n := range tt.not {
			if strings.Contains(got, n) {
				t.Errorf("%s = %q, want no %s", tt.in, got, n)
			}
		}
	}
	n := len(tests)
	b.text(apptest.Viewer, "状态 104")
	card := b.waitSent(n + 1)[n].Card
	if card == nil || !slices.Contains(card.Fields, wecomtest.CardField{KeyName: "IP", Value: "192.168.1.44"}) {
		t.Errorf("status card = %+v, want the primary address", card)
	}
	if card == nil || !strings.HasPrefix(card.CardURL, env.PVE.URL()) || !strings.Contains(card.CardURL, "qemu%2F104") {
		t.Errorf("status card URL = %q, want the guest's page in PVE", card.CardURL)
	}
	b.text(apptest.Viewer, "节点 状态 pve2")
	if card := b.waitSent(n + 2)[n+1].Card; card == nil || !strings.Contains(card.CardURL, "node%2Fpve2") {
		t.Errorf("node card = %+v, want the node's page in PVE", card)
	}
}

func TestTimesInTheConfiguredZone(t *testing.T) {
	at := time.Date(2026, 12, 2, 1, 36, 41, 0, time.UTC)
	for _, tc := range []struct{ extra, want string }{
		{"", "12-02 09:36:41"}, // Asia/Shanghai by default
		{"timezone: UTC\n", "12-02 01:36:41"},
	} {
		env := apptest.NewEnv(t)
		b := startBot(t, env, botOptions{now: func() time.Time { return at }, cfg: apptest.ConfigOptions{Extra: tc.extra}})
		b.text(apptest.Viewer, "启动 105")
		b.waitSent(1)
		b.text(apptest.Admin, "审计")
		contains(t, "audit with "+tc.extra, lastText(b, 2), tc.want)
	}
}
