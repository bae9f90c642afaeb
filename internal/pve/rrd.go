package pve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Timeframe is how far back an rrddata answer reaches (docs: pve-features.md §4.1). The
// guest and storage endpoints take only these five; PVE 9's node-only "decade" is not
// offered, so one value works on every endpoint and version.
type Timeframe string

// The timeframes every rrddata endpoint accepts.
const (
	TimeframeHour  Timeframe = "hour"
	TimeframeDay   Timeframe = "day"
	TimeframeWeek  Timeframe = "week"
	TimeframeMonth Timeframe = "month"
	TimeframeYear  Timeframe = "year"
)

// Span is the time a timeframe covers.
func (t Timeframe) Span() time.Duration {
	switch t {
	case TimeframeHour:
		return time.Hour
	case TimeframeWeek:
		return 7 * 24 * time.Hour
	case TimeframeMonth:
		return 30 * 24 * time.Hour
	case TimeframeYear:
		return 365 * 24 * time.Hour
	}
	return 24 * time.Hour
}

// Valid reports whether t is one of the five timeframes.
func (t Timeframe) Valid() bool {
	switch t {
	case TimeframeHour, TimeframeDay, TimeframeWeek, TimeframeMonth, TimeframeYear:
		return true
	}
	return false
}

// CF is the RRD consolidation function: the average of a bucket or its maximum.
type CF string

// The consolidation functions PVE offers.
const (
	CFAverage CF = "AVERAGE"
	CFMax     CF = "MAX"
)

// RRD is one rrddata answer: points in time order, each carrying the data sources PVE
// knew for that bucket. The step between points may change within one answer (PVE 9
// joins pre-upgrade files at their old resolution), so charts use Time, not an index.
type RRD struct {
	Points []RRDPoint
}

// RRDPoint is one bucket. Values holds only what PVE sent: an unknown value (node down,
// guest stopped) is absent, never zero, and Value reports it as NaN.
type RRDPoint struct {
	Time   time.Time
	Values map[string]float64
}

// Value is the data source ds of the bucket, NaN when PVE did not know it.
func (p RRDPoint) Value(ds string) float64 {
	if v, ok := p.Values[ds]; ok {
		return v
	}
	return math.NaN()
}

// Series is ds over all points, NaN where unknown.
func (r RRD) Series(ds string) []float64 {
	out := make([]float64, len(r.Points))
	for i, p := range r.Points {
		out[i] = p.Value(ds)
	}
	return out
}

// Times are the points' bucket starts.
func (r RRD) Times() []time.Time {
	out := make([]time.Time, len(r.Points))
	for i, p := range r.Points {
		out[i] = p.Time
	}
	return out
}

// GuestRRD reads a guest's history (GET /nodes/{node}/{qemu|lxc}/{vmid}/rrddata; VM.Audit).
// Data sources: cpu (fraction of maxcpu), maxcpu, mem, maxmem, disk, maxdisk, netin,
// netout, diskread, diskwrite (bytes per second), and on PVE 9 memhost and pressure*.
func (c *Client) GuestRRD(ctx context.Context, g Guest, tf Timeframe, cf CF) (RRD, error) {
	op := "history " + strconv.Itoa(g.VMID)
	p, err := guestPath(g)
	if err != nil {
		return RRD{}, &Error{Kind: KindPVE, Cluster: c.name, Op: op, Reason: err.Error()}
	}
	return c.rrd(ctx, p+"/rrddata", tf, cf, op)
}

// NodeRRD reads a node's history (GET /nodes/{node}/rrddata; Sys.Audit). Data sources:
// cpu, maxcpu, iowait (fractions), loadavg, memused, memtotal, swapused, swaptotal,
// rootused, roottotal, netin, netout; PVE 9 adds memavailable, arcsize and pressure*.
func (c *Client) NodeRRD(ctx context.Context, node string, tf Timeframe, cf CF) (RRD, error) {
	return c.rrd(ctx, "/nodes/"+url.PathEscape(node)+"/rrddata", tf, cf, "history of node "+node)
}

