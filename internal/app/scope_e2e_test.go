package app_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// asker sends one message at a time and returns its answer.
type asker struct {
	b *bot
	n int
}

func (a *asker) ask(user, text string) string {
	a.b.t.Helper()
	a.n++
	a.b.text(user, text)
	return lastText(a.b, a.n)
}

// A scoped user probes for guests outside the scope (reality.md 3.3): the answer for a
// hidden guest must be the answer for a missing one, word for word; a hidden guest's
// kind, existence or name never shows, and a hidden name never makes a target ambiguous.
func TestScopedUserCannotDiscoverHiddenGuests(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	a := &asker{b: b}
	// lisi sees pool media and tag lab; truenas (101, VM) and pihole (107, CT) are hidden.
	probes := []struct{ hidden, missing string }{
		{"ct start 101", "ct start 998"},           // kind check before access
		{"qemu start pihole", "qemu start zzqqzq"}, // the same by name
		{"vm start truen", "vm start zzqqz"},       // exists, by prefix
		{"vm start truenas", "vm start zzqqzzq"},
		{"vm stop 101", "vm stop 998"},
		{"vm status truenas", "vm status zzqqzzq"},
		{"vm status 107", "vm status 998"},
	}
	for _, p := range probes {
		hidden := a.ask(apptest.ScopedOp, p.hidden)
		missing := a.ask(apptest.ScopedOp, p.missing)
		ht, mt := lastWord(p.hidden), lastWord(p.missing)
		if strings.ReplaceAll(hidden, ht, "<x>") != strings.ReplaceAll(missing, mt, "<x>") {
			t.Errorf("%q answers %q but %q answers %q: a hidden guest is told apart from a missing one", p.hidden, hidden, p.missing, missing)
		}
		for _, leak := range []string{"truenas", "pihole", "虚拟机", "容器", "范围"} {
			if strings.Contains(hidden, leak) && !strings.Contains(p.hidden, leak) {
				t.Errorf("%q answers %q, which gives away %q", p.hidden, hidden, leak)
			}
		}
	}
	// "cloud" matches ubuntu-2404-cloud (visible) and nextcloud (hidden): not ambiguous.
	got := a.ask(apptest.ScopedOp, "vm status cloud")
	contains(t, "status by substring", got, "ubuntu-2404-clo", "9000")
	if strings.Contains(got, "nextcloud") || strings.Contains(got, "匹配多个") {
		t.Errorf("vm status cloud = %q: a hidden match shows", got)
	}
	for _, vmid := range []string{"101", "107"} {
		if n := env.PVE.Count("POST", "/nodes/pve1/qemu/"+vmid+"/status/") + env.PVE.Count("POST", "/nodes/pve1/lxc/"+vmid+"/status/"); n != 0 {
			t.Errorf("POSTs to %s = %d, want 0", vmid, n)
		}
	}
}

// A role without the action is told so whatever the target: "no start right" for an
// existing guest and "not found" for a missing one would tell the two apart.
func TestRoleRefusalNamesNoGuest(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	a := &asker{b: b}
	existing := a.ask(apptest.Viewer, "启动 truenas")
	missing := a.ask(apptest.Viewer, "启动 zzqqzzq")
	contains(t, "refusal", existing, "只读成员")
	if existing != missing {
		t.Errorf("viewer start of an existing guest answers %q, of a missing one %q: want the same refusal", existing, missing)
	}
}

// Admins keep the precise answers, also for the kind check.
func TestAdminGetsPreciseAnswers(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	a := &asker{b: b}
	contains(t, "admin ct start 101", a.ask(apptest.Admin, "ct start 101"), "truenas (101)", "虚拟机")
	contains(t, "admin vm status cloud", a.ask(apptest.Admin, "vm status cloud"), "匹配多个", "nextcloud", "ubuntu-2404-cloud")
}

// "vm start 402" with no VMID 402 must not start web-4021 (reality.md 3.7); a guest named
// by a part of its name is confirmed first, and the card says which guest that is.
func TestNumberIsAVMIDAndPartOfANameIsConfirmed(t *testing.T) {
	env := apptest.NewEnv(t)
	env.PVE.AddGuest(pvetest.Guest{VMID: 115, Name: "web-4021", Node: "pve2", Type: "qemu", Status: "stopped", Tags: []string{"lab"}, MaxCPU: 2, MaxMem: 2 << 30})
	b := startBot(t, env, botOptions{})
	a := &asker{b: b}
	contains(t, "vm start 402", a.ask(apptest.Operator, "vm start 402"), "找不到 402")
	if n := powerPosts(env, "pve2", "qemu", "115"); n != 0 {
		t.Fatalf("vm start 402 made %d POSTs to web-4021 (115), want 0", n)
	}

	// Start needs no confirmation by default; a target by part of a name does.
	a.n++
	b.text(apptest.Operator, "vm start web-40")
	card := b.waitSent(a.n)[a.n-1]
	key := confirmKey(t, card)
	contains(t, "confirmation card", string(card.Card.Raw), "web-40", "web-4021 (115)", "名称的一部分")
	if n := powerPosts(env, "pve2", "qemu", "115"); n != 0 {
		t.Fatalf("POSTs before the confirmation = %d, want 0", n)
	}
	b.click(apptest.Operator, key, "rc-web") // the result replaces the card
	if upd := b.waitUpdates(1)[0]; upd.Card == nil || !strings.Contains(string(upd.Card.Raw), "web-4021") {
		t.Errorf("card update = %+v, want the result for web-4021", upd)
	}
	if n := env.PVE.Count("POST", "/nodes/pve2/qemu/115/status/start"); n != 1 {
		t.Errorf("start POSTs after one tap = %d, want 1", n)
	}

	// The whole name or the VMID acts at once, as before.
	contains(t, "start by VMID", a.ask(apptest.Operator, "启动 106"), "dev-windows", "已启动")
	contains(t, "start by name", a.ask(apptest.Operator, "启动 KALI-LAB"), "kali-lab", "已启动")
}

// A confirmed action already asks; a match by part of a name adds which guest it is.
func TestPartialMatchOnConfirmedActionSaysWhichGuest(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{Language: "en"}})
	b.text(apptest.Operator, "vm shutdown docker")
	card := b.waitSent(1)[0]
	confirmKey(t, card)
	contains(t, "confirmation card", string(card.Card.Raw), `\"docker\" is only part of a name`, "docker-host (104)")
}

func lastWord(s string) string { return s[strings.LastIndex(s, " ")+1:] }

// A corp member who is not in users is limited like a member and fills the audit log with
// one entry, not one per message (reality.md 3.4: 40 messages gave 40 entries, 30 answers).
func TestUnknownMemberIsRateLimited(t *testing.T) {
	env := apptest.NewEnv(t)
	dir := t.TempDir()
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{DataDir: dir, RateLimit: "3/m"}})
	for range 40 {
		b.text("mallory", "vm list")
	}
	b.stop() // drains the queue
	sent := 0
	for _, m := range env.WeCom.Sent() {
		if strings.Join(m.ToUser, "|") == "mallory" {
			sent++
		}
	}
	if sent != 4 {
		t.Errorf("mallory got %d messages for 40, want 4 (3 answers and the limit notice)", sent)
	}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	entries, err := st.RecentAudit(context.Background(), store.MaxRecentAudit)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.User == "mallory" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("audit entries for mallory = %d, want 1", n)
	}
}
