package alert

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/notify"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/schedule"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

const gib = 1 << 30

// recorder is a Pusher that keeps what it was given, rendered as group markdown.
type recorder struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recorder) Push(_ context.Context, _ []string, m notify.Message) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m.Markdown(2048))
	return 1
}

// take returns what was pushed since the last take.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.msgs
	r.msgs = nil
	return out
}

type env struct {
	t     *testing.T
	pve   *pvetest.Server
	clock *schedule.ManualClock
	st    *store.Store
	fleet *pve.Fleet
	cfg   *config.Config
	push  *recorder
	eng   *Engine
}

// newEnv builds the home lab on a fake PVE, a store and an engine with the default
// rules; edit changes the config before the engine is built.
func newEnv(t *testing.T, edit func(*config.Config)) *env {
	t.Helper()
	// 2026-05-01 12:00 in Shanghai: outside the default quiet hours.
	clock := schedule.NewManualClock(time.Date(2026, 5, 1, 4, 0, 0, 0, time.UTC))
	srv := pvetest.New(pvetest.Options{Now: clock.Now, ClusterName: "home"})
	t.Cleanup(srv.Close)
	pvetest.SeedHomeLab(srv)
	cfg := config.Default()
	cfg.Alerts.To = []string{"ops"}
	cfg.Alerts.Rules.GuestStopped.Guests = []string{"tag:critical"}
	cfg.Alerts.QuietHours = config.QuietHours{From: "23:00", To: "07:30", Except: []string{config.RuleNodeOffline, config.RulePVEUnreachable}}
	cfg.Targets = map[string]config.Target{"ops": {AppChat: "opsroom"}}
	cfg.WeCom.CorpID = "wwexamplecorp" // an appchat target needs the self-built app
	cfg.PVE.Clusters = []config.Cluster{{Name: "home", BaseURL: srv.URL(), TokenID: pvetest.HomeLabTokenID, TokenSecret: config.Secret(pvetest.HomeLabTokenSecret)}}
	if edit != nil {
		edit(cfg)
	}
	// Validate fills the parsed forms (selectors, quiet-hour minutes).
	for _, p := range cfg.Validate() {
		if strings.HasPrefix(p.Key, "alerts") || strings.HasPrefix(p.Key, "targets") || strings.HasPrefix(p.Key, "timezone") {
			t.Fatalf("config: %v", p)
		}
	}
	fleet, err := pve.NewFleet(cfg.PVE, pve.Options{Timeout: 5 * time.Second, GuestCacheTTL: -1, Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, pve: srv, clock: clock, fleet: fleet, cfg: cfg, push: &recorder{}}
	e.open()
	return e
}

// open (re)opens the store and builds a fresh engine on it, as a restart does.
func (e *env) open() {
	e.t.Helper()
	if e.st == nil {
		dir := e.t.TempDir()
		st, err := store.Open(dir, store.Options{Now: e.clock.Now})
		if err != nil {
			e.t.Fatal(err)
		}
		e.st = st
		e.t.Cleanup(func() { _ = e.st.Close() })
	}
	e.eng = New(e.cfg, e.fleet, e.st, e.st, e.push, Options{Logger: zaptest.NewLogger(e.t), Clock: e.clock})
}

// step advances the clock by d and runs one check; it returns what was pushed.
func (e *env) step(d time.Duration) []string {
	e.t.Helper()
	e.clock.Advance(d)
	e.eng.Check(context.Background())
	return e.push.take()
}

func want(t *testing.T, step string, got []string, wants ...string) {
	t.Helper()
	n := min(len(wants), 1)
	if len(got) != n {
		t.Fatalf("%s: pushed %d messages %q, want %d", step, len(got), got, n)
	}
	for _, w := range wants {
		if !strings.Contains(got[0], w) {
			t.Errorf("%s: message = %q, want it to contain %q", step, got[0], w)
		}
	}
}

func TestNodeOffline(t *testing.T) {
	e := newEnv(t, nil)
	want(t, "all well", e.step(0))
	e.pve.SetNodeOnline("pve2", false)
	want(t, "offline, pending", e.step(time.Minute))
	want(t, "still pending at 1m59", e.step(119*time.Second))
	want(t, "after for", e.step(time.Second), "🔴 节点离线：pve2", "集群：home")
	want(t, "no repeat", e.step(time.Minute))
	e.pve.SetNodeOnline("pve2", true)
	want(t, "back", e.step(time.Minute), "✅ 节点恢复在线：pve2", "持续：4 分钟")
	want(t, "quiet after", e.step(time.Minute))
}

// A member that sends no statistics is "unknown" in PVE: the alert says "no data", not
// "offline", and a dead node's guests, still listed as running for 5 minutes, are left to
// node_offline.
func TestNodeNoDataIsNotOffline(t *testing.T) {
	e := newEnv(t, nil)
	want(t, "all well", e.step(0))
	e.pve.SetNodeSilent("pve1", true)
	want(t, "pending", e.step(time.Minute))
	got := e.step(2 * time.Minute)
	want(t, "after for", got, "节点无数据：pve1", "pvestatd")
	if strings.Contains(got[0], "离线") {
		t.Errorf("a silent node reads as offline: %q", got[0])
	}
	e.pve.SetNodeSilent("pve1", false)
	want(t, "back", e.step(time.Minute), "✅ 节点恢复上报数据：pve1")
}

func TestStorageHysteresis(t *testing.T) {
	e := newEnv(t, nil)
	total := uint64(94 * gib)
	set := func(p float64) { e.pve.SetStorageUsage("pve1", "local", uint64(float64(total)*p)) }
	want(t, "start", e.step(0))
	set(0.86)
	want(t, "crossed 85%, pending", e.step(time.Minute))
	want(t, "after 10m", e.step(10*time.Minute), "🟠 存储使用率 86%：local（节点 pve1）", "集群：home")
	set(0.82)
	want(t, "82%: still firing", e.step(time.Minute))
	if got := e.eng.Firing(context.Background()); len(got) != 1 || !strings.Contains(got[0], "local（节点 pve1）") {
		t.Errorf("Firing = %q, want the storage alert", got)
	}
	set(0.79)
	want(t, "79%: resolved", e.step(time.Minute), "✅ 存储使用率恢复正常（79%）：local（节点 pve1）", "持续：12 分钟")
}

func TestRestartWhileFiring(t *testing.T) {
	e := newEnv(t, nil)
	e.pve.SetNodeOnline("pve2", false)
	e.step(0)
	want(t, "fires", e.step(2*time.Minute), "节点离线：pve2")
	e.open() // a new engine on the same store: a restart
	want(t, "after restart", e.step(time.Minute))
	want(t, "later", e.step(time.Hour))
	e.pve.SetNodeOnline("pve2", true)
	want(t, "recovery still known", e.step(time.Minute), "✅ 节点恢复在线：pve2")
}

func TestQuietHours(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Alerts.Repeat = 0 })
	e.clock.Set(time.Date(2026, 5, 1, 15, 0, 0, 0, time.UTC)) // 23:00 Shanghai
	e.pve.SetStorageUsage("pve1", "local", 90*gib)
	e.pve.SetNodeOnline("pve2", false)
	e.step(0)
	got := e.step(15 * time.Minute)
	want(t, "quiet: only node_offline", got, "节点离线：pve2")
	want(t, "still quiet", e.step(3*time.Hour))
	e.clock.Set(time.Date(2026, 5, 1, 23, 30, 0, 0, time.UTC)) // 07:30 Shanghai
	want(t, "quiet hours over", e.step(0), "存储使用率 96%：local（节点 pve1）")
}

