package pve

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

var backupPrivs = append(append([]string{}, botPrivs...), "VM.Backup", "Datastore.AllocateSpace")

func backupFixture(t *testing.T, acl map[string][]string) (*pvetest.Server, *Client, func(time.Duration)) {
	t.Helper()
	if acl == nil {
		acl = map[string][]string{"/": backupPrivs}
	}
	s, advance := manualFake(t, acl)
	s.AddStorage(pvetest.Storage{Name: "local", Node: "pve1", Type: "dir", Content: "iso,vztmpl,backup"})
	s.AddStorage(pvetest.Storage{Name: "pbs", Type: "pbs", Content: "backup", Shared: true})
	s.AddGuest(pvetest.Guest{VMID: 101, Name: "homeassistant", Node: "pve1", Status: "running", MaxDisk: 32 << 30})
	s.AddGuest(pvetest.Guest{VMID: 102, Name: "nas", Node: "pve1", Status: "stopped"})
	s.AddGuest(pvetest.Guest{VMID: 103, Name: "pihole", Node: "pve1", Type: "lxc", Status: "running"})
	return s, e2eClient(t, s, nil), advance
}

func TestBackupRunAndList(t *testing.T) {
	s, c, advance := backupFixture(t, nil)
	ctx := context.Background()
	g := guestOn(t, c, 101)
	upid, err := c.StartBackup(ctx, g, "local", BackupSnapshot)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := ParseUPID(upid)
	if u.Type != "vzdump" || u.ID != "101" {
		t.Errorf("got task %s id %q, want vzdump 101", u.Type, u.ID)
	}
	if n := s.Count(http.MethodPost, "/nodes/pve1/vzdump"); n != 1 {
		t.Errorf("got %d vzdump POSTs, want 1", n)
	}
	if st, _ := c.GuestStatus(ctx, g); st.Lock != "backup" {
		t.Errorf("got lock %q while the backup runs, want backup", st.Lock)
	}
	advance(pvetest.BackupDuration + time.Second)
	res, err := c.Wait(ctx, g, upid)
	if err != nil || !res.OK {
		t.Fatalf("backup task: %+v, %v", res, err)
	}
	if st, _ := c.GuestStatus(ctx, g); st.Lock != "" || st.Status != "running" {
		t.Errorf("got lock %q, %s after a snapshot-mode backup; want no lock, running", st.Lock, st.Status)
	}
	lines, err := c.TaskLog(ctx, "pve1", upid, 500)
	if err != nil {
		t.Fatal(err)
	}
	guests, jobErr := ParseVzdumpLog(lines)
	if jobErr != "" || len(guests) != 1 || !guests[0].OK || guests[0].Duration != pvetest.BackupDuration || guests[0].Size == "" {
		t.Errorf("got %+v, %q from the log; want 101 ok in 30 s with a size", guests, jobErr)
	}
	list, err := c.Backups(ctx, "pve1", "local", 101)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Size == 0 || !strings.HasPrefix(list[0].VolID, "local:backup/vzdump-qemu-101-") ||
		list[0].Notes != "homeassistant (wecom-home-ops)" {
		t.Errorf("got %+v, want one backup of 101 with size and notes", list)
	}
}

func TestBackupFailures(t *testing.T) {
	s, c, advance := backupFixture(t, nil)
	ctx := context.Background()
	s.SetBackupFailure(102, "unable to open file '/mnt/pve/local/dump/vzdump.tmp' - No space left on device")
	nas := guestOn(t, c, 102)
	upid, err := c.StartBackup(ctx, nas, "local", BackupSnapshot)
	if err != nil {
		t.Fatal(err)
	}
	advance(time.Minute)
	res, _ := c.Wait(ctx, nas, upid)
	if res.OK || res.Exit != "job errors" {
		t.Errorf("got %+v, want job errors", res)
	}
	lines, _ := c.TaskLog(ctx, "pve1", upid, 500)
	guests, _ := ParseVzdumpLog(lines)
	if len(guests) != 1 || guests[0].OK || !strings.Contains(guests[0].Reason, "No space left on device") {
		t.Errorf("got %+v, want 102 failed with PVE's reason", guests)
	}
	// The notification PVE would send for it.
	n, ok := s.BackupNotification(upid, "")
	if !ok || n.Severity != "error" || n.Fields["type"] != "vzdump" || n.Fields["hostname"] != "pve1" ||
		!strings.Contains(n.Title, "backup failed") {
		t.Errorf("got %+v, want a vzdump error notification from pve1", n)
	}
	var body map[string]any
	if err := json.Unmarshal(pvetest.WebhookBody(n), &body); err != nil || body["severity"] != "error" {
		t.Errorf("webhook body %v, %v", body, err)
	}

	// A guest on another node: PVE answers "OK" and runs nothing.
	wrong := nas
	wrong.Node = "pve2"
	if upid, err := c.StartBackup(ctx, wrong, "local", BackupSnapshot); err != nil || upid != "" {
		t.Errorf("got %q, %v; want no task for a guest not on the node", upid, err)
	}

	// Stop mode: a running container is stopped for the whole backup and started again.
	ct := guestOn(t, c, 103)
	upid, _ = c.StartBackup(ctx, ct, "local", BackupStop)
	if st, _ := c.GuestStatus(ctx, ct); st.Status != "stopped" || st.Lock != "backup" {
		t.Errorf("got %s, lock %q during a stop-mode backup; want stopped, backup", st.Status, st.Lock)
	}
	advance(time.Minute)
	if res, _ := c.Wait(ctx, ct, upid); !res.OK {
		t.Errorf("stop-mode backup: %+v", res)
	}
	if st, _ := c.GuestStatus(ctx, ct); st.Status != "running" {
		t.Errorf("got %s after a stop-mode backup, want running", st.Status)
	}
}

