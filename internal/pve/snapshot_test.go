package pve

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

var snapPrivs = append(append([]string{}, botPrivs...), "VM.Snapshot")

// snapFixture is a fake with a running VM 101 on LVM-thin, a stopped container 201, a VM 301
// on ZFS and a VM 401 on a directory storage, each with the snapshots a test needs.
func snapFixture(t *testing.T, acl map[string][]string) (*pvetest.Server, *Client, func()) {
	t.Helper()
	if acl == nil {
		acl = map[string][]string{"/": snapPrivs}
	}
	s, advance := manualFake(t, acl)
	tick := func() { advance(time.Second) }
	s.AddStorage(pvetest.Storage{Name: "tank", Node: "pve1", Type: "zfspool", Content: "images,rootdir"})
	s.AddStorage(pvetest.Storage{Name: "local", Node: "pve1", Type: "dir", Content: "images,iso"})
	s.AddGuest(pvetest.Guest{VMID: 101, Name: "homeassistant", Node: "pve1", Type: "qemu", Status: "running"})
	s.AddGuest(pvetest.Guest{VMID: 201, Name: "pihole", Node: "pve1", Type: "lxc", Status: "stopped"})
	s.AddGuest(pvetest.Guest{VMID: 301, Name: "zfsvm", Node: "pve1", Type: "qemu", Status: "stopped"})
	s.AddGuest(pvetest.Guest{VMID: 401, Name: "rawvm", Node: "pve1", Type: "qemu", Status: "stopped"})
	s.SetDiskStorage(301, "tank")
	s.SetDiskStorage(401, "local")
	day := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	s.AddSnapshot(301, pvetest.Snapshot{Name: "base", Time: day})
	s.AddSnapshot(301, pvetest.Snapshot{Name: "upgrade", Parent: "base", Time: day.Add(24 * time.Hour)})
	return s, e2eClient(t, s, nil), tick
}

// waitOK lets the fake's tasks end (tick) and reads how upid ended.
func waitOK(t *testing.T, c *Client, tick func(), g Guest, upid string) TaskResult {
	t.Helper()
	tick()
	res, err := c.Wait(context.Background(), g, upid)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	return res
}

