package app_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app"
	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/schedule"
)

const robotKey = "robot-KEY-5d1c-never-log-me"

// startPushBot runs a bot whose scheduler and alert engine follow clock, and checks at
// the end that the robot key never reached its log.
func startPushBot(t *testing.T, env *apptest.Env, clock *schedule.ManualClock, extra string) (*app.App, *apptest.LogBuffer, func()) {
	t.Helper()
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{Extra: extra}, clock: clock})
	t.Cleanup(func() {
		if strings.Contains(b.logs.String(), robotKey) {
			t.Error("the robot key reached the log")
		}
	})
	return b.app, b.logs, b.stop
}

const pushTargets = `timezone: Asia/Shanghai
targets:
  ops-group:
    appchat: opsroom
    appchat_members: [zhangsan, lisi]
  robot:
    webhook_key: "` + robotKey + `"
`

func TestScheduledReportsE2E(t *testing.T) {
	env := apptest.NewEnv(t)
	// 08:40 in Shanghai.
	clock := schedule.NewManualClock(time.Date(2026, 5, 1, 0, 40, 0, 0, time.UTC))
	startPushBot(t, env, clock, pushTargets+`schedules:
  - name: morning
    cron: "5 9 * * *"
    report: summary
    to: [ops-group, robot]
  - name: half-hourly
    cron: "@every 30m"
    timezone: UTC
    report: storage
    to: [ops-group, robot]
`)
	done := make(chan struct{})
	t.Cleanup(func() { close(done) })
	// Two schedule loops and the outbox loop wait on the clock.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	waitChat(ctx, t, env)
	if !clock.BlockUntil(ctx.Done(), 3) {
		t.Fatal("scheduler did not start")
	}

	steps := []struct {
		to    time.Time
		wants []string // one per target: appchat then robot
	}{
		{time.Date(2026, 5, 1, 1, 4, 59, 0, time.UTC), nil},
		{time.Date(2026, 5, 1, 1, 5, 0, 0, time.UTC), []string{"**集群概览** · 2026-05-01 09:05", "**集群概览** · 2026-05-01 09:05"}},
		{time.Date(2026, 5, 1, 1, 10, 0, 0, time.UTC), []string{"**存储** · 2026-05-01 09:10", "**存储** · 2026-05-01 09:10"}},
	}
	total := 0
	for _, s := range steps {
		clock.Set(s.to)
		total += len(s.wants)
		sent, err := env.WeCom.WaitSent(ctx, total)
		if err != nil {
			t.Fatalf("at %v: waiting for %d messages: %v (have %d)", s.to, total, err, len(env.WeCom.Sent()))
		}
		if !clock.BlockUntil(ctx.Done(), 3) {
			t.Fatal("scheduler stopped")
		}
		if len(sent) != total {
			t.Fatalf("at %v: %d messages sent, want %d", s.to, len(sent), total)
		}
		got := sent[total-len(s.wants):]
		vias := map[string]string{}
		for _, m := range got {
			vias[m.Via] = m.Content
		}
		for i, via := range []string{"appchat", "robot"}[:len(s.wants)] {
			if !strings.HasPrefix(vias[via], s.wants[i]) {
				t.Errorf("at %v: %s message = %.80q, want it to start with %q", s.to, via, vias[via], s.wants[i])
			}
		}
	}
	for _, m := range env.WeCom.Sent() {
		if m.Via == "appchat" && m.ChatID != "opsroom" || m.Via == "robot" && m.RobotKey != robotKey {
			t.Errorf("message went to %s %q%q", m.Via, m.ChatID, m.RobotKey)
		}
	}
}

// waitChat waits until the bot created the group chat on start.
func waitChat(ctx context.Context, t *testing.T, env *apptest.Env) {
	t.Helper()
	if _, err := env.WeCom.WaitCalls(ctx, "/cgi-bin/appchat/create", 1); err != nil {
		t.Fatalf("appchat was not created: %v", err)
	}
}

