package pvetest

import (
	"reflect"
	"testing"
	"time"
)

func TestRRDShapes(t *testing.T) {
	tests := []struct {
		version, path string
		n             int
		step          int64
		bareLast      bool
	}{
		{"8.2.4", "/nodes/pve1/qemu/101/rrddata?timeframe=day", 70, 1800, true},
		{"8.2.4", "/nodes/pve1/rrddata?timeframe=week&cf=MAX", 70, 3 * 3600, true},
		{"9.1.5", "/nodes/pve1/qemu/101/rrddata?timeframe=day", 1440, 60, false},
		{"9.1.5", "/nodes/pve1/rrddata?timeframe=week", 336, 1800, false},
		{"9.1.5", "/nodes/pve1/storage/local/rrddata?timeframe=month", 1440, 1800, false},
		{"9.1.5", "/nodes/pve1/rrddata?timeframe=decade", 570, 7 * 86400, false},
	}
	for _, tt := range tests {
		t.Run(tt.version+tt.path, func(t *testing.T) {
			s, _, c := newFake(t, Options{Version: tt.version})
			s.AddGuest(Guest{VMID: 101, Node: "pve1", Status: "running", MaxCPU: 2, MaxMem: 4 << 30, Mem: 2 << 30})
			s.AddStorage(Storage{Name: "local", Node: "pve1", Type: "dir", Used: 40 << 30, Total: 100 << 30})
			r := c.get(t, tt.path)
			wantStatus(t, r, 200, "OK")
			var rows []map[string]any
			r.data(t, &rows)
			if len(rows) != tt.n {
				t.Fatalf("rows = %d, want %d", len(rows), tt.n)
			}
			if d := int64(rows[1]["time"].(float64) - rows[0]["time"].(float64)); d != tt.step {
				t.Errorf("step = %d, want %d", d, tt.step)
			}
			if bare := len(rows[len(rows)-1]) == 1; bare != tt.bareLast {
				t.Errorf("last row only time = %v, want %v (dropped from pve-cluster 9.0.7)", bare, tt.bareLast)
			}
		})
	}
}

// A node's reboot gap leaves its rows and its guests' usage unknown (keys left out, as
// PVE does), and the answer is the same on every call for a fixed clock.
func TestRRDGapAndDeterminism(t *testing.T) {
	s, clk, c := newFake(t, Options{Version: "9.1.5"})
	s.AddGuest(Guest{VMID: 101, Node: "pve1", Status: "running", MaxCPU: 2, MaxMem: 4 << 30, Mem: 2 << 30})
	s.AddGuest(Guest{VMID: 102, Node: "pve1", Status: "stopped", MaxMem: 1 << 30})
	now := clk.Now().Truncate(time.Minute)
	s.SetRRDGap("pve1", now.Add(-3*time.Hour), now.Add(-2*time.Hour))
	get := func(path string) []map[string]any {
		r := c.get(t, path)
		wantStatus(t, r, 200, "OK")
		var rows []map[string]any
		r.data(t, &rows)
		return rows
	}
	node := get("/nodes/pve1/rrddata?timeframe=day")
	guest := get("/nodes/pve1/qemu/101/rrddata?timeframe=day")
	gapNode, gapGuest, spikes := 0, 0, 0
	for i, row := range node {
		at := time.Unix(int64(row["time"].(float64)), 0)
		in := !at.Before(now.Add(-3*time.Hour)) && at.Before(now.Add(-2*time.Hour))
		if _, has := row["cpu"]; has == in {
			t.Fatalf("node row at %s: cpu present = %v inside gap = %v", at, has, in)
		}
		if _, has := guest[i]["cpu"]; has == in {
			t.Fatalf("guest row at %s: cpu present = %v inside gap = %v", at, has, in)
		}
		if in {
			gapNode++
			if _, ok := guest[i]["maxmem"]; ok {
				gapGuest++
			}
		}
		if v, ok := row["cpu"].(float64); ok && v > 0.7 {
			spikes++
		}
	}
	if gapNode != 60 || gapGuest != 60 {
		t.Errorf("gap rows node %d guest %d, want 60 each", gapNode, gapGuest)
	}
	if spikes == 0 {
		t.Error("no spike in a day")
	}
	for _, row := range get("/nodes/pve1/qemu/102/rrddata?timeframe=hour") {
		if _, ok := row["cpu"]; ok {
			t.Fatal("a stopped guest reports cpu")
		}
	}
	if again := get("/nodes/pve1/rrddata?timeframe=day"); !reflect.DeepEqual(again, node) {
		t.Error("a second call with the same clock answers differently")
	}
}

func TestRRDRefusals(t *testing.T) {
	s, _, c := newFake(t, Options{Version: "9.1.5"})
	s.AddGuest(Guest{VMID: 101, Node: "pve1", Status: "running"})
	s.AddStorage(Storage{Name: "local", Node: "pve2", Type: "dir", Used: 1, Total: 2})
	s.AddToken("audit@pve!ro", testSecret, map[string][]string{"/vms/101": {"PVEAuditor"}})
	wantStatus(t, c.get(t, "/nodes/pve1/qemu/101/rrddata?timeframe=decade"), 400, "Parameter verification failed.")
	wantStatus(t, c.get(t, "/nodes/pve1/qemu/101/rrddata"), 400, "Parameter verification failed.")
	wantStatus(t, c.get(t, "/nodes/pve1/rrddata?timeframe=day&cf=MIN"), 400, "Parameter verification failed.")
	s.SetNodeOnline("pve2", false)
	wantStatus(t, c.get(t, "/nodes/pve2/storage/local/rrddata?timeframe=day"), 595, "No route to host")
	// Node and guest history is not proxied: an offline node still answers.
	wantStatus(t, c.get(t, "/nodes/pve2/rrddata?timeframe=day"), 200, "OK")
	ro := newClient(s)
	ro.auth = "PVEAPIToken=audit@pve!ro=" + testSecret
	wantStatus(t, ro.get(t, "/nodes/pve1/rrddata?timeframe=day"), 403, "Permission check failed (/nodes/pve1, Sys.Audit)")
	wantStatus(t, ro.get(t, "/nodes/pve1/qemu/101/rrddata?timeframe=day"), 200, "OK")
}
