package commands

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// clock is a settable clock shared by the fake PVE and the dispatcher.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// waitNotify records follow-up messages and lets a test wait for the next one.
type waitNotify struct {
	mu      sync.Mutex
	replies []chat.Reply
	got     chan struct{}
}

func newWaitNotify() *waitNotify { return &waitNotify{got: make(chan struct{}, 16)} }

func (w *waitNotify) Reply(_ context.Context, _ string, rep chat.Reply) error {
	w.mu.Lock()
	w.replies = append(w.replies, rep)
	w.mu.Unlock()
	w.got <- struct{}{}
	return nil
}

func (w *waitNotify) next(t *testing.T) chat.Reply {
	t.Helper()
	select {
	case <-w.got:
	case <-time.After(20 * time.Second):
		t.Fatal("no follow-up message")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.replies[len(w.replies)-1]
}

func (w *waitNotify) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.replies)
}

// pveBench is a dispatcher on a real pve.Fleet against the fake PVE, with one shared fake
// clock: tasks end and HA rounds happen only when the test says so.
type pveBench struct {
	pv    *pvetest.Server
	clk   *clock
	d     *Dispatcher
	note  *waitNotify
	store *store.Store
}

func newPVEBench(t *testing.T, opts pvetest.Options, edit func(*config.Config), quickWait ...time.Duration) *pveBench {
	t.Helper()
	clk := &clock{t: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	opts.Now = clk.Now
	if opts.TaskDuration == 0 {
		opts.TaskDuration = -1
	}
	pv := pvetest.New(opts)
	t.Cleanup(pv.Close)
	pvetest.SeedHomeLab(pv)
	cfg := config.Default()
	cfg.Confirm = nil
	cfg.Users = []config.User{{ID: "zhangsan", Role: "admin"}}
	cfg.PVE.Clusters = []config.Cluster{{Name: "home", BaseURL: pv.URL(), TokenID: pvetest.HomeLabTokenID,
		TokenSecret: config.Secret(pvetest.HomeLabTokenSecret)}}
	if edit != nil {
		edit(cfg)
	}
	fleet, err := pve.NewFleet(cfg.PVE, pve.Options{PollInterval: 2 * time.Millisecond, GuestCacheTTL: -1, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	note := newWaitNotify()
	do := Options{Fleet: fleet, Store: st, Notify: note, Now: clk.Now, HAPoll: 2 * time.Millisecond}
	if len(quickWait) > 0 {
		do.QuickWait = quickWait[0]
	}
	d := New(cfg, do)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Close(ctx)
	})
	return &pveBench{pv: pv, clk: clk, d: d, note: note, store: st}
}

var msgSeq int

func (b *pveBench) say(t *testing.T, text string) string {
	t.Helper()
	msgSeq++
	reps := b.d.Handle(context.Background(), chat.Message{ID: "m" + strings.Repeat("x", msgSeq), User: "zhangsan", Kind: chat.KindText, Text: text})
	var out []string
	for _, r := range reps {
		out = append(out, replyText(r))
	}
	return strings.Join(out, "\n")
}

func replyText(r chat.Reply) string {
	var b strings.Builder
	b.WriteString(r.Title)
	for _, f := range r.Fields {
		b.WriteString(" | " + f.Label + ": " + f.Value)
	}
	for _, l := range r.Lines {
		b.WriteString(" | " + l)
	}
	return b.String()
}

// An HA guest's start is only requested from the HA manager: the bot must not claim the
// guest started until its state shows it, and then say so exactly once.
func TestHAStartWaitsForTheGuest(t *testing.T) {
	for _, tc := range []struct {
		cmd, from, done string
	}{
		{"vm start homeassistant", "stopped", "已启动"},
		{"vm shutdown homeassistant", "running", "已关机"},
		{"vm stop homeassistant", "running", "已停止"},
	} {
		t.Run(tc.cmd, func(t *testing.T) {
			b := newPVEBench(t, pvetest.Options{}, nil)
			b.pv.AddGuest(pvetest.Guest{VMID: 102, Name: "homeassistant", Node: "pve1", Status: tc.from, HA: true, MaxMem: 4 << 30})
			first := b.say(t, tc.cmd)
			if strings.Contains(first, "✅") || !strings.Contains(first, "HA 管理器") {
				t.Fatalf("first answer %q: want the waiting state, no success", first)
			}
			if g, _ := b.pv.Guest(102); g.Status != tc.from {
				t.Fatalf("guest is %s already", g.Status)
			}
			b.clk.Advance(10 * time.Second) // the CRM's round
			b.clk.Advance(10 * time.Second) // the LRM's round
			final := replyText(b.note.next(t))
			if !strings.Contains(final, "✅") || !strings.Contains(final, tc.done) {
				t.Errorf("final answer %q, want %s", final, tc.done)
			}
			b.clk.Advance(5 * time.Minute)
			if err := b.d.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := b.note.count(); n != 1 {
				t.Errorf("got %d follow-up messages, want exactly one", n)
			}
			if got := b.pv.Count("POST", "/nodes/pve1/qemu/102/status/"); got != 1 {
				t.Errorf("got %d POSTs, want 1", got)
			}
		})
	}
}

// An HA task that outlives the quick wait is followed in the background like any task, and
// then, as the request is with the HA manager, until the guest's state shows it: still one
// final answer.
func TestHATaskSlowerThanQuickWait(t *testing.T) {
	b := newPVEBench(t, pvetest.Options{TaskDuration: 5 * time.Second, HARound: -1}, nil, 20*time.Millisecond)
	b.pv.AddGuest(pvetest.Guest{VMID: 102, Name: "homeassistant", Node: "pve1", Status: "stopped", HA: true})
	if first := b.say(t, "vm start homeassistant"); !strings.Contains(first, "正在启动") {
		t.Fatalf("first answer %q, want 'starting'", first)
	}
	reads := b.pv.Count("GET", "/nodes/pve1/qemu/102/status/current")
	b.clk.Advance(time.Second) // the hastart task ends; the guest is still stopped
	// Wait until the follow-up has seen the task end and read the guest (still stopped).
	for deadline := time.Now().Add(10 * time.Second); b.pv.Count("GET", "/nodes/pve1/qemu/102/status/current") == reads; {
		if time.Now().After(deadline) {
			t.Fatal("the follow-up never read the guest's state")
		}
		time.Sleep(time.Millisecond)
	}
	if b.note.count() != 0 {
		t.Fatalf("answered before the HA manager acted: %v", b.note.replies)
	}
	b.pv.RunHARound()              // the CRM
	b.pv.RunHARound()              // the LRM starts qmstart
	b.clk.Advance(5 * time.Second) // which has run
	final := replyText(b.note.next(t))
	if !strings.Contains(final, "✅") || !strings.Contains(final, "已启动") || !strings.Contains(final, "运行中") {
		t.Errorf("final answer %q, want started and running", final)
	}
	if err := b.d.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := b.note.count(); n != 1 {
		t.Errorf("got %d follow-up messages, want one", n)
	}
}

// A request the HA manager never acts on ends, after the bound, in one answer that says it
// did not happen and what to check.
func TestHARequestNeverActedOn(t *testing.T) {
	b := newPVEBench(t, pvetest.Options{}, nil)
	b.pv.AddGuest(pvetest.Guest{VMID: 102, Name: "homeassistant", Node: "pve1", Status: "stopped", HA: true, MaxMem: 4 << 30})
	b.pv.SetHAActive(false)
	first := b.say(t, "vm start homeassistant")
	if strings.Contains(first, "✅") {
		t.Fatalf("first answer %q claims success", first)
	}
	bound := pve.HABound(pve.Guest{MaxMem: 4 << 30}, pve.ActionStart, pve.HARound)
	b.clk.Advance(bound - time.Second)
	if b.note.count() != 0 {
		t.Fatalf("answered before the bound: %v", b.note.replies)
	}
	b.clk.Advance(time.Second)
	final := replyText(b.note.next(t))
	if !strings.Contains(final, "未能启动") || !strings.Contains(final, "ha-manager status") {
		t.Errorf("final answer %q, want 'did not start' and what to check", final)
	}
	if open, _ := b.store.OpenActions(context.Background()); len(open) != 0 {
		t.Errorf("%d actions left open", len(open))
	}
}

// An HA task that ha-manager refused shows the task log's reason, not "exit code 255"; a
// locked HA guest whose service the LRM puts in error state is told at once.
func TestHAFailuresSayWhy(t *testing.T) {
	t.Run("error state", func(t *testing.T) {
		b := newPVEBench(t, pvetest.Options{}, nil)
		b.pv.AddGuest(pvetest.Guest{VMID: 102, Name: "homeassistant", Node: "pve1", Status: "running", HA: true})
		b.pv.SetHAError(102)
		got := b.say(t, "vm shutdown homeassistant")
		if !strings.Contains(got, "in error state, must be disabled and fixed first") || !strings.Contains(got, "ha-manager set vm:102 --state disabled") {
			t.Errorf("got %q, want the log's reason and the fix", got)
		}
	})
	t.Run("locked guest", func(t *testing.T) {
		b := newPVEBench(t, pvetest.Options{}, nil)
		b.pv.AddGuest(pvetest.Guest{VMID: 102, Name: "homeassistant", Node: "pve1", Status: "stopped", HA: true, Lock: "backup"})
		b.say(t, "vm start homeassistant")
		b.clk.Advance(20 * time.Second)
		final := replyText(b.note.next(t))
		if !strings.Contains(final, "出错状态") || !strings.Contains(final, "HA 状态: 出错") || strings.Contains(final, "✅") {
			t.Errorf("final answer %q, want the HA error state", final)
		}
	})
}

// A paused VM reads as paused in the list, the summary and its card, and a shutdown or
// reboot of it is answered in words instead of PVE's "VM is paused - cannot shutdown".
func TestPausedVM(t *testing.T) {
	b := newPVEBench(t, pvetest.Options{}, nil)
	b.pv.AddGuest(pvetest.Guest{VMID: 104, Name: "docker-host", Node: "pve2", Status: "running", Paused: true, MaxMem: 8 << 30, Mem: 7 << 30})
	for _, cmd := range []string{"vm list docker", "vm status docker-host", "status"} {
		got := b.say(t, cmd)
		if !strings.Contains(got, "已暂停") {
			t.Errorf("%s: got %q, want the VM shown as paused", cmd, got)
		}
		if cmd == "vm list docker" && strings.Contains(got, "🟢") {
			t.Errorf("%s: got %q, a paused VM is not 🟢", cmd, got)
		}
	}
	for _, cmd := range []string{"vm shutdown docker-host", "vm reboot docker-host"} {
		got := b.say(t, cmd)
		if !strings.Contains(got, "已暂停，无法") || strings.Contains(got, "VM is paused") {
			t.Errorf("%s: got %q, want it said in words", cmd, got)
		}
	}
	if n := b.pv.Count("POST", "/nodes/pve2/qemu/104/status/"); n != 0 {
		t.Errorf("got %d POSTs, want none", n)
	}
}

// A CT "suspend" in PVE is a CRIU checkpoint that stops the container: the bot refuses it
// with the reason instead of reporting a paused container.
func TestContainerSuspendRefused(t *testing.T) {
	b := newPVEBench(t, pvetest.Options{}, nil)
	for _, cmd := range []string{"ct suspend jellyfin", "ct resume jellyfin"} {
		got := b.say(t, cmd)
		if !strings.Contains(got, "CRIU") || strings.Contains(got, "✅") {
			t.Errorf("%s: got %q, want a refusal with the reason", cmd, got)
		}
	}
	if n := b.pv.Count("POST", "/nodes/pve2/lxc/103/status/"); n != 0 {
		t.Errorf("got %d POSTs, want none", n)
	}
	if g, _ := b.pv.Guest(103); g.Status != "running" {
		t.Errorf("jellyfin is %s", g.Status)
	}
}

// Without quorum PVE refuses only start: the bot says that, and a shutdown still works.
func TestNoQuorumRefusesOnlyStart(t *testing.T) {
	b := newPVEBench(t, pvetest.Options{}, nil)
	b.pv.SetQuorum(false)
	got := b.say(t, "vm start dev-ubuntu")
	if !strings.Contains(got, "拒绝启动") || !strings.Contains(got, "关机") {
		t.Errorf("start: got %q, want start refused and shutdown still possible", got)
	}
	got = b.say(t, "vm shutdown docker-host")
	if !strings.Contains(got, "✅") {
		t.Errorf("shutdown: got %q, want it done", got)
	}
}

// An HA resource in state "ignored" is not managed by HA: no "HA managed" on its cards, and
// its start is a plain qmstart, reported when done.
func TestHAIgnoredIsNotManaged(t *testing.T) {
	b := newPVEBench(t, pvetest.Options{}, func(c *config.Config) { c.Confirm = []string{"shutdown"} })
	b.pv.AddGuest(pvetest.Guest{VMID: 120, Name: "k3s", Node: "pve1", Status: "running", HAIgnored: true})
	if got := b.say(t, "vm status k3s"); strings.Contains(got, "HA") {
		t.Errorf("status card %q shows HA", got)
	}
	if got := b.say(t, "vm shutdown k3s"); strings.Contains(got, "HA") {
		t.Errorf("confirmation %q shows HA", got)
	}
}

// For 5 minutes after a node dies its guests keep their last status in /cluster/resources:
// the list and the summary say so, name the node, and count none of them as running. A
// member that sends no data is told apart from a dead one.
func TestDeadAndSilentNodes(t *testing.T) {
	b := newPVEBench(t, pvetest.Options{}, nil)
	b.pv.SetNodeOnline("pve2", false)
	list := b.say(t, "vm list docker")
	if !strings.Contains(list, "docker-host") || !strings.Contains(list, "节点 pve2 离线") || strings.Contains(list, "1 台运行中") {
		t.Errorf("list: got %q, want docker-host marked stale with its node, not counted running", list)
	}
	sum := b.say(t, "status")
	if !strings.Contains(sum, "🔴 pve2") || !strings.Contains(sum, "未计入运行中") {
		t.Errorf("summary: got %q, want pve2's guests not counted as running", sum)
	}
	b.pv.SetNodeOnline("pve2", true)
	b.pv.SetNodeSilent("pve2", true)
	sum = b.say(t, "status")
	if !strings.Contains(sum, "pve2 · 无数据") || strings.Contains(sum, "🔴 pve2") {
		t.Errorf("summary: got %q, want pve2 shown as sending no data, not offline", sum)
	}
}

// Without Pool.Audit PVE leaves guests' pools out. A protected list naming a pool must then
// still protect the pool's guests (fail safe, not open), and a pool-scoped user is told why
// the list is short.
func TestPoolsWithoutPoolAudit(t *testing.T) {
	b := newPVEBench(t, pvetest.Options{}, func(c *config.Config) {
		c.Users = []config.User{{ID: "zhangsan", Role: "operator"}, {ID: "lisi", Role: "operator", Scope: []string{"pool:media"}}}
		c.PVE.Clusters[0].Protected = []string{"pool:infra"}
		for _, p := range c.Validate() {
			if strings.HasPrefix(p.Key, "users") || strings.HasPrefix(p.Key, "pve") {
				t.Fatalf("config: %v", p)
			}
		}
	})
	b.pv.AddToken(pvetest.HomeLabTokenID, pvetest.HomeLabTokenSecret, map[string][]string{"/": {"VM.Audit", "VM.PowerMgmt", "Sys.Audit", "Datastore.Audit"}})
	got := b.say(t, "vm shutdown opnsense")
	if !strings.Contains(got, "Pool.Audit") || strings.Contains(got, "✅") {
		t.Errorf("shutdown of a guest in the protected pool: got %q, want it refused as protected and why", got)
	}
	if g, _ := b.pv.Guest(100); g.Status != "running" {
		t.Errorf("opnsense is %s: the protected list failed open", g.Status)
	}
	msgSeq++
	reps := b.d.Handle(context.Background(), chat.Message{ID: "lisi-list", User: "lisi", Kind: chat.KindText, Text: "vm list"})
	if len(reps) != 1 || !strings.Contains(replyText(reps[0]), "Pool.Audit") {
		t.Errorf("scoped list: got %v, want the reason", reps)
	}
}
