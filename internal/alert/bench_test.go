//go:build unix

package alert

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/schedule"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// memFleet is a fleet in memory: clusters of 3 nodes (one offline), 2 storages per node
// and guests per cluster, every tenth tagged critical and every fifth of those stopped.
type memFleet struct {
	names   []string
	nodes   []pve.Node
	guests  []pve.Guest
	storage []pve.Storage
}

func newMemFleet(clusters, guests int) *memFleet {
	f := &memFleet{}
	for c := range clusters {
		cl := fmt.Sprintf("c%02d", c)
		f.names = append(f.names, cl)
		for n := range 3 {
			node := pve.Node{Cluster: cl, Name: fmt.Sprintf("pve%d", n+1), Status: "online", HasStats: true,
				CPU: 0.2 + 0.35*float64(n), MaxCPU: 16, Mem: uint64(n+1) * 10 << 30, MaxMem: 32 << 30}
			if n == 2 && c%10 == 0 {
				node.Status = "offline"
			}
			f.nodes = append(f.nodes, node)
			for _, st := range []string{"local", "local-lvm"} {
				f.storage = append(f.storage, pve.Storage{Cluster: cl, Node: node.Name, Name: st, Status: "available",
					HasStats: true, Used: uint64(50+20*n) << 30, Total: 100 << 30})
			}
		}
		for i := range guests {
			g := pve.Guest{Cluster: cl, VMID: 100 + i, Name: fmt.Sprintf("%s-g%03d", cl, i), Node: fmt.Sprintf("pve%d", i%3+1),
				Type: "qemu", Status: "running"}
			if i%10 == 0 {
				g.Tags = []string{"critical"}
				if i%50 == 0 {
					g.Status = "stopped"
				}
			}
			f.guests = append(f.guests, g)
		}
	}
	return f
}

func (f *memFleet) Nodes(context.Context) ([]pve.Node, map[string]error) {
	return append([]pve.Node(nil), f.nodes...), nil
}
func (f *memFleet) Guests(context.Context) ([]pve.Guest, map[string]error) {
	return append([]pve.Guest(nil), f.guests...), nil
}
func (f *memFleet) Storage(context.Context) ([]pve.Storage, map[string]error) {
	return append([]pve.Storage(nil), f.storage...), nil
}
func (f *memFleet) ClusterNames() []string { return f.names }

// BenchmarkCheckFleet10000 is one evaluation of every rule (node offline, CPU, memory,
// storage, guest stopped for 1,000 critical guests, PVE unreachable) over 50 clusters of
// 200 guests, with the alert state in the store; PVE's side is in memory, so this is the
// engine's own CPU. Each iteration is a minute later: alerts go pending, fire, repeat.
func BenchmarkCheckFleet10000(b *testing.B) {
	clock := schedule.NewManualClock(time.Date(2026, 5, 1, 4, 0, 0, 0, time.UTC))
	cfg := config.Default()
	cfg.Alerts.To = []string{"ops"}
	cfg.Alerts.Rules.GuestStopped.Guests = []string{"tag:critical"}
	cfg.Targets = map[string]config.Target{"ops": {AppChat: "opsroom"}}
	for _, p := range cfg.Validate() {
		if strings.HasPrefix(p.Key, "alerts") || strings.HasPrefix(p.Key, "targets") {
			b.Fatalf("config: %v", p)
		}
	}
	st, err := store.Open(b.TempDir(), store.Options{Now: clock.Now})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	push := &recorder{}
	e := New(cfg, newMemFleet(50, 200), st, st, push, Options{Clock: clock})
	ctx := context.Background()
	for range 5 { // reach the steady state: alerts firing
		clock.Advance(time.Minute)
		e.Check(ctx)
	}
	if len(push.take()) == 0 {
		b.Fatal("no alert fired")
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU(b)
	for range b.N {
		clock.Advance(time.Minute)
		e.Check(ctx)
	}
	// The process's CPU time, not the wall clock: on a shared machine this is the figure.
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// processCPU is the user and system time this process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