// StorageRRD reads a storage's history on one node (GET
// /nodes/{node}/storage/{storage}/rrddata; Datastore.Audit). Data sources: used, total.
// PVE proxies this call to node, so an offline node answers 595.
func (c *Client) StorageRRD(ctx context.Context, node, storage string, tf Timeframe, cf CF) (RRD, error) {
	p := "/nodes/" + url.PathEscape(node) + "/storage/" + url.PathEscape(storage) + "/rrddata"
	return c.rrd(ctx, p, tf, cf, "history of storage "+storage)
}

func (c *Client) rrd(ctx context.Context, path string, tf Timeframe, cf CF, op string) (RRD, error) {
	if !tf.Valid() {
		return RRD{}, &Error{Kind: KindPVE, Cluster: c.name, Op: op, Reason: "unknown timeframe " + strconv.Quote(string(tf))}
	}
	if cf == "" {
		cf = CFAverage
	}
	body, err := c.get(ctx, path, url.Values{"timeframe": {string(tf)}, "cf": {string(cf)}}, op)
	if err != nil {
		return RRD{}, err
	}
	r, err := decodeRRD(body)
	if err != nil {
		return RRD{}, c.decodeErr(op, err)
	}
	return r, nil
}

// decodeRRD reads {"data":[{"time":…, ds:…}, …]} as PVE 8 and 9 send it. A row without a
// usable time is dropped; a value that is not a finite number is left out (unknown), so
// that a gap stays a gap. Rows are sorted by time.
func decodeRRD(body []byte) (RRD, error) {
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return RRD{}, err
	}
	if d := bytes.TrimSpace(env.Data); len(d) == 0 || d[0] != '[' {
		return RRD{}, errNoData
	}
	rows, _, err := decodeList[map[string]json.RawMessage](body)
	if err != nil {
		return RRD{}, err
	}
	out := RRD{Points: make([]RRDPoint, 0, len(rows))}
	for _, row := range rows {
		t, ok := rrdNumber(row["time"])
		if !ok || t <= 0 || t > 1<<40 {
			continue
		}
		p := RRDPoint{Time: time.Unix(int64(t), 0), Values: make(map[string]float64, len(row))}
		for k, raw := range row {
			if k == "time" {
				continue
			}
			if v, ok := rrdNumber(raw); ok {
				p.Values[k] = v
			}
		}
		out.Points = append(out.Points, p)
	}
	if len(rows) > 0 && len(out.Points) == 0 {
		return RRD{}, errors.New("no row has a time")
	}
	slices.SortStableFunc(out.Points, func(a, b RRDPoint) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// rrdNumber reads a JSON number or numeric string; null, NaN and anything else are
// unknown (false), unlike flexNum, which reads them as zero.
func rrdNumber(raw json.RawMessage) (float64, bool) {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 || b[0] == 'n' || b[0] == '{' || b[0] == '[' || b[0] == 't' || b[0] == 'f' {
		return 0, false
	}
	if b[0] == '"' {
		var s string
		if json.Unmarshal(b, &s) != nil {
			return 0, false
		}
		b = []byte(s)
	}
	v, err := strconv.ParseFloat(string(bytes.TrimSpace(b)), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// GuestRRD reads g's history from its cluster.
func (f *Fleet) GuestRRD(ctx context.Context, g Guest, tf Timeframe, cf CF) (RRD, error) {
	c, err := f.clientFor(g, "history")
	if err != nil {
		return RRD{}, err
	}
	return c.GuestRRD(ctx, g, tf, cf)
}

// NodeRRD reads n's history from its cluster.
func (f *Fleet) NodeRRD(ctx context.Context, n Node, tf Timeframe, cf CF) (RRD, error) {
	c, err := f.clientFor(Guest{Cluster: n.Cluster}, "history")
	if err != nil {
		return RRD{}, err
	}
	return c.NodeRRD(ctx, n.Name, tf, cf)
}

// StorageRRD reads s's history on s.Node from its cluster.
func (f *Fleet) StorageRRD(ctx context.Context, s Storage, tf Timeframe, cf CF) (RRD, error) {
	c, err := f.clientFor(Guest{Cluster: s.Cluster}, "history")
	if err != nil {
		return RRD{}, err
	}
	return c.StorageRRD(ctx, s.Node, s.Name, tf, cf)
}