func TestBackupPrivileges(t *testing.T) {
	// Without Datastore.AllocateSpace on the storage the POST is refused before the fork.
	_, c, _ := backupFixture(t, map[string][]string{"/": append(append([]string{}, botPrivs...), "VM.Backup")})
	ctx := context.Background()
	if _, err := c.StartBackup(ctx, guestOn(t, c, 101), "local", BackupSnapshot); !IsKind(err, KindPermission) {
		t.Errorf("got %v, want 403 without Datastore.AllocateSpace", err)
	}

	// Without VM.Backup the POST succeeds and the task fails.
	_, c, advance := backupFixture(t, map[string][]string{"/": append(append([]string{}, botPrivs...), "Datastore.AllocateSpace")})
	g := guestOn(t, c, 101)
	upid, err := c.StartBackup(ctx, g, "local", BackupSnapshot)
	if err != nil {
		t.Fatal(err)
	}
	advance(time.Second)
	if res, _ := c.Wait(ctx, g, upid); res.OK || !strings.Contains(res.Exit, "VM.Backup") {
		t.Errorf("got %+v, want the in-task VM.Backup refusal", res)
	}

	// Datastore.Audit alone lists nothing, with 200.
	s, c, _ := backupFixture(t, map[string][]string{"/": botPrivs})
	s.AddBackup(pvetest.Backup{Storage: "local", VMID: 101, Size: 1 << 30})
	if list, err := c.Backups(ctx, "pve1", "local", 0); err != nil || len(list) != 0 {
		t.Errorf("got %v, %v; want an empty list for Datastore.Audit alone", list, err)
	}
}

func TestBackupPBSJobsAndCoverage(t *testing.T) {
	s, c, _ := backupFixture(t, nil)
	ctx := context.Background()
	at := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	s.AddBackup(pvetest.Backup{Storage: "pbs", VMID: 101, Time: at, Size: 5 << 30, Verification: "ok", Protected: true, Notes: "nightly\nsecond line"})
	s.AddBackup(pvetest.Backup{Storage: "pbs", VMID: 101, Time: at.Add(24 * time.Hour), Size: 5 << 30})
	list, err := c.Backups(ctx, "pve1", "pbs", 101)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || !list[0].Time.Equal(at.Add(24*time.Hour)) || list[1].Verification != "ok" || !list[1].Protected ||
		list[1].Notes != "nightly" || list[0].Verification != "" || list[1].Format != "pbs-vm" {
		t.Errorf("got %+v, want newest first, verification and protection of the older, notes' first line", list)
	}
	s.AddBackupJob(pvetest.BackupJob{ID: "backup-nightly", Schedule: "02:00", Enabled: true, VMIDs: []int{101}, Storage: "pbs", Mode: "snapshot"})
	s.AddBackupJob(pvetest.BackupJob{ID: "backup-mail", Schedule: "sun 03:00", Enabled: false, VMIDs: []int{103}, Storage: "local", MailTo: "root@example.invalid"})
	jobs, err := c.BackupJobs(ctx)
	if err != nil || len(jobs) != 2 {
		t.Fatalf("got %+v, %v", jobs, err)
	}
	if jobs[0].SkipsNotifications() || !jobs[1].SkipsNotifications() || jobs[1].Enabled {
		t.Errorf("got %+v; want the mailto job to skip notifications and be disabled", jobs)
	}
	missing, err := c.NotBackedUp(ctx)
	if err != nil || len(missing) != 1 || missing[0].VMID != 102 {
		t.Errorf("got %+v, %v; want only 102 (a disabled job still covers 103)", missing, err)
	}
}

func TestParseVzdumpLogJobError(t *testing.T) {
	guests, jobErr := ParseVzdumpLog([]string{
		"INFO: starting new backup job: vzdump 100 --mode snapshot",
		"ERROR: Backup job failed - unable to get global lock",
		"TASK ERROR: unable to get global lock",
	})
	if len(guests) != 0 || jobErr != "unable to get global lock" {
		t.Errorf("got %+v, %q", guests, jobErr)
	}
}