func TestSnapshotTakeListRollbackDelete(t *testing.T) {
	s, c, tick := snapFixture(t, nil)
	ctx := context.Background()
	g, err := c.find(ctx, 101)
	if err != nil {
		t.Fatal(err)
	}
	upid, err := c.TakeSnapshot(ctx, g, "before_upgrade", "HA 2026.11", true)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := ParseUPID(upid); u.Type != "qmsnapshot" {
		t.Errorf("got task type %q, want qmsnapshot", u.Type)
	}
	if res := waitOK(t, c, tick, g, upid); !res.OK {
		t.Fatalf("snapshot task: %+v", res)
	}
	upid, err = c.TakeSnapshot(ctx, g, "second", "", false)
	if err != nil {
		t.Fatal(err)
	}
	// While the task runs the guest is locked: a rollback now is refused with the lock named.
	early, err := c.Rollback(ctx, g, "before_upgrade", false)
	if err != nil {
		t.Fatal(err)
	}
	if res := waitOK(t, c, tick, g, early); res.OK || res.Exit != "VM is locked (snapshot)" {
		t.Errorf("got %+v for a rollback during a snapshot task, want VM is locked (snapshot)", res)
	}
	if res := waitOK(t, c, tick, g, upid); !res.OK {
		t.Fatalf("second snapshot: %+v", res)
	}
	list, err := c.Snapshots(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if sec, ok := list.Find("second"); !ok || sec.Parent != "before_upgrade" || list.Current != "second" {
		t.Fatalf("got %+v, want second under before_upgrade and current", list)
	}
	first, ok := list.Find("before_upgrade")
	if !ok || !first.VMState || first.Description != "HA 2026.11" || first.Parent != "" {
		t.Fatalf("got %+v in %+v, want before_upgrade with RAM, description, no parent", first, list)
	}
	if !list.Running {
		t.Errorf("got running=false from the current entry of a running VM")
	}

	upid, err = c.Rollback(ctx, g, "before_upgrade", false)
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := ParseUPID(upid); u.Type != "qmrollback" {
		t.Errorf("got task type %q, want qmrollback", u.Type)
	}
	if res := waitOK(t, c, tick, g, upid); !res.OK {
		t.Fatalf("rollback task: %+v", res)
	}
	list, _ = c.Snapshots(ctx, g)
	if list.Current != "before_upgrade" {
		t.Errorf("got current parent %q after rollback, want before_upgrade", list.Current)
	}
	// A snapshot with RAM state resumes the VM.
	if st, _ := c.GuestStatus(ctx, g); st.Status != "running" {
		t.Errorf("got %s after rolling back to a RAM snapshot, want running", st.Status)
	}

	upid, err = c.DeleteSnapshot(ctx, g, "before_upgrade")
	if err != nil {
		t.Fatal(err)
	}
	if res := waitOK(t, c, tick, g, upid); !res.OK {
		t.Fatalf("delete task: %+v", res)
	}
	list, _ = c.Snapshots(ctx, g)
	if _, ok := list.Find("before_upgrade"); ok {
		t.Errorf("deleted snapshot still listed: %+v", list)
	}
	if sec, ok := list.Find("second"); !ok || sec.Parent != "" {
		t.Errorf("got %+v, want second re-parented to the root after its parent was deleted", sec)
	}
	if n := s.Count(http.MethodDelete, "/nodes/pve1/qemu/101/snapshot/before_upgrade"); n != 1 {
		t.Errorf("got %d DELETE requests, want 1", n)
	}
}

func TestSnapshotRefusals(t *testing.T) {
	s, c, tick := snapFixture(t, nil)
	ctx := context.Background()
	find := func(id int) Guest {
		g, err := c.find(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	zfs, raw, ct := find(301), find(401), find(201)

	// ZFS: only the most recent snapshot can be rolled back to.
	upid, err := c.Rollback(ctx, zfs, "base", false)
	if err != nil {
		t.Fatal(err)
	}
	if res := waitOK(t, c, tick, zfs, upid); res.OK || !strings.Contains(res.Exit, "is not most recent snapshot") {
		t.Errorf("got %+v, want ZFS's most-recent refusal", res)
	}
	// A raw image on a directory storage cannot snapshot.
	upid, _ = c.TakeSnapshot(ctx, raw, "x1", "", false)
	if res := waitOK(t, c, tick, raw, upid); res.Exit != "snapshot feature is not available" {
		t.Errorf("got %+v, want the feature refusal", res)
	}
	// A name already used fails in the task.
	upid, _ = c.TakeSnapshot(ctx, zfs, "upgrade", "", false)
	if res := waitOK(t, c, tick, zfs, upid); res.Exit != "snapshot name 'upgrade' already used" {
		t.Errorf("got %+v, want the name refusal", res)
	}
	// A reserved name is refused before any task.
	_, err = c.TakeSnapshot(ctx, ct, "vzdump", "", false)
	var pe *Error
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "reserved name") {
		t.Errorf("got %v, want the reserved-name refusal", err)
	}
	// A bad name is a parameter error.
	_, err = c.TakeSnapshot(ctx, ct, "1st", "", false)
	if !errors.As(err, &pe) || pe.Status != http.StatusBadRequest {
		t.Errorf("got %v, want 400", err)
	}
	// A container never sends vmstate (PVE's schema refuses it).
	if _, err := c.TakeSnapshot(ctx, ct, "ct1", "", true); err != nil {
		t.Errorf("container snapshot with RAM asked: %v", err)
	}
	// A locked guest is refused in the task with the lock named.
	s.AddGuest(pvetest.Guest{VMID: 501, Name: "busy", Node: "pve1", Type: "lxc", Status: "running", Lock: "backup"})
	busy := find(501)
	upid, _ = c.TakeSnapshot(ctx, busy, "x2", "", false)
	if res := waitOK(t, c, tick, busy, upid); res.Exit != "CT is locked (backup)" {
		t.Errorf("got %+v, want CT is locked (backup)", res)
	}
}

func TestSnapshotPrivileges(t *testing.T) {
	// Rollback alone is allowed by VM.Snapshot.Rollback; taking one is not.
	_, c, _ := snapFixture(t, map[string][]string{"/": append(append([]string{}, botPrivs...), "VM.Snapshot.Rollback")})
	ctx := context.Background()
	g, err := c.find(ctx, 301)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.TakeSnapshot(ctx, g, "nope", "", false)
	if !IsKind(err, KindPermission) {
		t.Errorf("got %v, want 403 for a snapshot without VM.Snapshot", err)
	}
	if _, err := c.Rollback(ctx, g, "upgrade", false); err != nil {
		t.Errorf("rollback with VM.Snapshot.Rollback: %v", err)
	}
}

func TestValidSnapshotName(t *testing.T) {
	tests := []struct {
		typ, name string
		want      bool
	}{
		{"qemu", "chat_20261202_0930", true},
		{"qemu", "a", false},
		{"qemu", "1abc", false},
		{"qemu", "with.dot", false},
		{"qemu", "Current", false},
		{"qemu", "pending", false},
		{"lxc", "pending", true},
		{"lxc", "vzdump", false},
		{"qemu", strings.Repeat("a", 41), false},
		{"qemu", strings.Repeat("a", 40), true},
	}
	for _, tt := range tests {
		if got := ValidSnapshotName(tt.typ, tt.name); got != tt.want {
			t.Errorf("ValidSnapshotName(%q, %q) = %v, want %v", tt.typ, tt.name, got, tt.want)
		}
	}
}