func TestAlertCardMuteE2E(t *testing.T) {
	env := apptest.NewEnv(t)
	clock := schedule.NewManualClock(time.Date(2026, 5, 1, 4, 0, 0, 0, time.UTC))
	a, _, _ := startPushBot(t, env, clock, pushTargets+`  admins:
    users: [zhangsan]
alerts:
  interval: 1m
  to: [admins]
  rules:
    storage_usage: { enabled: false }
    guest_stopped: { enabled: false }
`)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if !clock.BlockUntil(ctx.Done(), 2) {
		t.Fatal("scheduler did not start")
	}
	env.PVE.SetNodeOnline("pve2", false)
	// Each minute is one check (for: 2m). The scheduler's own run may be skipped while
	// the previous one is still going on a busy machine, so each step also runs a check
	// and waits for it: after three the alert is due, however slow the machine.
	for range 3 {
		clock.Advance(time.Minute)
		if err := a.CheckAlertsNow(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sent, err := env.WeCom.WaitSent(ctx, 1)
	if err != nil {
		t.Fatalf("no alert after three minutes offline: %v", err)
	}
	m := sent[0]
	if m.Via != "app" || m.Card == nil || !m.DuplicateCheck {
		t.Fatalf("alert = %+v, want an app card with duplicate check", m)
	}
	raw := string(m.Card.Raw)
	for _, want := range []string{"button_interaction", "节点离线：pve2", "mute:node:home/pve2:1h", "静音 1 小时", "查看概览", `"status"`} {
		if !strings.Contains(raw, want) {
			t.Errorf("alert card lacks %q: %s", want, raw)
		}
	}

	// The card's mute button, clicked through WeCom: a viewer is refused, an admin mutes;
	// both are audited.
	key := "mute:node:home/pve2:1h"
	send := env.Sender("http://" + a.Addr())
	for _, u := range []string{apptest.Viewer, apptest.Admin} {
		resp, err := send.CardClick(ctx, u, key, m.Card.TaskID, "rc-mute-"+u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var muted, refused bool
	for deadline := time.Now().Add(10 * time.Second); !(muted && refused) && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		entries, err := a.Store().RecentAudit(ctx, 20)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.Contains(e.Command, "mute") {
				muted = muted || e.User == apptest.Admin && e.Decision == "allowed"
				refused = refused || e.User == apptest.Viewer && e.Decision == "refused"
			}
		}
	}
	if !muted || !refused {
		t.Errorf("audit: admin muted %v, viewer refused %v; want both", muted, refused)
	}
}

// A reload swaps the schedules: the old time no longer fires, the new one does.
func TestReloadSwapsSchedules(t *testing.T) {
	env := apptest.NewEnv(t)
	clock := schedule.NewManualClock(time.Date(2026, 5, 1, 0, 40, 0, 0, time.UTC)) // 08:40 Shanghai
	sched := func(cron string) string {
		return pushTargets + "schedules:\n  - name: morning\n    cron: \"" + cron + "\"\n    report: summary\n    to: [robot]\n"
	}
	a, _, _ := startPushBot(t, env, clock, sched("5 9 * * *"))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	waitChat(ctx, t, env)
	if !clock.BlockUntil(ctx.Done(), 2) {
		t.Fatal("scheduler did not start")
	}
	path := env.WriteConfig(t, t.TempDir(), apptest.ConfigOptions{DataDir: t.TempDir(), Extra: sched("10 9 * * *")})
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Reload(cfg); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if !clock.BlockUntil(ctx.Done(), 2) {
		t.Fatal("the new scheduler did not start")
	}
	robotSent := func() int {
		n := 0
		for _, m := range env.WeCom.Sent() {
			if m.Via == "robot" {
				n++
			}
		}
		return n
	}
	clock.Set(time.Date(2026, 5, 1, 1, 5, 0, 0, time.UTC)) // 09:05: the old time
	if !clock.BlockUntil(ctx.Done(), 2) {
		t.Fatal("scheduler stopped")
	}
	if n := robotSent(); n != 0 {
		t.Fatalf("the old schedule still fired after the reload (%d messages)", n)
	}
	clock.Set(time.Date(2026, 5, 1, 1, 10, 0, 0, time.UTC)) // 09:10: the new time
	if _, err := env.WeCom.WaitSent(ctx, 1); err != nil {
		t.Fatalf("the new schedule did not fire: %v", err)
	}
	if n := robotSent(); n != 1 {
		t.Errorf("robot messages = %d, want 1", n)
	}
	if got := env.WeCom.Sent()[0].Content; !strings.Contains(got, "09:10") {
		t.Errorf("the report came from the old schedule: %.60q", got)
	}
}
