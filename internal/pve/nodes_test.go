package pve

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

func nodeStatus(t *testing.T, c *Client, name string) string {
	t.Helper()
	c.InvalidateGuests()
	nodes, err := c.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.Name == name {
			return n.Status
		}
	}
	return "missing"
}

func guestOn(t *testing.T, c *Client, vmid int) Guest {
	t.Helper()
	c.InvalidateGuests()
	g, err := c.find(context.Background(), vmid)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestNodeReboot(t *testing.T) {
	s, advance := manualFake(t, map[string][]string{"/": append(append([]string{}, botPrivs...), "Sys.PowerMgmt")})
	s.AddGuest(pvetest.Guest{VMID: 104, Name: "docker-host", Node: "pve2", Status: "running"})
	s.AddGuest(pvetest.Guest{VMID: 105, Name: "dev", Node: "pve2", Status: "running"})
	s.SetStartup(104, true, "order=1")
	c := e2eClient(t, s, nil)
	ctx := context.Background()
	if err := c.NodePower(ctx, "pve2", NodeReboot); err != nil {
		t.Fatal(err)
	}
	if n := s.Count(http.MethodPost, "/nodes/pve2/status"); n != 1 {
		t.Errorf("got %d node POSTs, want 1", n)
	}
	if got := nodeStatus(t, c, "pve2"); got != "online" {
		t.Errorf("got %s right after the command, want online (PVE waits 2 s)", got)
	}
	advance(3 * time.Second)
	if got := nodeStatus(t, c, "pve2"); got != "offline" {
		t.Errorf("got %s after 3 s, want offline", got)
	}
	advance(pvetest.NodeBootTime)
	if got := nodeStatus(t, c, "pve2"); got != "online" {
		t.Errorf("got %s after the boot time, want online again", got)
	}
	if g := guestOn(t, c, 104); g.Status != "running" {
		t.Errorf("onboot guest is %s after the reboot, want running", g.Status)
	}
	if g := guestOn(t, c, 105); g.Status != "stopped" {
		t.Errorf("guest without onboot is %s after the reboot, want stopped", g.Status)
	}
}

func TestNodePowerRefusals(t *testing.T) {
	s, _ := manualFake(t, nil) // botPrivs: no Sys.PowerMgmt
	c := e2eClient(t, s, nil)
	ctx := context.Background()
	if err := c.NodePower(ctx, "pve2", NodeShutdown); !IsKind(err, KindPermission) {
		t.Errorf("got %v, want a permission error without Sys.PowerMgmt", err)
	}
	if _, err := c.WakeNode(ctx, "pve2"); !IsKind(err, KindPermission) {
		t.Errorf("got %v, want a permission error for wakeonlan without Sys.PowerMgmt", err)
	}
	if n := s.Count(http.MethodPost, "/nodes/pve2"); n != 2 {
		t.Errorf("got %d POSTs, want 2 (each refused once)", n)
	}
}

func TestWakeNode(t *testing.T) {
	s, advance := manualFake(t, map[string][]string{"/": {"Sys.Audit", "Sys.PowerMgmt", "VM.Audit"}})
	c := e2eClient(t, s, nil)
	ctx := context.Background()
	s.SetNodeOnline("pve2", false)

	_, err := c.WakeNode(ctx, "pve2")
	var pe *Error
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "No wake on LAN MAC address defined for 'pve2'") {
		t.Errorf("got %v, want PVE's no-MAC refusal", err)
	}
	if _, err := c.WakeNode(ctx, "pve1"); !errors.As(err, &pe) || !strings.Contains(pe.Reason, "is local node") {
		t.Errorf("got %v, want the local-node refusal", err)
	}
	s.SetNodeMAC("pve2", "aa:bb:cc:dd:ee:ff")
	mac, err := c.WakeNode(ctx, "pve2")
	if err != nil || mac != "aa:bb:cc:dd:ee:ff" {
		t.Fatalf("got %q, %v; want the MAC", mac, err)
	}
	advance(pvetest.NodeBootTime + time.Second)
	if got := nodeStatus(t, c, "pve2"); got != "online" {
		t.Errorf("got %s after a wake-up and the boot time, want online", got)
	}
}

