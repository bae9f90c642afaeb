package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

// startFleet starts n more fake clusters (c00, c01, ...) of guests guests on two nodes
// each, with the home lab's token and privileges and latency on every answer. Guest
// names are c07-g123 (VMID 223 of cluster c07).
func startFleet(n, guests int, latency time.Duration) []*pvetest.Server {
	out := make([]*pvetest.Server, 0, n)
	for c := range n {
		name := fmt.Sprintf("c%02d", c)
		s := pvetest.New(pvetest.Options{TLS: true, ErrorFormat: pvetest.Modern, ClusterName: name})
		for _, node := range []string{"pve1", "pve2"} {
			s.AddNode(pvetest.Node{Name: node, Online: true, CPU: 0.2, MaxCPU: 32, Mem: 100 << 30, MaxMem: 256 << 30, MaxDisk: 1 << 40, Uptime: 864000})
		}
		for i := range guests {
			g := pvetest.Guest{VMID: 100 + i, Name: fmt.Sprintf("%s-g%03d", name, i), Node: fmt.Sprintf("pve%d", i%2+1), Type: "qemu",
				Status: "running", CPU: 0.03, MaxCPU: 2, Mem: 1 << 30, MaxMem: 2 << 30, MaxDisk: 32 << 30, Uptime: 86400}
			if i%4 == 0 {
				g.Type = "lxc"
			}
			if i%5 == 0 {
				g.Status, g.Uptime = "stopped", 0
			}
			s.AddGuest(g)
		}
		s.AddToken(pvetest.HomeLabTokenID, pvetest.HomeLabTokenSecret, map[string][]string{
			"/": {"VM.Audit", "VM.PowerMgmt", "Sys.Audit", "Datastore.Audit", "Pool.Audit"},
		})
		s.SetLatency(latency)
		out = append(out, s)
	}
	return out
}

// withFleet adds the fleet's clusters to a config written by apptest (after its one
// cluster, whose entry ends with its protected list), with the same token.
func withFleet(cfg string, fleet []*pvetest.Server, secret string) (string, error) {
	const anchor = "      protected: "
	i := strings.Index(cfg, anchor)
	if i < 0 {
		return "", fmt.Errorf("loadgen: the config has no cluster entry to add the fleet after")
	}
	end := i + strings.IndexByte(cfg[i:], '\n') + 1
	var b strings.Builder
	for c, s := range fleet {
		fmt.Fprintf(&b, "    - name: c%02d\n      base_url: %q\n      token_id: %q\n      token_secret: %q\n      fingerprint: %q\n",
			c, s.URL(), pvetest.HomeLabTokenID, secret, s.Fingerprint())
	}
	return cfg[:end] + b.String() + cfg[end:], nil
}

// fleetListings is the fewest and the most GET /cluster/resources any fleet cluster was
// asked since its requests were last reset.
func fleetListings(fleet []*pvetest.Server) (lo, hi int) {
	for i, s := range fleet {
		n := s.Count("GET", "/cluster/resources")
		if i == 0 || n < lo {
			lo = n
		}
		hi = max(hi, n)
	}
	return lo, hi
}
