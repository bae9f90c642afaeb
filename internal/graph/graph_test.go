package graph

import (
	"bytes"
	"flag"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot/plotter"

	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
)

var update = flag.Bool("update", false, "rewrite the golden PNGs in testdata/")

var cst = time.FixedZone("UTC+8", 8*3600)

// end is a fixed "now" so that pictures do not depend on the day the test runs.
var end = time.Date(2026, 12, 2, 10, 0, 0, 0, cst)

// fakeSource is history made by a function of time, like pvetest's but without HTTP.
type fakeSource struct {
	times []time.Time
	ds    map[string][]float64
}

func (f fakeSource) Times() []time.Time { return f.times }
func (f fakeSource) Series(ds string) []float64 {
	if v, ok := f.ds[ds]; ok {
		return v
	}
	out := make([]float64, len(f.times))
	for i := range out {
		out[i] = math.NaN()
	}
	return out
}

// history makes n points of step ending at end; gap (if set) blanks [gapFrom, gapTo).
func history(n int, step time.Duration, gapFrom, gapTo time.Time, f func(t time.Time, i int) map[string]float64) fakeSource {
	src := fakeSource{ds: map[string][]float64{}}
	for i := 0; i < n; i++ {
		t := end.Add(-time.Duration(n-1-i) * step)
		src.times = append(src.times, t)
		vals := f(t, i)
		blank := !gapFrom.IsZero() && !t.Before(gapFrom) && t.Before(gapTo)
		for k, v := range vals {
			if blank && k != "maxmem" && k != "maxcpu" {
				v = math.NaN()
			}
			src.ds[k] = append(src.ds[k], v)
		}
	}
	return src
}

func evening(t time.Time) float64 {
	h := float64(t.In(cst).Hour()) + float64(t.Minute())/60
	return 0.5 + 0.5*math.Sin(2*math.Pi*(h-14)/24)
}

func guestDay() fakeSource {
	return history(1440, time.Minute, time.Time{}, time.Time{}, func(t time.Time, i int) map[string]float64 {
		r := evening(t)
		cpu := 0.1 + 0.3*r + 0.02*math.Sin(float64(i))
		if i%97 == 0 {
			cpu = 0.93
		}
		return map[string]float64{
			"cpu": cpu, "maxcpu": 2, "maxmem": 4 << 30, "mem": float64(4<<30) * (0.41 + 0.47*float64(i)/1439),
			"netin": 50e3 * (0.2 + r), "netout": 20e3 * (0.2 + r), "diskread": 80e3 * r, "diskwrite": 200e3 * (0.1 + r),
		}
	})
}

func nodeWeekWithGap() fakeSource {
	return history(336, 30*time.Minute, end.Add(-50*time.Hour), end.Add(-44*time.Hour), func(t time.Time, i int) map[string]float64 {
		r := evening(t)
		return map[string]float64{
			"cpu": 0.15 + 0.4*r, "iowait": 0.01 + 0.03*r, "maxcpu": 8, "loadavg": 1 + 4*r,
			"memused": float64(32<<30) * (0.5 + 0.1*r), "memtotal": 32 << 30, "netin": 200e3 * r, "netout": 80e3 * r,
		}
	})
}

func summaryDay() []Source {
	a := history(1440, time.Minute, time.Time{}, time.Time{}, func(t time.Time, i int) map[string]float64 {
		return map[string]float64{"cpu": 0.2 + 0.5*evening(t), "maxcpu": 8, "memused": 20 << 30, "memtotal": 32 << 30}
	})
	b := history(1440, time.Minute, end.Add(-6*time.Hour), end.Add(-5*time.Hour), func(t time.Time, i int) map[string]float64 {
		return map[string]float64{"cpu": 0.1, "maxcpu": 4, "memused": 4 << 30, "memtotal": 16 << 30}
	})
	return []Source{a, b}
}

func goldenCharts() map[string]Chart {
	return map[string]Chart{
		"guest_day":     Guest("homeassistant (101)  12-01 10:00 - 12-02 10:00 UTC+8", guestDay(), cst),
		"node_week_gap": Node("pve1  11-25 - 12-02 UTC+8", nodeWeekWithGap(), cst),
		"summary_day":   Summary("homelab  12-01 10:00 - 12-02 10:00 UTC+8", summaryDay(), cst),
	}
}

