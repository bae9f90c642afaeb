package app_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
)

func snapPosts(env *apptest.Env, method, path string) int { return env.PVE.Count(method, path) }

// TestSnapshotTakeListRollbackDelete walks the path: take → list shows it; rollback
// shows an impact card naming the age and the stop, then exactly one rollback POST followed to
// its result; delete likewise.
func TestSnapshotTakeListRollbackDelete(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})

	b.text(apptest.Operator, "快照 docker-host before_upgrade 升级 docker")
	contains(t, "take result", lastText(b, 1), "docker-host", "已创建快照", "before_upgrade")
	if n := snapPosts(env, "POST", "/nodes/pve2/qemu/104/snapshot"); n != 1 {
		t.Fatalf("snapshot POSTs = %d, want 1", n)
	}
	snaps, cur := env.PVE.Snapshots(104)
	if cur != "before_upgrade" || len(snaps) != 2 || snaps[1].Description != "升级 docker" {
		t.Fatalf("fake holds %+v (current %q), want before_upgrade with its description after clean_install", snaps, cur)
	}

	b.text(apptest.Operator, "快照列表 104")
	list := lastText(b, 2)
	contains(t, "list", list, "clean_install", "before_upgrade", "当前状态")
	if strings.Index(list, "clean_install") > strings.Index(list, "before_upgrade") {
		t.Errorf("list %q: the older snapshot should come first", list)
	}

	// An operator may not roll back (admin only by default), and nothing is sent.
	b.text(apptest.Operator, "回滚 104 clean_install")
	contains(t, "operator rollback", lastText(b, 3), "操作员", "回滚")
	if n := snapPosts(env, "POST", "/nodes/pve2/qemu/104/snapshot/"); n != 0 {
		t.Fatalf("rollback POSTs after the operator's refusal = %d, want 0", n)
	}

	b.text(apptest.Admin, "回滚 docker-host clean_install")
	card := b.waitSent(4)[3]
	raw := string(card.Card.Raw)
	contains(t, "impact card", raw, "docker-host", "clean_install", "120 天", "此后的所有更改都会丢失", "强制停止", "before_upgrade")
	key := confirmKey(t, card)
	if n := snapPosts(env, "POST", "/nodes/pve2/qemu/104/snapshot/clean_install/rollback"); n != 0 {
		t.Fatalf("rollback POSTs before confirming = %d, want 0", n)
	}
	b.click(apptest.Admin, key, "rc-rollback")
	upd := b.waitUpdates(1)[0]
	result := upd.ReplaceName
	if upd.Card != nil {
		result += string(upd.Card.Raw)
	}
	contains(t, "rollback result", result, "docker-host", "已回滚", "clean_install")
	if n := snapPosts(env, "POST", "/nodes/pve2/qemu/104/snapshot/clean_install/rollback"); n != 1 {
		t.Errorf("rollback POSTs = %d, want exactly 1", n)
	}
	if _, cur := env.PVE.Snapshots(104); cur != "clean_install" {
		t.Errorf("current state derives from %q after the rollback, want clean_install", cur)
	}

	b.text(apptest.Admin, "删除快照 104 before_upgrade")
	card = b.waitSent(5)[4]
	contains(t, "delete card", string(card.Card.Raw), "before_upgrade", "释放")
	b.click(apptest.Admin, confirmKey(t, card), "rc-delete")
	upd = b.waitUpdates(2)[1]
	result = upd.ReplaceName
	if upd.Card != nil {
		result += string(upd.Card.Raw)
	}
	contains(t, "delete result", result, "已删除快照")
	if n := snapPosts(env, "DELETE", "/nodes/pve2/qemu/104/snapshot/before_upgrade"); n != 1 {
		t.Errorf("DELETE requests = %d, want exactly 1", n)
	}
	if snaps, _ := env.PVE.Snapshots(104); len(snaps) != 1 {
		t.Errorf("fake holds %+v after the delete, want only clean_install", snaps)
	}
}

