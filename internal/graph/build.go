package graph

import (
	"math"
	"time"
)

// Source is resource history as internal/pve reads it (pve.RRD implements it): bucket
// times, and one value per time for a data source, NaN where unknown.
type Source interface {
	Times() []time.Time
	Series(ds string) []float64
}

// maxPoints bounds the points per line: PVE 9 sends 1440 for a day, more than a phone
// shows; averaging them into fewer buckets keeps the picture small and quick to draw.
const maxPoints = 480

// Guest is the picture of a guest's history: CPU (% of its cores), memory (used and the
// configured size), network in/out and disk read/write.
func Guest(title string, src Source, loc *time.Location) Chart {
	times, get := sampled(src)
	return Chart{Title: title, Times: times, Loc: loc, Panels: []Panel{
		{Kind: KindCPU, Title: "CPU %", Unit: Percent, YMax: 100, Series: []Series{{Label: "cpu", Values: scale(get("cpu"), 100)}}},
		{Kind: KindMemory, Title: "Memory", Unit: Bytes, Series: []Series{
			{Label: "used", Values: get("mem")}, {Label: "max", Values: get("maxmem"), Dashed: true}}},
		{Kind: KindNet, Title: "Network", Unit: BytesPerSecond, Series: []Series{
			{Label: "in", Values: get("netin")}, {Label: "out", Values: get("netout")}}},
		{Kind: KindDisk, Title: "Disk IO", Unit: BytesPerSecond, Series: []Series{
			{Label: "read", Values: get("diskread")}, {Label: "write", Values: get("diskwrite")}}},
	}}
}

// Node is the picture of a node's history: CPU and IO wait, memory, network and load.
func Node(title string, src Source, loc *time.Location) Chart {
	times, get := sampled(src)
	return Chart{Title: title, Times: times, Loc: loc, Panels: []Panel{
		{Kind: KindCPU, Title: "CPU %", Unit: Percent, YMax: 100, Series: []Series{
			{Label: "cpu", Values: scale(get("cpu"), 100)}, {Label: "iowait", Values: scale(get("iowait"), 100)}}},
		{Kind: KindMemory, Title: "Memory", Unit: Bytes, Series: []Series{
			{Label: "used", Values: get("memused")}, {Label: "max", Values: get("memtotal"), Dashed: true}}},
		{Kind: KindNet, Title: "Network", Unit: BytesPerSecond, Series: []Series{
			{Label: "in", Values: get("netin")}, {Label: "out", Values: get("netout")}}},
		{Kind: KindLoad, Title: "Load", Unit: Plain, Series: []Series{{Label: "load", Values: get("loadavg")}}},
	}}
}

// Storage is the picture of a storage's usage over time, with its size.
func Storage(title string, src Source, loc *time.Location) Chart {
	times, get := sampled(src)
	return Chart{Title: title, Times: times, Loc: loc, Panels: []Panel{
		{Kind: KindStorage, Title: "Usage", Unit: Bytes, Series: []Series{
			{Label: "used", Values: get("used")}, {Label: "total", Values: get("total"), Dashed: true}}},
	}}
}

// Summary is the cluster's CPU and memory from its nodes' histories: CPU weighted by
// each node's cores, memory as all used over all installed. The first node's times lead;
// a node unknown at a time is left out of that time, and a time no node knows is a gap.
func Summary(title string, nodes []Source, loc *time.Location) Chart {
	c := Chart{Title: title, Loc: loc}
	if len(nodes) == 0 {
		return c
	}
	times := nodes[0].Times()
	cpu, mem := make([]float64, len(times)), make([]float64, len(times))
	type acc struct{ busy, cores, used, total float64 }
	sums := make([]acc, len(times))
	index := make(map[int64]int, len(times))
	for i, t := range times {
		index[t.Unix()] = i
	}
	for _, n := range nodes {
		ts := n.Times()
		c, mc, mu, mt := n.Series("cpu"), n.Series("maxcpu"), n.Series("memused"), n.Series("memtotal")
		for j, t := range ts {
			i, ok := index[t.Unix()]
			if !ok {
				continue
			}
			if !math.IsNaN(c[j]) && !math.IsNaN(mc[j]) {
				sums[i].busy += c[j] * mc[j]
				sums[i].cores += mc[j]
			}
			if !math.IsNaN(mu[j]) && !math.IsNaN(mt[j]) {
				sums[i].used += mu[j]
				sums[i].total += mt[j]
			}
		}
	}
	for i, s := range sums {
		cpu[i], mem[i] = math.NaN(), math.NaN()
		if s.cores > 0 {
			cpu[i] = 100 * s.busy / s.cores
		}
		if s.total > 0 {
			mem[i] = 100 * s.used / s.total
		}
	}
	times, vals := downsample(times, [][]float64{cpu, mem}, maxPoints)
	c.Times = times
	c.Panels = []Panel{
		{Kind: KindCPU, Title: "Cluster CPU %", Unit: Percent, YMax: 100, Series: []Series{{Label: "cpu", Values: vals[0]}}},
		{Kind: KindMemory, Title: "Cluster memory %", Unit: Percent, YMax: 100, Series: []Series{{Label: "used", Values: vals[1]}}},
	}
	return c
}

// sampled reads src once and returns its times, downsampled, and a getter for one data
// source on those times.
func sampled(src Source) ([]time.Time, func(ds string) []float64) {
	times := src.Times()
	n := len(times)
	k := 1
	if n > maxPoints {
		k = (n + maxPoints - 1) / maxPoints
	}
	out, _ := downsample(times, nil, maxPoints)
	return out, func(ds string) []float64 {
		_, v := downsampleK(times, [][]float64{src.Series(ds)}, k)
		return v[0]
	}
}

func downsample(times []time.Time, series [][]float64, max int) ([]time.Time, [][]float64) {
	k := 1
	if len(times) > max {
		k = (len(times) + max - 1) / max
	}
	return downsampleK(times, series, k)
}

// downsampleK averages every k points into one, at the first point's time. A bucket with
// no known value stays unknown.
func downsampleK(times []time.Time, series [][]float64, k int) ([]time.Time, [][]float64) {
	if k <= 1 {
		return times, series
	}
	n := (len(times) + k - 1) / k
	ts := make([]time.Time, n)
	for i := range ts {
		ts[i] = times[i*k]
	}
	out := make([][]float64, len(series))
	for si, s := range series {
		o := make([]float64, n)
		for i := range o {
			sum, cnt := 0.0, 0
			for j := i * k; j < min((i+1)*k, len(s)); j++ {
				if !math.IsNaN(s[j]) {
					sum += s[j]
					cnt++
				}
			}
			o[i] = math.NaN()
			if cnt > 0 {
				o[i] = sum / float64(cnt)
			}
		}
		out[si] = o
	}
	return ts, out
}

func scale(v []float64, f float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = x * f
	}
	return out
}
