package pvetest

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"
	"time"

	"github.com/Telmate/proxmox-api-go/proxmox"
)

// TestTelmateDecodes guards that the fake never sends a shape that makes the client library
// panic (docs/pve.md 3.6 item 5), including guests on an offline node.
func TestTelmateDecodes(t *testing.T) {
	s := New(Options{TLS: true, TaskDuration: -1, RRDAge: -1})
	defer s.Close()
	SeedHomeLab(s)
	s.SetNodeOnline("pve2", false)

	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // test
	c, err := proxmox.NewClient(s.URL()+"/api2/json", hc, "", nil, "", 30, false)
	if err != nil {
		t.Fatal(err)
	}
	var id proxmox.ApiTokenID
	if err := id.Parse(HomeLabTokenID); err != nil {
		t.Fatal(err)
	}
	c.SetAPIToken(id, proxmox.ApiTokenSecret(HomeLabTokenSecret))
	ctx := context.Background()

	guests, err := proxmox.ListGuests(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	got := map[int]proxmox.GuestResource{}
	for _, g := range guests.Get() {
		got[int(g.ID)] = g
	}
	if g := got[9000]; !g.Template || g.Name != "ubuntu-2404-cloud" || g.Node != "pve1" {
		t.Errorf("template: got %+v", g)
	}
	if g := got[103]; g.Name != "" || g.Status.String() == "running" {
		t.Errorf("guest on offline node: got %+v", g)
	}
	v, err := c.GetVersion(ctx)
	if err != nil || v.Major != 8 || v.Minor != 2 || v.Patch != 4 {
		t.Errorf("got version %+v, %v", v, err)
	}
	if _, err := c.GetNodeList(ctx); err != nil {
		t.Errorf("node list: %v", err)
	}
	bot := newClient(s)
	bot.auth = "PVEAPIToken=" + HomeLabTokenID + "=" + HomeLabTokenSecret
	var upid string
	bot.post(t, "/nodes/pve1/qemu/106/status/start").data(t, &upid)
	exit, err := c.GetTaskExitstatus(ctx, upid)
	if err != nil || exit != "OK" {
		t.Errorf("got exit %v, %v, want OK", exit, err)
	}
}
