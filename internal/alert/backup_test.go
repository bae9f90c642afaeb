package alert

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/notify"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pvewebhook"
)

// backup runs one vzdump of vmid in mode and returns its UPID.
func (e *env) backup(vmid, mode string) string {
	e.t.Helper()
	ctx := context.Background()
	g, err := e.fleet.Find(ctx, vmid, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	upid, err := e.fleet.StartBackup(ctx, g, "nas", pve.BackupMode(mode))
	if err != nil || upid == "" {
		e.t.Fatalf("backup %s: %q %v", vmid, upid, err)
	}
	return upid
}

func one(t *testing.T, what string, got []string, wants ...string) {
	t.Helper()
	if len(got) != 1 {
		t.Fatalf("%s: got %d messages %q, want 1", what, len(got), got)
	}
	for _, w := range wants {
		if !strings.Contains(got[0], w) {
			t.Errorf("%s: %q does not contain %q", what, got[0], w)
		}
	}
}

func TestBackupFailedFiresAndRecovers(t *testing.T) {
	e := newEnv(t, nil)
	e.step(0)
	e.pve.SetBackupFailure(112, "unable to open file '/mnt/pve/nas/dump/vzdump-qemu-112.tmp' - No space left on device")
	e.backup("112", "snapshot")
	if got := e.step(10 * time.Second); len(got) != 0 {
		t.Fatalf("while the backup runs: %q", got)
	}
	one(t, "failed", e.step(time.Minute), "备份失败", "nextcloud (112)", "No space left on device")
	if got := e.step(time.Minute); len(got) != 0 {
		t.Errorf("a second check told again: %q", got)
	}
	// A restart forgets nothing and repeats nothing.
	e.open()
	if got := e.step(time.Minute); len(got) != 0 {
		t.Errorf("after a restart: %q", got)
	}
	e.pve.SetBackupFailure(112, "")
	e.backup("112", "snapshot")
	one(t, "recovered", e.step(time.Minute), "备份已成功", "nextcloud (112)")
	if got := e.step(time.Minute); len(got) != 0 {
		t.Errorf("after the recovery: %q", got)
	}
}

// A failure PVE's webhook already brought to the chat is not told again; its recovery is.
func TestBackupFailedDedupedAgainstWebhook(t *testing.T) {
	e := newEnv(t, nil)
	e.step(0)
	rc := pvewebhook.New(config.PVEWebhook{Path: "/pve/webhook", Secret: "fake-webhook-secret-0123456789", To: []string{"ops"}},
		pvewebhook.Options{KV: e.st, Now: e.clock.Now,
			Push:   func(context.Context, []string, notify.Message) bool { return true },
			Render: func(pvewebhook.Record) notify.Message { return notify.Message{} }})
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	e.pve.SetBackupFailure(112, "No space left on device")
	upid := e.backup("112", "snapshot")
	e.clock.Advance(time.Minute)
	n, ok := e.pve.BackupNotification(upid, "")
	if !ok {
		t.Fatal("no notification")
	}
	if code, err := pvetest.PostWebhook(context.Background(), srv.URL, "fake-webhook-secret-0123456789", n); err != nil || code != http.StatusOK {
		t.Fatalf("post: %d %v", code, err)
	}
	if got := e.step(time.Second); len(got) != 0 {
		t.Errorf("backup_failed told a failure the webhook had delivered: %q", got)
	}
	e.pve.SetBackupFailure(112, "")
	e.backup("112", "snapshot")
	one(t, "recovered", e.step(time.Minute), "备份已成功", "nextcloud (112)")
}

func TestBackupMissingFiresAndRecovers(t *testing.T) {
	e := newEnv(t, func(c *config.Config) {
		c.Alerts.Rules.BackupMissing.Guests = []string{"112", "104"}
	})
	// 104 was never backed up: at once. 112 was backed up last night.
	one(t, "never", e.step(0), "超过时限没有备份", "docker-host (104)", "从未备份")
	// 20 h later: only the reminder of 104 (repeat 6h), nothing of 112 yet.
	one(t, "reminder", e.step(20*time.Hour), "仍未恢复", "docker-host (104)")
	one(t, "too old", e.step(5*time.Hour), "nextcloud (112)", "上次备份")
	e.backup("112", "snapshot")
	one(t, "recovered", e.step(time.Minute), "已有新的备份", "nextcloud (112)")
}

// A guest stopped by a stop-mode backup (locked "backup") is no surprise.
func TestGuestStoppedSilentDuringStopModeBackup(t *testing.T) {
	e := newEnv(t, nil)
	e.step(0)
	e.pve.SetBackupDuration(10 * time.Minute)
	e.backup("101", "stop")
	for i := 0; i < 9; i++ {
		if got := e.step(time.Minute); len(got) != 0 {
			t.Fatalf("minute %d of the backup: %q", i+1, got)
		}
	}
	if st, _ := e.fleet.GuestStatus(context.Background(), pve.Guest{Cluster: "home", Node: "pve1", Type: "qemu", VMID: 101}); st.Status != "stopped" || st.Lock != "backup" {
		t.Fatalf("the fake shows %s lock %q during the backup, want stopped and locked", st.Status, st.Lock)
	}
	for i := 0; i < 5; i++ {
		if got := e.step(time.Minute); len(got) != 0 {
			t.Errorf("after the backup: %q", got)
		}
	}
}