func TestParseStartup(t *testing.T) {
	tests := []struct {
		in   string
		want Startup
	}{
		{"", Startup{Order: math.MaxInt}},
		{"order=2,up=30,down=60", Startup{Order: 2, Up: 30, Down: 60}},
		{"3", Startup{Order: 3}},
		{"up=10", Startup{Order: math.MaxInt, Up: 10}},
		{"order=x", Startup{Order: math.MaxInt}},
	}
	for _, tt := range tests {
		if got := ParseStartup(tt.in); got != tt.want {
			t.Errorf("ParseStartup(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestGuestConfig(t *testing.T) {
	s, _ := manualFake(t, nil)
	s.AddGuest(pvetest.Guest{VMID: 101, Name: "router", Node: "pve1", Status: "running", Lock: "backup"})
	s.SetStartup(101, true, "order=1,up=30")
	c := e2eClient(t, s, nil)
	cfg, err := c.GuestConfig(context.Background(), guestOn(t, c, 101))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.OnBoot || cfg.Startup.Order != 1 || cfg.Startup.Up != 30 || cfg.Lock != "backup" ||
		len(cfg.DiskStorages) != 1 || cfg.DiskStorages[0] != "local-lvm" {
		t.Errorf("got %+v, want onboot, order 1, up 30, lock backup, disks on local-lvm only (no CD-ROM)", cfg)
	}
}

func TestMigrate(t *testing.T) {
	s, advance := manualFake(t, map[string][]string{"/": append(append([]string{}, botPrivs...), "VM.Migrate")})
	s.AddGuest(pvetest.Guest{VMID: 101, Name: "web", Node: "pve1", Status: "running"})
	s.AddGuest(pvetest.Guest{VMID: 102, Name: "gpu", Node: "pve1", Status: "running"})
	s.AddGuest(pvetest.Guest{VMID: 103, Name: "ct", Node: "pve1", Type: "lxc", Status: "running"})
	s.AddGuest(pvetest.Guest{VMID: 104, Name: "ha", Node: "pve1", Status: "running", HA: true})
	s.SetLocalResources(102, []string{"hostpci0"}, nil)
	c := e2eClient(t, s, nil)
	ctx := context.Background()

	web := guestOn(t, c, 101)
	_, err := c.Migrate(ctx, web, "pve2", MigrateOptions{})
	var pe *Error
	if !errors.As(err, &pe) || !strings.Contains(pe.Reason, "can't migrate running VM without --online") {
		t.Errorf("got %v, want the --online refusal", err)
	}
	chk, err := c.CheckMigrate(ctx, web, "pve2")
	if err != nil || !chk.Running || len(chk.Allowed) != 1 || chk.Allowed[0] != "pve2" {
		t.Errorf("got %+v, %v; want running, allowed pve2", chk, err)
	}
	upid, err := c.Migrate(ctx, web, "pve2", MigrateOptions{Online: true})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := ParseUPID(upid); u.Type != "qmigrate" {
		t.Errorf("got task %q, want qmigrate", u.Type)
	}
	advance(time.Second)
	if res, err := c.Wait(ctx, web, upid); err != nil || !res.OK {
		t.Fatalf("migrate task: %+v, %v", res, err)
	}
	if g := guestOn(t, c, 101); g.Node != "pve2" || g.Status != "running" {
		t.Errorf("got %s on %s after migrating, want running on pve2", g.Status, g.Node)
	}

	gpu := guestOn(t, c, 102)
	if chk, _ := c.CheckMigrate(ctx, gpu, "pve2"); len(chk.LocalResources) != 1 {
		t.Errorf("got %+v, want hostpci0 among the local resources", chk)
	}
	upid, _ = c.Migrate(ctx, gpu, "pve2", MigrateOptions{Online: true})
	advance(time.Second)
	if res, _ := c.Wait(ctx, gpu, upid); res.OK || res.Exit != "migration aborted" {
		t.Errorf("got %+v, want migration aborted", res)
	}

	ct := guestOn(t, c, 103)
	if _, err := c.Migrate(ctx, ct, "pve2", MigrateOptions{}); !errors.As(err, &pe) || !strings.Contains(pe.Reason, "without --online or --restart") {
		t.Errorf("got %v, want the container --restart refusal", err)
	}
	upid, err = c.Migrate(ctx, ct, "pve2", MigrateOptions{Restart: true, Timeout: 60})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := ParseUPID(upid); u.Type != "vzmigrate" {
		t.Errorf("got task %q, want vzmigrate", u.Type)
	}

	ha := guestOn(t, c, 104)
	upid, err = c.Migrate(ctx, ha, "pve2", MigrateOptions{Online: true})
	if err != nil {
		t.Fatal(err)
	}
	if u, _ := ParseUPID(upid); u.Type != "hamigrate" {
		t.Errorf("got task %q, want hamigrate", u.Type)
	}
	if g := guestOn(t, c, 104); g.Node != "pve1" {
		t.Errorf("HA guest moved at once to %s; the HA stack moves it later", g.Node)
	}
	advance(time.Minute)
	if g := guestOn(t, c, 104); g.Node != "pve2" {
		t.Errorf("HA guest is on %s after the HA rounds, want pve2", g.Node)
	}
	for _, id := range []string{"101", "102", "103", "104"} {
		if n := s.Count(http.MethodPost, "/nodes/pve1/"+map[bool]string{true: "lxc", false: "qemu"}[id == "103"]+"/"+id+"/migrate"); n < 1 {
			t.Errorf("no migrate POST for %s", id)
		}
	}
}
