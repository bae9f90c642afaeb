package pve

import (
	"context"
	"fmt"
	"io"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

// renderGuests is the plain text table a "vm list" reply would carry.
func renderGuests(w io.Writer, gs []Guest) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VMID\tNAME\tNODE\tTYPE\tSTATUS\tCPU\tMEM")
	for _, g := range gs {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%.0f%%\t%d/%d MiB\n", g.VMID, g.Name, g.Node, g.Type, g.Status, g.CPU*100, g.Mem>>20, g.MaxMem>>20)
	}
	return tw.Flush()
}

// BenchmarkListGuests300 lists a 3-node, 300-guest cluster through the fake PVE over
// loopback HTTP (cache off, so every iteration is one real request) and renders it.
func BenchmarkListGuests300(b *testing.B) {
	s := fake(b, pvetest.Options{}, nil)
	s.AddNode(pvetest.Node{Name: "pve3", Online: true, MaxCPU: 8, MaxMem: 32 << 30})
	for i := 0; i < 300; i++ {
		typ, status := "qemu", "running"
		if i%3 == 0 {
			typ = "lxc"
		}
		if i%4 == 0 {
			status = "stopped"
		}
		s.AddGuest(pvetest.Guest{VMID: 100 + i, Name: fmt.Sprintf("guest-%03d", i), Node: fmt.Sprintf("pve%d", i%3+1), Type: typ, Status: status,
			Tags: []string{"lab", "bench"}, CPU: 0.05, MaxCPU: 2, Mem: 1 << 30, MaxMem: 2 << 30, MaxDisk: 32 << 30})
	}
	c := e2eClient(b, s, func(_ *clusterSpec, o *Options) { o.GuestCacheTTL = -1; o.Timeout = 5 * time.Second })
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		gs, err := c.Guests(ctx)
		if err != nil || len(gs) != 300 {
			b.Fatalf("got %d guests, %v", len(gs), err)
		}
		if err := renderGuests(io.Discard, gs); err != nil {
			b.Fatal(err)
		}
	}
}
