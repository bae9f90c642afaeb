package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

// TestBackupNowE2E: `vm backup 101` sends exactly one vzdump POST, answers "running", then
// one result message with the storage, size and duration.
func TestBackupNowE2E(t *testing.T) {
	env := apptest.NewEnv(t)
	env.PVE.SetBackupDuration(1500 * time.Millisecond)
	b := startBot(t, env, botOptions{quickWait: 20 * time.Millisecond})

	b.text(apptest.Operator, "vm backup 104")
	contains(t, "running answer", lastText(b, 1), "docker-host", "正在备份")
	contains(t, "result", lastText(b, 2), "docker-host", "已备份", "存储", "大小", "GB")
	if n := env.PVE.Count("POST", "/nodes/pve2/vzdump"); n != 1 {
		t.Errorf("vzdump POSTs = %d, want exactly 1", n)
	}
	if got := len(env.WeCom.Sent()); got != 2 {
		t.Errorf("%d messages sent, want the running answer and one result", got)
	}

	// A failed backup gives PVE's reason from the task log, not "job errors".
	env.PVE.SetBackupFailure(112, "unable to open file '/mnt/pve/nas/dump/vzdump-qemu-112.tmp' - No space left on device")
	b.text(apptest.Operator, "备份 nextcloud")
	contains(t, "running answer", lastText(b, 3), "nextcloud", "正在备份")
	contains(t, "failed result", lastText(b, 4), "nextcloud", "No space left on device")

	// A viewer may not back up; nothing is sent.
	b.text(apptest.Viewer, "备份 104")
	contains(t, "viewer", lastText(b, 5), "不能执行")
	if n := env.PVE.Count("POST", "/nodes/pve2/vzdump"); n != 1 {
		t.Errorf("vzdump POSTs to pve2 = %d after the viewer's refusal, want 1", n)
	}
	// A storage that takes no backups is refused with the ones that do.
	b.text(apptest.Operator, "备份 104 local-lvm")
	contains(t, "bad storage", lastText(b, 6), "local-lvm", "local", "nas")

	// The "back up again" button of a notification card runs `vm backup`, always confirmed.
	b.click(apptest.Operator, "vm backup 104", "rc-retry")
	confirm := b.waitSent(7)[6]
	contains(t, "confirmation", string(confirm.Card.Raw), "docker-host", "快照模式")
	if n := env.PVE.Count("POST", "/nodes/pve2/vzdump"); n != 1 {
		t.Errorf("vzdump POSTs before confirming = %d, want 1", n)
	}
	b.click(apptest.Operator, confirmKey(t, confirm), "rc-confirm")
	b.waitUpdates(1) // the confirmation card becomes "running" (the backup takes 1.5 s)
	if n := env.PVE.Count("POST", "/nodes/pve2/vzdump"); n != 2 {
		t.Errorf("vzdump POSTs after confirming = %d, want 2", n)
	}
}

// TestBackupStatusAndListE2E: backup status for a scoped operator shows only their guests;
// backup list shows sizes.
func TestBackupStatusAndListE2E(t *testing.T) {
	env := apptest.NewEnv(t)
	b := startBot(t, env, botOptions{})

	b.text(apptest.ScopedOp, "backup status")
	status := lastText(b, 1)
	contains(t, "scoped status", status, "jellyfin", "sonarr", "docker-host", "从未备份", "未加入任何备份任务")
	for _, outside := range []string{"truenas", "opnsense", "homeassistant", "pihole"} {
		if strings.Contains(status, outside) {
			t.Errorf("status for the scoped operator shows %s, outside their scope:\n%s", outside, status)
		}
	}

	b.text(apptest.Viewer, "备份记录 truenas")
	list := lastText(b, 2)
	contains(t, "list", list, "truenas", "3 个", "3.0 GiB", "nas", "nightly")

	b.text(apptest.Viewer, "backup list 9999")
	contains(t, "unknown guest", lastText(b, 3), "9999")
}

// TestPVEWebhookE2E: a failed-backup notification posted like PVE does reaches the routed
// appchat target as a card naming the failed guests; the same post twice is delivered once;
// a wrong or missing secret gets 401 and nothing is sent; a 2 MiB body is refused.
func TestPVEWebhookE2E(t *testing.T) {
	env := apptest.NewEnv(t)
	const secret = "fake-pve-webhook-secret-5d1c0a"
	env.PVE.SetBackupDuration(50 * time.Millisecond)
	env.PVE.SetBackupFailure(112, "unable to open file '/mnt/pve/nas/dump/vzdump-qemu-112.tmp' - No space left on device")
	b := startBot(t, env, botOptions{cfg: apptest.ConfigOptions{Extra: `targets:
  ops-group:
    appchat: opsroom
    appchat_members: [zhangsan, lisi]
  admins:
    users: [zhangsan]
pve_webhook:
  path: /pve/webhook
  secret: "` + secret + `"
  to: [admins]
  routes:
    - { match: { severity: [error], type: [vzdump] }, to: [ops-group] }
`}})
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	waitChat(ctx, t, env)

	// A backup that fails in PVE, and the notification its task sends.
	b.text(apptest.Admin, "备份 nextcloud")
	contains(t, "backup", lastText(b, 1), "No space left on device")
	upids := env.PVE.TaskUPIDs("vzdump")
	if len(upids) != 1 {
		t.Fatalf("vzdump tasks %v, want 1", upids)
	}
	n, ok := env.PVE.BackupNotification(upids[0], "backup-nightly")
	if !ok {
		t.Fatal("no notification for the finished task")
	}
	url := "http://" + b.app.Addr() + "/pve/webhook"
	before := len(env.WeCom.Sent())

	// Refusals first: nothing of them is sent.
	for _, s := range []string{"", "fake-wrong-secret-000000000000"} {
		if code, err := pvetest.PostWebhook(ctx, url, s, n); err != nil || code != http.StatusUnauthorized {
			t.Errorf("secret %q: %d %v, want 401", s, code, err)
		}
	}
	big := append([]byte(`{"title":"x","message":"`), make([]byte, 2<<20)...)
	for i := 30; i < len(big); i++ {
		big[i] = 'a'
	}
	big = append(big, []byte(`"}`)...)
	if code, err := pvetest.PostWebhookBody(ctx, url, secret, big); err == nil && code != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB body: %d, want 413", code)
	}
	if got := b.app.DeliverWebhookNow(ctx); got != 0 {
		t.Errorf("delivered %d events after refused posts, want 0", got)
	}

	for range 2 {
		if code, err := pvetest.PostWebhook(ctx, url, secret, n); err != nil || code != http.StatusOK {
			t.Fatalf("post: %d %v", code, err)
		}
	}
	sent, err := env.WeCom.WaitSent(ctx, before+1)
	if err != nil {
		t.Fatalf("no card: %v", err)
	}
	card := sent[before]
	if card.Via != "appchat" || card.ChatID != "opsroom" {
		t.Errorf("sent via %s to %q, want the routed appchat opsroom", card.Via, card.ChatID)
	}
	contains(t, "card", card.Content, "备份失败", "pve1", "nextcloud (112)", "No space left on device", "backup-nightly")
	if strings.Contains(b.logs.String(), secret) || strings.Contains(strings.Join(env.SentTexts(), "\n"), secret) {
		t.Error("the webhook secret reached the log or the chat")
	}
	b.app.DeliverWebhookNow(ctx) // a second round of the worker sends nothing more
	if got := len(env.WeCom.Sent()); got != before+1 {
		t.Errorf("%d messages after the same notification twice, want %d", got, before+1)
	}
}