// The golden pictures are compared by decoded pixels, not bytes: another zlib or a
// rounding change in the rasteriser must not fail the test, a moved or missing line must.
func TestGolden(t *testing.T) {
	for name, c := range goldenCharts() {
		t.Run(name, func(t *testing.T) {
			png1, err := Render(c)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", name+".png")
			if *update {
				if err := os.WriteFile(path, png1, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			got := decode(t, png1)
			w := decode(t, want)
			if got.Bounds() != w.Bounds() {
				t.Fatalf("size %v, want %v", got.Bounds(), w.Bounds())
			}
			if frac := differing(got, w); frac > 0.0005 {
				t.Errorf("%.2f%% of pixels differ from %s (tolerance 0.05%%); look at the picture and run -update if it is right", 100*frac, path)
			}
		})
	}
}

// The tolerance is not so wide that a real change passes: a picture without the gap
// differs from the golden one.
func TestGoldenCatchesAChange(t *testing.T) {
	nogap := history(336, 30*time.Minute, time.Time{}, time.Time{}, func(t time.Time, i int) map[string]float64 {
		r := evening(t)
		return map[string]float64{
			"cpu": 0.15 + 0.4*r, "iowait": 0.01 + 0.03*r, "maxcpu": 8, "loadavg": 1 + 4*r,
			"memused": float64(32<<30) * (0.5 + 0.1*r), "memtotal": 32 << 30, "netin": 200e3 * r, "netout": 80e3 * r,
		}
	})
	b, err := Render(Node("pve1  11-25 - 12-02 UTC+8", nogap, cst))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join("testdata", "node_week_gap.png"))
	if err != nil {
		t.Fatal(err)
	}
	if frac := differing(decode(t, b), decode(t, want)); frac <= 0.0005 {
		t.Errorf("filling the gap changed only %.3f%% of pixels: the golden test would not notice", 100*frac)
	}
}

func decode(t *testing.T, b []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// differing is the share of pixels whose colour differs by more than a small step in any
// channel.
func differing(a, b image.Image) float64 {
	r := a.Bounds()
	n := 0
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			if absDiff(r1, r2) > 0x3000 || absDiff(g1, g2) > 0x3000 || absDiff(b1, b2) > 0x3000 {
				n++
			}
		}
	}
	return float64(n) / float64(r.Dx()*r.Dy())
}

func absDiff(a, b uint32) uint32 {
	if a > b {
		return a - b
	}
	return b - a
}

// A picture for a phone: about 1000×700 px and under 150 KB, for the busiest shapes
// (PVE 9's 1440-point day, a week with a gap).
func TestSizeBudget(t *testing.T) {
	for name, c := range goldenCharts() {
		b, err := Render(c)
		if err != nil {
			t.Fatal(err)
		}
		img := decode(t, b)
		if img.Bounds().Dx() != 1000 || img.Bounds().Dy() != 700 {
			t.Errorf("%s: %v, want 1000×700", name, img.Bounds())
		}
		if len(b) >= 150<<10 {
			t.Errorf("%s: %d bytes, want < 150 KB", name, len(b))
		}
		t.Logf("%s: %d bytes", name, len(b))
	}
}

func TestSegmentsKeepGaps(t *testing.T) {
	ts := []time.Time{end, end.Add(time.Minute), end.Add(2 * time.Minute), end.Add(3 * time.Minute), end.Add(10 * time.Minute), end.Add(11 * time.Minute)}
	nan := math.NaN()
	segs := segments(ts, []float64{1, 2, nan, 4, 5, 6}, time.Minute)
	// [1 2] | NaN | [4] (a dash) | jump of 7 min | [5 6]
	if len(segs) != 3 || len(segs[0]) != 2 || len(segs[1]) != 2 || len(segs[2]) != 2 {
		t.Fatalf("segments = %v, want three pieces", segs)
	}
	for _, s := range segs {
		for _, p := range s {
			if p.Y == 0 {
				t.Errorf("a gap became a zero: %v", segs)
			}
		}
	}
}