func TestSnapshotRefusals(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})

	// A viewer may list but not take one: refused, nothing sent.
	b.text(apptest.Viewer, "快照 101")
	contains(t, "viewer", lastText(b, 1), "只读成员", "创建快照")
	if n := snapPosts(env, "POST", "/nodes/pve1/qemu/101/snapshot"); n != 0 {
		t.Errorf("snapshot POSTs for a viewer = %d, want 0", n)
	}

	// A locked guest is refused before sending, with the lock named.
	g, _ := env.PVE.Guest(104)
	g.Lock = "backup"
	env.PVE.AddGuest(g)
	b.text(apptest.Operator, "快照 104")
	contains(t, "locked", lastText(b, 2), "docker-host", "备份中")
	if n := snapPosts(env, "POST", "/nodes/pve2/qemu/104/snapshot"); n != 0 {
		t.Errorf("snapshot POSTs for a locked guest = %d, want 0", n)
	}

	// A name PVE would refuse is refused before sending.
	b.text(apptest.Operator, "快照 105 1st")
	contains(t, "bad name", lastText(b, 3), "1st", "须以字母开头")

	// RAM only for a running VM.
	b.text(apptest.Operator, "快照 dev-ubuntu x1 含内存")
	contains(t, "ram of a stopped vm", lastText(b, 4), "只有运行中的虚拟机")

	// An unknown snapshot names what there is.
	b.text(apptest.Admin, "回滚 102 nope")
	contains(t, "unknown snapshot", lastText(b, 5), "找不到快照 nope", "before_2026_11")
	if n := snapPosts(env, "POST", "/nodes/pve1/qemu/102/snapshot/"); n != 0 {
		t.Errorf("rollback POSTs = %d, want 0", n)
	}
	if n := snapPosts(env, "POST", "/nodes/pve2/qemu/105/snapshot"); n != 0 {
		t.Errorf("snapshot POSTs for refused names = %d, want 0", n)
	}
}

// TestSnapshotListRollbackButtons: the list offers a rollback button per snapshot to those
// who may roll back (admin), none to an operator; a press goes through the confirmation.
func TestSnapshotListRollbackButtons(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Operator, "快照列表 104")
	if got := buttons(b.waitSent(1)[0]); len(got) != 0 {
		t.Errorf("operator's list has buttons %q, want none (rollback is admin only)", got)
	}
	b.text(apptest.Admin, "快照列表 102")
	got := buttons(b.waitSent(2)[1])
	want := []string{"回滚到 before_2026_11=run:回滚 102 before_2026_11", "回滚到 before_2026_10=run:回滚 102 before_2026_10"}
	if !slices.Equal(got, want) {
		t.Fatalf("admin's list buttons = %q, want %q", got, want)
	}
	b.click(apptest.Admin, "run:回滚 102 before_2026_10", "rc-list")
	card := b.waitSent(3)[2]
	contains(t, "pressed rollback", string(card.Card.Raw), "确认回滚", "before_2026_10")
	if n := snapPosts(env, "POST", "/nodes/pve1/qemu/102/snapshot/"); n != 0 {
		t.Errorf("rollback POSTs before confirming = %d, want 0", n)
	}
}

// TestSnapshotRollbackRAMAndHA: the impact card of a RAM snapshot of an HA guest says the VM
// resumes from it and that HA may act, and a rollback to a snapshot with newer ones names them.
func TestSnapshotRollbackImpact(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})
	b.text(apptest.Admin, "vm rollback homeassistant before_2026_11")
	contains(t, "ram impact", string(b.waitSent(1)[0].Card.Raw), "含内存状态", "HA")
	b.text(apptest.Admin, "vm rollback homeassistant before_2026_10")
	contains(t, "newer kept", string(b.waitSent(2)[1].Card.Raw), "更新的快照", "before_2026_11")
}
