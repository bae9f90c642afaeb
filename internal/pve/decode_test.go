package pve

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// generic reads a reply the plain way, to compare the typed decoding against.
func generic(t *testing.T, body string) []map[string]any {
	t.Helper()
	var env struct{ Data []any }
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	for _, d := range env.Data {
		if m, ok := d.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func num(v any) float64 {
	switch x := v.(type) {
	case float64:
		return x
	case string:
		return float64(parseNum([]byte(`"` + x + `"`)))
	case bool:
		if x {
			return 1
		}
	}
	return 0
}

func str(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return ""
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestGuestsDecodeWithoutLoss(t *testing.T) {
	for _, file := range []string{
		"testdata/recorded/7_GET_cluster_resources.json",
		"testdata/samples/cluster_resources_quirks.json",
	} {
		t.Run(file, func(t *testing.T) {
			body := readFile(t, file)
			rt := newFakeRT(map[string]reply{"GET /cluster/resources": ok(body)})
			c := fakeClient(t, rt)
			guests, err := c.Guests(context.Background())
			if err != nil {
				t.Fatalf("Guests: %v", err)
			}
			byID := map[int]Guest{}
			for _, g := range guests {
				byID[g.VMID] = g
			}
			want := 0
			for _, m := range generic(t, body) {
				typ := str(m["type"])
				if typ != "qemu" && typ != "lxc" {
					continue
				}
				want++
				id := int(num(m["vmid"]))
				g, found := byID[id]
				if !found {
					t.Errorf("vmid %d: missing from %v", id, guests)
					continue
				}
				wantStatus := str(m["status"])
				checks := []struct {
					field     string
					got, want any
				}{
					{"cluster", g.Cluster, "home"},
					{"type", g.Type, typ},
					{"name", g.Name, str(m["name"])},
					{"node", g.Node, str(m["node"])},
					{"status", g.Status, wantStatus},
					{"template", g.Template, num(m["template"]) != 0},
					{"cpu", g.CPU, num(m["cpu"])},
					{"maxcpu", g.MaxCPU, int(num(m["maxcpu"]))},
					{"mem", g.Mem, uint64(num(m["mem"]))},
					{"maxmem", g.MaxMem, uint64(num(m["maxmem"]))},
					{"disk", g.Disk, uint64(num(m["disk"]))},
					{"maxdisk", g.MaxDisk, uint64(num(m["maxdisk"]))},
					{"uptime", g.Uptime, time.Duration(num(m["uptime"])) * time.Second},
					{"hastate", g.HAState, str(m["hastate"])},
					{"pool", g.Pool, str(m["pool"])},
					{"lock", g.Lock, str(m["lock"])},
					{"tags", strings.Join(g.Tags, ";"), str(m["tags"])},
				}
				for _, ck := range checks {
					if ck.got != ck.want {
						t.Errorf("vmid %d %s: got %v, want %v", id, ck.field, ck.got, ck.want)
					}
				}
			}
			if len(guests) != want {
				t.Errorf("got %d guests, want %d", len(guests), want)
			}
		})
	}
}

func TestQuirks(t *testing.T) {
	body := readFile(t, "testdata/samples/cluster_resources_quirks.json")
	guests, _, _, err := decodeResources("home", []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int]Guest{}
	for _, g := range guests {
		byID[g.VMID] = g
	}
	if g := byID[105]; g.Status != "unknown" || g.Name != "" || g.Label() != "VM 105" {
		t.Errorf("offline guest: got %+v, want status unknown, no name, label VM 105", g)
	}
	if g := byID[102]; g.Type != "lxc" || g.MaxCPU != 1 || g.Template {
		t.Errorf("string numbers: got %+v", g)
	}
	if g := byID[110]; g.Name != "12345" || !g.Template || g.Uptime != time.Hour || g.MaxDisk != 1e10 {
		t.Errorf("odd types: got %+v", g)
	}
	if got, want := len(guests), 5; got != want {
		t.Errorf("got %d guests, want %d (non-objects skipped)", got, want)
	}
}

func TestNodesAndStorageRecorded(t *testing.T) {
	body := readFile(t, "testdata/recorded/7_GET_cluster_resources.json")
	rt := newFakeRT(map[string]reply{"GET /cluster/resources": ok(body)})
	c := fakeClient(t, rt)
	nodes, err := c.Nodes(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.Storage(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var wantNodes, wantStorage int
	for _, m := range generic(t, body) {
		switch str(m["type"]) {
		case "node":
			wantNodes++
			for _, n := range nodes {
				if n.Name == str(m["node"]) {
					if n.Status != str(m["status"]) || n.MaxMem != uint64(num(m["maxmem"])) || n.CPU != num(m["cpu"]) || n.MaxCPU != int(num(m["maxcpu"])) || !n.HasStats {
						t.Errorf("node %s: got %+v, want %v", n.Name, n, m)
					}
				}
			}
		case "storage":
			wantStorage++
			found := false
			for _, s := range st {
				if "storage/"+s.Node+"/"+s.Name == str(m["id"]) {
					found = true
					if s.Used != uint64(num(m["disk"])) || s.Total != uint64(num(m["maxdisk"])) || s.Type != str(m["plugintype"]) || s.Shared != (num(m["shared"]) != 0) {
						t.Errorf("storage %s: got %+v, want %v", m["id"], s, m)
					}
				}
			}
			if !found {
				t.Errorf("storage %s missing", m["id"])
			}
		}
	}
	if len(nodes) != wantNodes || len(st) != wantStorage {
		t.Errorf("got %d nodes %d storage, want %d and %d", len(nodes), len(st), wantNodes, wantStorage)
	}
}

func TestGuestStatusDecode(t *testing.T) {
	tests := []struct {
		file, typ string
		check     func(GuestStatus) bool
	}{
		{"testdata/recorded/7_GET_nodes_NODE_qemu_VMID_status_current__running.json", "qemu", func(s GuestStatus) bool {
			return s.Status == "running" && s.QMPStatus == "running" && s.Name != "" && s.MaxMem > 0 && s.MaxCPU > 0 && !s.HAManaged
		}},
		{"testdata/samples/lxc_status_current_ha_cpus_string.json", "lxc", func(s GuestStatus) bool {
			return s.Status == "running" && s.Name == "nas" && s.MaxCPU == 2 && s.HAManaged && s.HAState == "started" &&
				s.Mem == 268435456 && s.Uptime == 90*time.Minute && strings.Join(s.Tags, ",") == "storage,infra"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			g := Guest{VMID: 101, Node: "node1", Type: tt.typ}
			rt := newFakeRT(map[string]reply{"GET /nodes/node1/" + tt.typ + "/101/status/current": ok(readFile(t, tt.file))})
			s, err := fakeClient(t, rt).GuestStatus(context.Background(), g)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(s) {
				t.Errorf("got %+v", s)
			}
		})
	}
}

func TestLXCListStringVMID(t *testing.T) {
	rows, skipped, err := decodeList[rawResource]([]byte(readFile(t, "testdata/recorded/7_GET_nodes_NODE_lxc.json")))
	if err != nil || skipped != 0 {
		t.Fatalf("decode: %v, skipped %d", err, skipped)
	}
	var got []int
	for _, r := range rows {
		got = append(got, r.VMID.int())
	}
	if want := []int{106, 105, 101}; mustJSON(got) != mustJSON(want) {
		t.Errorf("got vmids %v, want %v", got, want)
	}
	if !rows[2].Template.bool() {
		t.Errorf("got template false for %v, want true", rows[2].Name)
	}
}

func TestVersionRecorded(t *testing.T) {
	rt := newFakeRT(map[string]reply{"GET /version": ok(readFile(t, "testdata/recorded/7_GET_version.json"))})
	v, err := fakeClient(t, rt).Version(context.Background())
	if got, want := v, "7.2-3"; err != nil || got != want {
		t.Errorf("got %q, %v; want %q", got, err, want)
	}
}

func TestParseNum(t *testing.T) {
	tests := []struct {
		in   string
		want float64
	}{
		{`1`, 1}, {`"1"`, 1}, {`" 2.5 "`, 2.5}, {`true`, 1}, {`false`, 0}, {`null`, 0}, {`""`, 0},
		{`{}`, 0}, {`[1]`, 0}, {`"x"`, 0}, {`1e3`, 1000}, {`"NaN"`, 0}, {`"Inf"`, 0},
	}
	for _, tt := range tests {
		if got := parseNum([]byte(tt.in)); got != tt.want && !(math.IsNaN(got) && math.IsNaN(tt.want)) {
			t.Errorf("parseNum(%s): got %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseUPID(t *testing.T) {
	tests := []struct {
		in       string
		wantErr  bool
		node, ty string
	}{
		{"UPID:pve1:0001A2B3:00C0FFEE:67A0B1C2:qmshutdown:101:chatbot@pve!bot:", false, "pve1", "qmshutdown"},
		{"UPID:node1:000FF1FD:10F9374C:630D702C:vzdump:110:root@pam:", false, "node1", "vzdump"},
		{"UPID:pve:00000001:123456789:630D702C:aptupdate::root@pam:", false, "pve", "aptupdate"},
		{"UPID:../x:00000001:12345678:630D702C:qmstart:1:root@pam:", true, "", ""},
		{"UPID:pve:1:2:3:qmstart:101:root@pam", true, "", ""},
		{"", true, "", ""},
	}
	for _, tt := range tests {
		u, err := ParseUPID(tt.in)
		if (err != nil) != tt.wantErr || u.Node != tt.node || u.Type != tt.ty {
			t.Errorf("ParseUPID(%q): got %+v, %v; want node %q type %q err %v", tt.in, u, err, tt.node, tt.ty, tt.wantErr)
		}
	}
}

func FuzzDecodeResources(f *testing.F) {
	f.Add([]byte(`{"data":[{"id":"qemu/1","vmid":"1","template":"","cpu":"x","tags":5}]}`))
	f.Add([]byte(`{"data":null}`))
	f.Add([]byte(`{"data":[1,"a",null,{"type":"node","maxmem":-1e400}]}`))
	f.Add([]byte(`{"data":{"status":"stopped","exitstatus":7}}`))
	for _, name := range []string{"testdata/recorded/7_GET_cluster_resources.json", "testdata/samples/cluster_resources_quirks.json"} {
		if b, err := readFileBytes(name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _, _ = decodeResources("x", b)
		_, _, _ = decodeList[rawTask](b)
		var s rawStatus
		_ = decodeObject(b, &s)
		_ = parseErrorReply(500, normaliseErrorBody("500 x", 500, b))
	})
}
