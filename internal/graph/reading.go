package graph

import (
	"math"
	"strings"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
)

// Reading puts a chart into one line of words for the message next to it, e.g.
// "内存 7 天内从 41% 升到 88%，CPU 平均 12%，峰值 93%（12-01 21:30）". It speaks of the
// usage panel (memory or storage), CPU and a gap, whichever the chart has.
func Reading(lang i18n.Lang, c Chart) string {
	period := i18n.T(lang, "graph_period_"+periodOf(c.Times))
	loc := c.Loc
	if loc == nil {
		loc = time.UTC
	}
	var parts []string
	known := false
	for _, p := range c.Panels {
		if p.Kind != KindMemory && p.Kind != KindStorage {
			continue
		}
		pct := usagePercent(p)
		first, last := firstLast(pct)
		if first < 0 {
			continue
		}
		known = true
		what := i18n.T(lang, "graph_mem")
		if p.Kind == KindStorage {
			what = i18n.T(lang, "graph_storage")
		}
		a, b := pct[first], pct[last]
		key := "graph_steady"
		switch {
		case b-a >= 3:
			key = "graph_rose"
		case a-b >= 3:
			key = "graph_fell"
		}
		if key == "graph_steady" {
			parts = append(parts, i18n.T(lang, key, what, period, pctText(b)))
		} else {
			parts = append(parts, i18n.T(lang, key, what, period, pctText(a), pctText(b)))
		}
		break
	}
	gaps := 0
	for _, p := range c.Panels {
		if p.Kind != KindCPU || len(p.Series) == 0 {
			continue
		}
		v := p.Series[0].Values
		first, last := firstLast(v)
		if first < 0 {
			break
		}
		known = true
		sum, n, peak := 0.0, 0, first
		for i := first; i <= last; i++ {
			if math.IsNaN(v[i]) {
				gaps++
				continue
			}
			sum += v[i]
			n++
			if v[i] > v[peak] {
				peak = i
			}
		}
		format := "15:04"
		if c.Times[last].Sub(c.Times[first]) > 26*time.Hour {
			format = "01-02 15:04"
		}
		parts = append(parts, i18n.T(lang, "graph_cpu_peak", pctText(sum/float64(n)), pctText(v[peak]), c.Times[peak].In(loc).Format(format)))
		break
	}
	if !known {
		return i18n.T(lang, "graph_no_data", period)
	}
	if gaps > 0 {
		d := time.Duration(gaps) * step(c.Times)
		parts = append(parts, i18n.T(lang, "graph_gap", i18n.Duration(lang, d)))
	}
	return strings.Join(parts, i18n.T(lang, "graph_sep"))
}

// periodOf names the span of times as a timeframe.
func periodOf(ts []time.Time) string {
	if len(ts) < 2 {
		return "hour"
	}
	span := ts[len(ts)-1].Sub(ts[0])
	switch {
	case span <= 90*time.Minute:
		return "hour"
	case span <= 36*time.Hour:
		return "day"
	case span <= 10*24*time.Hour:
		return "week"
	case span <= 60*24*time.Hour:
		return "month"
	}
	return "year"
}

// usagePercent is a usage panel as percent: its only percent series, or used over max.
func usagePercent(p Panel) []float64 {
	if len(p.Series) == 0 {
		return nil
	}
	if p.Unit == Percent || len(p.Series) < 2 {
		if p.Unit != Percent {
			return nil
		}
		return p.Series[0].Values
	}
	used, max := p.Series[0].Values, p.Series[1].Values
	out := make([]float64, len(used))
	for i := range used {
		out[i] = math.NaN()
		if i < len(max) && max[i] > 0 && !math.IsNaN(used[i]) {
			out[i] = 100 * used[i] / max[i]
		}
	}
	return out
}

func firstLast(v []float64) (int, int) {
	first, last := -1, -1
	for i, x := range v {
		if math.IsNaN(x) {
			continue
		}
		if first < 0 {
			first = i
		}
		last = i
	}
	return first, last
}

func pctText(v float64) string { return Format(Percent, math.Round(v)) }
