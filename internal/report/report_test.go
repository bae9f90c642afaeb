package report

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

const gib = 1 << 30

var (
	shanghai, _ = time.LoadLocation("Asia/Shanghai")
	at          = time.Date(2026, 5, 1, 1, 5, 0, 0, time.UTC) // 09:05 in Shanghai
)

// lab builds a cluster of two nodes with n guests, as plain data.
func lab(n int) Data {
	d := Data{
		Now: at, Loc: shanghai,
		Nodes: []pve.Node{
			{Cluster: "home", Name: "pve1", Status: "online", CPU: 0.18, MaxCPU: 12, Mem: 38 * gib, MaxMem: 64 * gib, Uptime: 23 * 24 * time.Hour, HasStats: true},
			{Cluster: "home", Name: "pve2", Status: "online", CPU: 0.07, MaxCPU: 8, Mem: 14 * gib, MaxMem: 32 * gib, Uptime: 10*24*time.Hour + 3*time.Hour, HasStats: true},
		},
		Storage: []pve.Storage{
			{Cluster: "home", Node: "pve1", Name: "local", Used: 21 * gib, Total: 94 * gib, HasStats: true},
			{Cluster: "home", Node: "pve1", Name: "local-lvm", Used: 310 * gib, Total: 820 * gib, HasStats: true},
			{Cluster: "home", Node: "pve2", Name: "local", Used: 80 * gib, Total: 94 * gib, HasStats: true},
			{Cluster: "home", Node: "pve2", Name: "nas", Used: 5200 * gib, Total: 7400 * gib, HasStats: true},
		},
		Tasks: []pve.Task{
			{Cluster: "home", Node: "pve1", Type: "vzdump", ID: "101", Status: "job errors", Start: at.Add(-6 * time.Hour), End: at.Add(-5 * time.Hour)},
			{Cluster: "home", Node: "pve1", Type: "qmstart", ID: "102", Status: "OK", Start: at.Add(-time.Hour), End: at.Add(-time.Hour)},
			{Cluster: "home", Node: "pve2", Type: "vzdump", ID: "103", Status: "WARNINGS: 1", End: at.Add(-time.Hour)},
			{Cluster: "home", Node: "pve2", Type: "qmstop", ID: "104", Status: "VM quit", End: at.Add(-30 * time.Hour)},
		},
		Firing: []string{"🔴 home · pve2 · local 存储 85%"},
	}
	names := []string{"opnsense", "truenas", "homeassistant"}
	for i := range n {
		name := fmt.Sprintf("guest-%03d", i)
		if i < len(names) {
			name = names[i]
		}
		g := pve.Guest{Cluster: "home", VMID: 100 + i, Name: name, Node: []string{"pve1", "pve2"}[i%2], Type: []string{"qemu", "lxc"}[i%3%2],
			Status: "running", CPU: float64(i%10) / 100, Mem: uint64(i%4+1) * gib, MaxMem: 8 * gib}
		if i%5 == 4 || i == 2 {
			g.Status, g.CPU, g.Mem = "stopped", 0, 0
		}
		d.Guests = append(d.Guests, g)
	}
	d.Backup = labBackups(d.Guests)
	return d
}