// PVE 9 joins old 3-hourly history with new 30-minute history in one answer: the change of
// step is no gap, a missing stretch of the finer part is.
func TestSegmentsAcrossAChangeOfStep(t *testing.T) {
	var ts []time.Time
	var vals []float64
	at := end.Add(-48 * time.Hour)
	for range 8 { // 3-hourly, old file
		ts, vals = append(ts, at), append(vals, 1)
		at = at.Add(3 * time.Hour)
	}
	for i := range 40 { // 30-minute, new file, with a 4-hour hole after 20 points
		if i == 20 {
			at = at.Add(4 * time.Hour)
		}
		ts, vals = append(ts, at), append(vals, 2)
		at = at.Add(30 * time.Minute)
	}
	segs := segments(ts, vals, step(ts))
	if len(segs) != 2 || len(segs[0]) != 28 || len(segs[1]) != 20 {
		t.Fatalf("segments of %d, want the old and new history joined (28) and the part after the hole (20)", lens(segs))
	}
}

func lens(segs []plotter.XYs) []int {
	var out []int
	for _, s := range segs {
		out = append(out, len(s))
	}
	return out
}

func TestReading(t *testing.T) {
	tests := []struct {
		name string
		c    Chart
		lang i18n.Lang
		want string
	}{
		{"guest zh", Guest("g", guestDay(), cst), i18n.LangZH, "内存 24 小时内从 41% 升到 88%，CPU 平均 26%，峰值 57%（21:19）"},
		{"guest en", Guest("g", guestDay(), cst), i18n.LangEN, "Memory rose from 41% to 88% in 24 hours; CPU averaged 26%, peak 57% (21:19)"},
		{"node gap zh", Node("n", nodeWeekWithGap(), cst), i18n.LangZH, ""},
		{"summary en", Summary("s", summaryDay(), cst), i18n.LangEN, ""},
		{"stopped", Guest("g", history(60, time.Minute, end.Add(-2*time.Hour), end.Add(time.Hour), func(time.Time, int) map[string]float64 {
			return map[string]float64{"cpu": 0, "maxmem": 1 << 30, "mem": 0}
		}), cst), i18n.LangZH, "1 小时内没有数据（已停止或节点离线）"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Reading(tt.lang, tt.c)
			if tt.want != "" && got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
			t.Log(got)
		})
	}
}

func TestFormat(t *testing.T) {
	tests := []struct {
		u    Unit
		v    float64
		want string
	}{
		{Percent, 42, "42%"}, {Percent, 2.5, "2.5%"}, {Bytes, 3.5 * (1 << 30), "3.5G"},
		{BytesPerSecond, 120 << 10, "120K/s"}, {Bytes, 0, "0B"}, {Plain, 1.25, "1.2"},
	}
	for _, tt := range tests {
		if got := Format(tt.u, tt.v); got != tt.want {
			t.Errorf("Format(%v, %v) = %q, want %q", tt.u, tt.v, got, tt.want)
		}
	}
	if _, err := Render(Chart{}); err == nil {
		t.Error("empty chart: want an error")
	}
}

// BenchmarkRenderGuestDay draws a PVE 9 day (1440 points) for a guest; see
// docs/benchmarks.md.
func BenchmarkRenderGuestDay(b *testing.B) {
	src := guestDay()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(Guest("homeassistant (101)", src, cst)); err != nil {
			b.Fatal(err)
		}
	}
}

func TestTitleAndTicks(t *testing.T) {
	ts := []time.Time{end.Add(-24 * time.Hour), end}
	if got, want := Title("truenas (101)", ts, cst), "truenas (101)   12-01 10:00 - 12-02 10:00 UTC+8"; got != want {
		t.Errorf("Title = %q, want %q", got, want)
	}
	india := time.FixedZone("IST", 5*3600+1800)
	if got := Title("n", ts, india); !strings.HasSuffix(got, "UTC+05:30") {
		t.Errorf("Title in India = %q, want the offset +05:30", got)
	}
	// A day and a half of 3-hourly ticks: clock times, the date at midnight, never the
	// same date twice in a row.
	ticks := timeTicks{loc: cst, labels: true}.Ticks(float64(end.Add(-35*time.Hour).Unix()), float64(end.Unix()))
	var labels []string
	for _, tk := range ticks {
		labels = append(labels, tk.Label)
	}
	joined := strings.Join(labels, " ")
	if !strings.Contains(joined, "12-02") || !strings.Contains(joined, "04:00") || strings.Count(joined, "12-01") > 1 {
		t.Errorf("tick labels = %v, want clock times and one date per midnight", labels)
	}
}
