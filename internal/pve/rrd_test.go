package pve

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

// The recordings are PVE's own answers (testdata/SOURCES.md): both generations decode to
// the same points, and a stopped period stays unknown instead of becoming zero.
func TestDecodeRRDRecordings(t *testing.T) {
	tests := []struct {
		file      string
		first     int64
		wantDS    []string // present in the first row
		unknownAt int      // a row index where cpu is unknown (-1: none)
	}{
		{"pve8_qemu.json", 1755964320, []string{"cpu", "mem", "maxmem", "netin", "netout", "diskread", "diskwrite"}, 11},
		{"pve8_node.json", 1755964380, []string{"cpu", "iowait", "loadavg", "memused", "memtotal"}, -1},
		{"pve9_qemu_year.json", 1768327200, []string{"cpu", "mem", "memhost", "pressurecpusome"}, 11},
		{"pve9_lxc_hour.json", 1785168420, []string{"cpu", "mem", "netin", "diskwrite"}, -1},
		{"pve9_node_hour.json", 1785168420, []string{"cpu", "iowait", "loadavg", "memavailable", "arcsize"}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r, err := decodeRRD([]byte(readFile(t, "testdata/rrd/"+tt.file)))
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Points) != 12 {
				t.Fatalf("points = %d, want 12", len(r.Points))
			}
			if got := r.Points[0].Time.Unix(); got != tt.first {
				t.Errorf("first time = %d, want %d", got, tt.first)
			}
			for _, ds := range tt.wantDS {
				if v := r.Points[0].Value(ds); math.IsNaN(v) {
					t.Errorf("%s unknown in the first row", ds)
				}
			}
			if tt.unknownAt >= 0 {
				p := r.Points[tt.unknownAt]
				if v := p.Value("cpu"); !math.IsNaN(v) {
					t.Errorf("cpu of a stopped row = %v, want NaN (unknown, not zero)", v)
				}
				if v := p.Value("maxmem"); math.IsNaN(v) || v <= 0 {
					t.Errorf("maxmem of a stopped row = %v, want the configured size", v)
				}
			}
			for i := 1; i < len(r.Points); i++ {
				if !r.Points[i].Time.After(r.Points[i-1].Time) {
					t.Fatalf("points not in time order at %d", i)
				}
			}
		})
	}
}

// PVE before 9.0.7 may end with a row holding only "time"; nulls and junk are unknown.
func TestDecodeRRDOddRows(t *testing.T) {
	body := `{"data":[{"time":200,"cpu":"0.5","mem":null,"netin":"NaN"},{"time":100,"cpu":0.25},{"cpu":1},"junk",{"time":300}]}`
	r, err := decodeRRD([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Points) != 3 {
		t.Fatalf("points = %d, want 3 (a row without time is dropped)", len(r.Points))
	}
	if got := r.Points[0].Time.Unix(); got != 100 {
		t.Errorf("first = %d, want 100 (sorted)", got)
	}
	cpu := r.Series("cpu")
	if cpu[0] != 0.25 || cpu[1] != 0.5 || !math.IsNaN(cpu[2]) {
		t.Errorf("cpu = %v, want [0.25 0.5 NaN]", cpu)
	}
	if v := r.Points[1].Value("mem"); !math.IsNaN(v) {
		t.Errorf("null mem = %v, want NaN", v)
	}
	if v := r.Points[1].Value("netin"); !math.IsNaN(v) {
		t.Errorf("\"NaN\" netin = %v, want NaN", v)
	}
	if _, err := decodeRRD([]byte(`{"data":null}`)); err == nil {
		t.Error("no data: want an error")
	}
}

func TestRRDRequests(t *testing.T) {
	body := ok(readFile(t, "testdata/rrd/pve9_lxc_hour.json"))
	rt := newFakeRT(map[string]reply{
		"GET /nodes/pve1/lxc/108/rrddata":           body,
		"GET /nodes/pve1/rrddata":                   body,
		"GET /nodes/pve1/storage/local-zfs/rrddata": ok(`{"data":[{"time":1,"used":5,"total":10}]}`),
	})
	c := fakeClient(t, rt)
	ctx := context.Background()
	if _, err := c.GuestRRD(ctx, Guest{VMID: 108, Node: "pve1", Type: "lxc"}, TimeframeWeek, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.NodeRRD(ctx, "pve1", TimeframeDay, CFMax); err != nil {
		t.Fatal(err)
	}
	st, err := c.StorageRRD(ctx, "pve1", "local-zfs", TimeframeMonth, "")
	if err != nil {
		t.Fatal(err)
	}
	if v := st.Points[0].Value("used"); v != 5 {
		t.Errorf("used = %v, want 5", v)
	}
	if _, err := c.GuestRRD(ctx, Guest{VMID: 108, Node: "pve1", Type: "lxc"}, "decade", ""); err == nil {
		t.Error("decade on a guest: want an error before any request (PVE answers 400)")
	}
	if n := len(rt.calls); n != 3 {
		t.Errorf("requests = %d (%v), want 3", n, rt.calls)
	}
}

func TestTimeframeSpan(t *testing.T) {
	if TimeframeWeek.Span() != 7*24*time.Hour || TimeframeHour.Span() != time.Hour {
		t.Error("spans wrong")
	}
	if Timeframe("decade").Valid() {
		t.Error("decade is node-only and not offered")
	}
}

// Against the fake: gaps arrive as NaN, and the client asks for what it was told.
func TestRRDAgainstFake(t *testing.T) {
	s := fake(t, pvetest.Options{Version: "9.1.5"}, nil)
	s.AddGuest(pvetest.Guest{VMID: 101, Node: "pve1", Status: "running", MaxCPU: 2, MaxMem: 4 << 30, Mem: 2 << 30})
	// 1440 rows per day: more than the 2 s of the other tests allow under -race on a loaded machine.
	c := e2eClient(t, s, func(_ *clusterSpec, o *Options) { o.Timeout = 30 * time.Second })
	r, err := c.NodeRRD(context.Background(), "pve1", TimeframeDay, CFAverage)
	if err != nil {
		t.Fatal(err)
	}
	nan := 0
	for _, v := range r.Series("cpu") {
		if math.IsNaN(v) {
			nan++
		}
	}
	if len(r.Points) != 1440 || nan == 0 || nan == len(r.Points) {
		t.Errorf("points %d, unknown cpu %d: want 1440 points with a gap", len(r.Points), nan)
	}
	if _, err := c.GuestRRD(context.Background(), Guest{VMID: 101, Node: "pve1", Type: "qemu"}, TimeframeWeek, CFMax); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	last := reqs[len(reqs)-1]
	if last.Path != "/nodes/pve1/qemu/101/rrddata" || last.Query.Get("timeframe") != "week" || last.Query.Get("cf") != "MAX" {
		t.Errorf("last request %s %v, want the week/MAX history of 101", last.Path, last.Query)
	}
}
