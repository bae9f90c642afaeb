package main

import (
	"context"
	"strings"
	"syscall"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
)

// A bot SIGKILLed in the middle of a bulk shutdown (one guest done, the next one's POST in
// flight) resumes its plan after the restart: it sends no guest's POST again, says the one
// in flight cannot be known, and finishes the rest.
func TestKilledMidBulkResumesWithoutResending(t *testing.T) {
	if testing.Short() {
		t.Skip("starts bot processes")
	}
	env, cfg, addr := processEnv(t)
	for _, id := range []int{105, 106} {
		g, _ := env.PVE.Guest(id)
		g.Status = "running"
		env.PVE.AddGuest(g)
	}
	env.PVE.SetStartup(104, true, "order=1")
	env.PVE.SetStartup(106, false, "order=2")
	env.PVE.SetStartup(105, false, "order=3")
	a := startProcess(t, cfg, addr)
	send := env.Sender("http://" + addr)
	ctx := context.Background()

	resp, err := send.Text(ctx, apptest.Operator, "vm shutdown tag:lab")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sent, err := env.WeCom.WaitSent(ctxTimeout(t), 1)
	if err != nil {
		t.Fatalf("no confirmation card: %v\n%s", err, a.logs.String())
	}
	key := sent[0].Card.Buttons[0].Key

	const second = "/nodes/pve1/qemu/106/status/shutdown"
	env.PVE.HangOn("POST", second) // 105 goes through; 106's POST reaches PVE and never returns
	resp, err = send.CardClick(ctx, apptest.Operator, key, "bulk", "rc-bulk-crash")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	waitFor(t, "the second guest's POST", func() bool { return env.PVE.Count("POST", second) == 1 })
	a.kill(t)
	env.PVE.Hang(false)

	b := startProcess(t, cfg, addr)
	waitFor(t, "the bulk summary", func() bool {
		for _, m := range env.SentTexts() {
			if strings.Contains(m, "批量关机完成") {
				return true
			}
		}
		return false
	})
	var summary string
	for _, m := range env.SentTexts() {
		if strings.Contains(m, "批量关机完成") {
			summary = m
		}
	}
	// The hung POST reached PVE; whether PVE started its task before the kill released it is
	// a race, and both answers are true: the task was found and followed (success, and 106 is
	// stopped), or the bot cannot know and says so without sending it again.
	g106, _ := env.PVE.Guest(106)
	switch {
	case strings.Contains(summary, "成功 3"):
		if g106.Status != "stopped" {
			t.Errorf("summary %q says all three succeeded, but dev-windows is %s", summary, g106.Status)
		}
	default:
		for _, want := range []string{"成功 2", "失败 1", "未重发", "dev-windows"} {
			if !strings.Contains(summary, want) {
				t.Errorf("summary %q does not say %q", summary, want)
			}
		}
	}
	for _, p := range []string{"/nodes/pve2/qemu/105/status/shutdown", second, "/nodes/pve2/qemu/104/status/shutdown"} {
		if n := env.PVE.Count("POST", p); n != 1 {
			t.Errorf("POSTs to %s = %d, want exactly 1", p, n)
		}
	}
	if g, _ := env.PVE.Guest(104); g.Status != "stopped" {
		t.Errorf("docker-host is %s after the resumed bulk, want stopped", g.Status)
	}
	if err := b.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Wait(); err != nil {
		t.Errorf("SIGTERM exit: %v\n%s", err, b.logs.String())
	}
	env.CheckNoSecrets(t, "bot logs", a.logs.String(), b.logs.String())
}
