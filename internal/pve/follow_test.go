package pve

import (
	"context"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

func TestClusterStatusQuorumWithout(t *testing.T) {
	s, _ := manualFake(t, nil)
	c := e2eClient(t, s, nil)
	ctx := context.Background()
	st, err := c.ClusterStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Quorate || len(st.Nodes) != 2 || !st.Nodes[0].Local || st.Nodes[1].Local {
		t.Fatalf("got %+v, want a quorate cluster of two nodes, pve1 the local one", st)
	}
	// Two nodes, one vote each: either one leaving loses quorum (no QDevice).
	if st.KeepsQuorumWithout("pve2") {
		t.Errorf("a two-node cluster keeps quorum without pve2, want lost")
	}
	s.AddNode(pvetest.Node{Name: "pve3", Online: true})
	st, _ = c.ClusterStatus(ctx)
	if !st.KeepsQuorumWithout("pve2") {
		t.Errorf("three nodes online keep no quorum without pve2, want kept")
	}
	s.SetNodeOnline("pve3", false)
	st, _ = c.ClusterStatus(ctx)
	if st.KeepsQuorumWithout("pve2") {
		t.Errorf("with pve3 offline, pve1 alone keeps quorum of three, want lost")
	}
	s.SetQuorum(false)
	if st, _ = c.ClusterStatus(ctx); st.Quorate {
		t.Errorf("got quorate after SetQuorum(false)")
	}
}

func TestWaitNodeAndGuestOn(t *testing.T) {
	s, advance := manualFake(t, map[string][]string{"/": append(append([]string{}, botPrivs...), "Sys.PowerMgmt", "VM.Migrate")})
	s.AddGuest(pvetest.Guest{VMID: 104, Name: "ha", Node: "pve1", Status: "running", HA: true})
	c := e2eClient(t, s, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	short, stop := context.WithTimeout(ctx, 50*time.Millisecond)
	if err := c.WaitNode(short, "pve2", false); err == nil {
		t.Errorf("WaitNode offline returned for an online node")
	}
	stop()
	if err := c.NodePower(ctx, "pve2", NodeReboot); err != nil {
		t.Fatal(err)
	}
	advance(3 * time.Second)
	if err := c.WaitNode(ctx, "pve2", false); err != nil {
		t.Fatalf("WaitNode offline: %v", err)
	}
	advance(pvetest.NodeBootTime)
	if err := c.WaitNode(ctx, "pve2", true); err != nil {
		t.Fatalf("WaitNode online: %v", err)
	}

	g := guestOn(t, c, 104)
	if _, err := c.Migrate(ctx, g, "pve2", MigrateOptions{Online: true}); err != nil {
		t.Fatal(err)
	}
	short, stop = context.WithTimeout(ctx, 50*time.Millisecond)
	if _, err := c.WaitGuestOn(short, g, "pve2"); err == nil {
		t.Errorf("WaitGuestOn returned before the HA stack moved the guest")
	}
	stop()
	advance(time.Minute)
	if got, err := c.WaitGuestOn(ctx, g, "pve2"); err != nil || got.Node != "pve2" {
		t.Errorf("got %+v, %v; want the guest on pve2", got, err)
	}
}