// labBackups: last night's job backed up every third guest at 02:00 (Shanghai) to nas, but
// truenas failed; guests 1 mod 3 were last backed up days ago (100 is five days old);
// guests 2 mod 3 never were, and no job covers them.
func labBackups(gs []pve.Guest) *BackupData {
	night := at.Add(-7*time.Hour - 5*time.Minute) // 02:00 in Shanghai
	b := &BackupData{}
	run := pve.BackupRun{Cluster: "home", Node: "pve1", Start: night, End: night.Add(40 * time.Minute), Exit: "job errors"}
	for i, g := range gs {
		switch {
		case g.Name == "truenas":
			run.Failed = append(run.Failed, pve.GuestBackupResult{VMID: g.VMID, Reason: "unable to open file '/mnt/pve/nas/dump/vzdump-qemu-101.tmp' - No space left on device"})
			b.Volumes = append(b.Volumes, pve.BackupVolume{Cluster: "home", VMID: g.VMID, Storage: "nas", Size: 3 * gib, Time: night.Add(-24 * time.Hour)})
		case i%3 == 0 && i != 0:
			b.Volumes = append(b.Volumes, pve.BackupVolume{Cluster: "home", VMID: g.VMID, Storage: "nas", Size: uint64(i%7+1) * gib, Time: night.Add(time.Duration(i%40) * time.Minute)})
		case i%3 == 1 || i == 0:
			b.Volumes = append(b.Volumes, pve.BackupVolume{Cluster: "home", VMID: g.VMID, Storage: "local", Size: gib, Time: night.Add(-time.Duration(2+i%3)*24*time.Hour - time.Duration(i)*time.Minute)})
			if i == 0 {
				b.Volumes[len(b.Volumes)-1].Time = night.Add(-5 * 24 * time.Hour)
			}
		default:
			b.Uncovered = append(b.Uncovered, g)
		}
	}
	b.Runs = []pve.BackupRun{run}
	slices.SortStableFunc(b.Volumes, func(x, y pve.BackupVolume) int { return y.Time.Compare(x.Time) })
	return b
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file (go test -update to accept):\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func TestGolden(t *testing.T) {
	for _, kind := range []string{Summary, Guests, Storage, Backups} {
		for _, lang := range []i18n.Lang{i18n.LangZH, i18n.LangEN} {
			for _, n := range []int{3, 300} {
				name := fmt.Sprintf("%s_%s_%d.md", kind, lang, n)
				t.Run(name, func(t *testing.T) {
					got := Render(kind, lang, lab(n), 2048)
					checkFits(t, got, 2048)
					golden(t, name, got)
				})
			}
		}
	}
}

func checkFits(t *testing.T, got string, limit int) {
	t.Helper()
	if len(got) > limit {
		t.Errorf("report is %d bytes, want at most %d", len(got), limit)
	}
	if !utf8.ValidString(got) {
		t.Error("report is not valid UTF-8")
	}
}

func TestRenderLimits(t *testing.T) {
	for _, limit := range []int{2048, 4096} {
		for _, kind := range []string{Summary, Guests, Storage, Backups} {
			t.Run(fmt.Sprintf("%s/%d", kind, limit), func(t *testing.T) {
				full := Render(kind, "zh", lab(300), 1<<20)
				got := Render(kind, "zh", lab(300), limit)
				checkFits(t, got, limit)
				// Every line shown is a whole line of the full report, or an "N more" line.
				fullLines := map[string]bool{}
				for _, l := range strings.Split(full, "\n") {
					fullLines[l] = true
				}
				for _, l := range strings.Split(got, "\n") {
					if !fullLines[l] && !strings.HasPrefix(l, "… 还有 ") {
						t.Errorf("line %q is not a whole line of the full report", l)
					}
				}
				if kind == Guests && !strings.Contains(got, "… 还有 ") {
					t.Error("300 guests fit without shortening; want a \"还有 N 项\" line")
				}
			})
		}
	}
}

func TestSummaryContent(t *testing.T) {
	got := Render(Summary, "zh", lab(3), 2048)
	for _, want := range []string{
		"**集群概览** · 2026-05-01 09:05",
		"🟢 pve1 · CPU 18% · 内存 59% · 运行时间 23 天 · 虚拟机/容器：1 运行中，1 已停止",
		"local (pve2) █████████░ 85%", // the fullest storage first
		"🔴 home · pve2 · local 存储 85%",
		"❌ vzdump 101 · pve1",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if i, j := strings.Index(got, "local (pve2)"), strings.Index(got, "local (pve1)"); i > j {
		t.Errorf("storage not fullest first:\n%s", got)
	}
	for _, not := range []string{"qmstart", "WARNINGS", "qmstop"} {
		if strings.Contains(got, not) {
			t.Errorf("summary shows %q (OK, warnings or older than 24 h):\n%s", not, got)
		}
	}
}

// fakeSource counts calls per kind of data.
type fakeSource struct {
	d     Data
	calls map[string]int
}

func (f *fakeSource) Nodes(context.Context) ([]pve.Node, map[string]error) {
	f.calls["nodes"]++
	return f.d.Nodes, nil
}
func (f *fakeSource) Guests(context.Context) ([]pve.Guest, map[string]error) {
	f.calls["guests"]++
	return f.d.Guests, map[string]error{"lab": errors.New("pve: connection refused")}
}
func (f *fakeSource) Storage(context.Context) ([]pve.Storage, map[string]error) {
	f.calls["storage"]++
	return f.d.Storage, nil
}
func (f *fakeSource) Tasks(context.Context, int) ([]pve.Task, map[string]error) {
	f.calls["tasks"]++
	return f.d.Tasks, nil
}
func (f *fakeSource) ClusterNames() []string { return []string{"home", "lab"} }

func TestGatherOneCallPerKind(t *testing.T) {
	tests := []struct {
		kind string
		want map[string]int
	}{
		{Summary, map[string]int{"nodes": 1, "guests": 1, "storage": 1, "tasks": 1}},
		{Guests, map[string]int{"nodes": 1, "guests": 1}},
		{Storage, map[string]int{"storage": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			src := &fakeSource{d: lab(300), calls: map[string]int{}}
			d := Gather(context.Background(), src, tt.kind, at, shanghai)
			if fmt.Sprint(src.calls) != fmt.Sprint(tt.want) {
				t.Errorf("calls = %v, want %v", src.calls, tt.want)
			}
			if !d.Multi {
				t.Error("Multi = false with two clusters")
			}
			got := Render(tt.kind, "en", d, 4096)
			if _, ok := tt.want["guests"]; ok && !strings.Contains(got, "Cluster lab could not be queried") {
				t.Errorf("report does not name the failed cluster:\n%s", got)
			}
		})
	}
}

func BenchmarkSummary300(b *testing.B) {
	d := lab(300)
	b.ReportAllocs()
	for b.Loop() {
		_ = Render(Summary, "zh", d, 2048)
	}
}

func BenchmarkGuests300(b *testing.B) {
	d := lab(300)
	b.ReportAllocs()
	for b.Loop() {
		_ = Render(Guests, "zh", d, 2048)
	}
}

// For 5 minutes after a node dies PVE still lists its guests with their last status
// (running); a member that sends no data is "unknown". The reports mark such guests as
// possibly stale, name the node, and count none as running; a paused VM reads as paused.
func TestStaleAndPausedGuests(t *testing.T) {
	d := lab(6)
	d.Nodes[1].Status, d.Nodes[1].HasStats = "offline", false
	d.Guests[0].Status = "paused"
	sum := Render(Summary, "zh", d, 4096)
	for _, want := range []string{"🔴 pve2 · 离线 · 虚拟机/容器 3 台，状态可能已过时，未计入运行中", "1 已暂停"} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
	guests := Render(Guests, "zh", d, 4096)
	for _, want := range []string{"节点 pve2 离线，此状态可能已过时", "⏸️ opnsense"} {
		if !strings.Contains(guests, want) {
			t.Errorf("guest report lacks %q:\n%s", want, guests)
		}
	}
	d.Nodes[1].Status = "unknown"
	sum = Render(Summary, "zh", d, 4096)
	if !strings.Contains(sum, "🟠 pve2 · 无数据") || strings.Contains(sum, "🔴 pve2") {
		t.Errorf("a silent node reads as offline:\n%s", sum)
	}
}

// A backup that succeeds after a failed run clears the failure; the summary line counts it.
func TestBackupsLaterSuccessClearsFailure(t *testing.T) {
	d := lab(3)
	d.Backup.Volumes = append([]pve.BackupVolume{{Cluster: "home", VMID: 101, Storage: "nas", Size: 3 * gib, Time: at.Add(-time.Hour)}}, d.Backup.Volumes...)
	got := Render(Backups, i18n.LangZH, d, 2048)
	if strings.Contains(got, "No space left") || !strings.Contains(got, "✅ truenas (101) · 05-01 08:05 · 3.0 GiB · nas") {
		t.Errorf("report after the retry succeeded:\n%s", got)
	}
	if sum := Render(Summary, i18n.LangZH, d, 2048); !strings.Contains(sum, "🟠 24 小时内 1 台成功，0 台失败；1 台超过 24 小时未备份，1 台从未备份") {
		t.Errorf("summary backup line:\n%s", sum)
	}
	d.Backup = nil // a source without backup data: no backup line
	if sum := Render(Summary, i18n.LangZH, d, 2048); strings.Contains(sum, "**备份**") {
		t.Errorf("summary without backup data shows a backup line:\n%s", sum)
	}
}
