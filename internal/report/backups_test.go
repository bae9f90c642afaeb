package report

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

// Gather reads the backup data from PVE: the seeded nightly job's backups, a failed backup
// from task history with PVE's reason, and the guests no job covers.
func TestGatherBackupsFromPVE(t *testing.T) {
	var now = time.Date(2026, 5, 1, 1, 5, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	srv := pvetest.New(pvetest.Options{Now: clock, ClusterName: "home"})
	t.Cleanup(srv.Close)
	pvetest.SeedHomeLab(srv)
	fleet, err := pve.NewFleet(config.PVE{Clusters: []config.Cluster{{Name: "home", BaseURL: srv.URL(), TokenID: pvetest.HomeLabTokenID,
		TokenSecret: config.Secret(pvetest.HomeLabTokenSecret)}}}, pve.Options{Timeout: 5 * time.Second, GuestCacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	srv.SetBackupFailure(112, "No space left on device")
	g, err := fleet.Find(ctx, "112", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fleet.StartBackup(ctx, g, "nas", pve.BackupSnapshot); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	d := Gather(ctx, fleet, Backups, now, shanghai)
	if len(d.Failed) > 0 {
		t.Fatalf("clusters failed: %v", d.Failed)
	}
	got := Render(Backups, "zh", d, 4096)
	for _, want := range []string{"❌ nextcloud (112) · 05-01 09:05 · No space left on device", "✅ truenas (101) · 04-30 10:02 · 3.0 GiB · nas", "⚪ docker-host (104) · 未加入备份任务"} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "ubuntu-2404-cloud") {
		t.Error("a template is listed")
	}
	sum := Render(Summary, "zh", Gather(ctx, fleet, Summary, now, shanghai), 4096)
	if !strings.Contains(sum, "**备份**\n❌ 24 小时内 6 台成功，1 台失败") {
		t.Errorf("summary backup line:\n%s", sum)
	}
}