func TestRepeat(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Alerts.Repeat = config.Duration(time.Hour) })
	e.pve.SetNodeOnline("pve2", false)
	e.step(0)
	want(t, "fires", e.step(2*time.Minute), "节点离线")
	want(t, "before repeat", e.step(59*time.Minute))
	want(t, "reminder", e.step(time.Minute), "⏰ 仍未恢复 · 🔴 节点离线：pve2")
}

func TestMute(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Alerts.Repeat = config.Duration(time.Hour) })
	e.pve.SetNodeOnline("pve2", false)
	e.step(0)
	want(t, "fires", e.step(2*time.Minute), "节点离线")
	if err := SetMute(context.Background(), e.st, "node:home/pve2", "lisi", e.clock.Now().Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	want(t, "muted: no reminder", e.step(time.Hour))
	want(t, "mute over: reminder", e.step(time.Hour+time.Minute), "⏰")
}

func TestGuestStopped(t *testing.T) {
	t.Run("surprise", func(t *testing.T) {
		e := newEnv(t, nil)
		e.step(0)
		stopGuest(t, e, 101)
		e.step(time.Minute)
		want(t, "pending", e.step(time.Minute))
		want(t, "fires", e.step(time.Minute), "虚拟机/容器未运行：truenas (101)", "集群：home")
	})
	t.Run("through the bot", func(t *testing.T) {
		e := newEnv(t, nil)
		e.step(0)
		if err := e.st.Audit(context.Background(), store.AuditEntry{Time: e.clock.Now(), User: "lisi", Command: "shutdown truenas (101)",
			Decision: store.DecisionAllowed, Cluster: "home", VMID: 101, UPID: "UPID:pve1:1:2:3:qmshutdown:101:chatbot@pve!bot:"}); err != nil {
			t.Fatal(err)
		}
		stopGuest(t, e, 101)
		e.step(time.Minute)
		e.step(time.Minute)
		want(t, "says who", e.step(time.Minute), "truenas (101) 已由 lisi 通过机器人关机")
		want(t, "no reminder, no alert", e.step(7*time.Hour))
	})
}

// stopGuest stops a guest through the fake's API, as the PVE web UI would.
func stopGuest(t *testing.T, e *env, vmid int) {
	t.Helper()
	g, err := e.fleet.Find(context.Background(), "home/"+itoa(vmid), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fleet.Do(context.Background(), g, pve.ActionStop); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		e.clock.Advance(100 * time.Millisecond) // the fake's task ends on its clock
		if pg, _ := e.pve.Guest(vmid); pg.Status == "stopped" {
			return
		}
	}
	t.Fatalf("guest %d did not stop", vmid)
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestNoSysAuditReportedOnce(t *testing.T) {
	e := newEnv(t, nil)
	e.pve.AddToken(pvetest.HomeLabTokenID, pvetest.HomeLabTokenSecret, map[string][]string{"/vms": {"VM.Audit", "VM.PowerMgmt"}, "/storage": {"Datastore.Audit"}})
	got := e.step(0)
	if len(got) != 2 || !strings.Contains(got[0], "Sys.Audit") {
		t.Fatalf("pushed %q, want one message per blind node rule naming Sys.Audit", got)
	}
	want(t, "said once", e.step(time.Minute))
}

func TestUnreachable(t *testing.T) {
	e := newEnv(t, nil)
	e.step(0)
	e.pve.FailNext("GET", "/cluster/resources", 500, "boom", 1000)
	want(t, "pending", e.step(time.Minute))
	e.step(time.Minute)
	e.step(time.Minute)
	want(t, "fires after 3m", e.step(time.Minute), "🔴 无法连接集群：home")
}

// Alert times are in the configured zone, not the host's: UTC 04:01 is 00:01 in New York.
func TestAlertTimesInConfiguredZone(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Timezone = "America/New_York"; c.Alerts.QuietHours = config.QuietHours{} })
	e.step(0)
	e.pve.SetNodeOnline("pve2", false)
	e.step(time.Minute)
	want(t, "fired", e.step(2*time.Minute), "🔴 节点离线：pve2", "开始于：05-01 00:01")
}
