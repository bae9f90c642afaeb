package pvetest

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
)

// The fake's resource history (docs: pve-features.md §4). Values are made up but shaped
// like a home lab's: a daily rhythm (busy in the evening), a slow rise of memory, a
// spike now and then, and one reboot gap per node in which the node and its guests
// report nothing. They are a pure function of the server's clock and the resource, so
// tests that fix Options.Now get the same numbers every run.

// rrdGap is how long a node's reboot gap lasts; it ends rrdGapEnd before the newest
// point, later for each further node so that the gaps of two nodes do not coincide.
const (
	rrdGap    = 40 * time.Minute
	rrdGapEnd = 5 * time.Hour
)

// SetRRDGap moves node's gap in the history to [from, to). A zero from removes it.
func (s *Server) SetRRDGap(node string, from, to time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rrdGaps == nil {
		s.rrdGaps = map[string][2]time.Time{}
	}
	s.rrdGaps[node] = [2]time.Time{from, to}
}

// rrdShape is the resolution of one timeframe: the step and the number of points.
type rrdShape struct {
	step time.Duration
	n    int
}

// rrdShapeFor copies PVE::RRD::create_rrd_data: 70 points on PVE <= 8; on PVE 9 (as of
// pve-cluster 9.0.7) 1-minute, 30-minute and 6-hour archives of 1440 points.
func (s *Server) rrdShapeFor(tf string) rrdShape {
	if !s.pve9() {
		switch tf {
		case "hour":
			return rrdShape{time.Minute, 70}
		case "day":
			return rrdShape{30 * time.Minute, 70}
		case "week":
			return rrdShape{3 * time.Hour, 70}
		case "month":
			return rrdShape{12 * time.Hour, 70}
		}
		return rrdShape{7 * 24 * time.Hour, 70}
	}
	switch tf {
	case "hour":
		return rrdShape{time.Minute, 60}
	case "day":
		return rrdShape{time.Minute, 1440}
	case "week":
		return rrdShape{30 * time.Minute, 336}
	case "month":
		return rrdShape{30 * time.Minute, 1440}
	case "year":
		return rrdShape{6 * time.Hour, 1440}
	}
	return rrdShape{7 * 24 * time.Hour, 570} // decade, nodes only
}

func (s *Server) pve9() bool { return strings.HasPrefix(s.opts.Version, "9") }

// routeRRD serves the four rrddata endpoints. None but storage is proxied to the node:
// every node holds a copy of every RRD file, so an offline node's history still answers.
func (s *Server) routeRRD(c *call, node string, rest []string) {
	switch {
	case len(rest) == 1:
		if s.check(c, "/nodes/"+node, "Sys.Audit") && s.verifyRRDParams(c, true) {
			s.handleNodeRRD(c, node)
		}
	case len(rest) == 3 && isGuestType(rest[0]):
		vmid, ok := s.vmid(c, rest[1])
		if !ok {
			return
		}
		// [unverified] whether PVE answers an unknown guest's history with the config error
		// or with old data: the fake refuses, the stricter of the two.
		if s.check(c, "/vms/"+rest[1], "VM.Audit") && s.verifyRRDParams(c, false) &&
			s.guestExists(c, node, rest[0], vmid) {
			s.handleGuestRRD(c, vmid)
		}
	case len(rest) == 3 && rest[0] == "storage":
		name := rest[1]
		s.mu.Lock()
		may := s.canLocked(c.tok, "/storage/"+name, "Datastore.Audit") || s.canLocked(c.tok, "/storage/"+name, "Datastore.AllocateSpace")
		s.mu.Unlock()
		if !may {
			s.fail(c, http.StatusForbidden, fmt.Sprintf("Permission check failed (/storage/%s, Datastore.Audit|Datastore.AllocateSpace)", name), nil)
			return
		}
		if s.reachable(c, node) && s.verifyRRDParams(c, false) {
			s.handleStorageRRD(c, node, name)
		}
	default:
		s.notImplemented(c)
	}
}

// verifyRRDParams checks timeframe (required; decade only on a PVE 9 node) and cf like
// PVE's JSONSchema validation does.
func (s *Server) verifyRRDParams(c *call, node bool) bool {
	errs := map[string]string{}
	for k := range c.params {
		if k != "timeframe" && k != "cf" && k != "node" && k != "vmid" && k != "storage" {
			errs[k] = "property is not defined in schema and the schema does not allow additional properties"
		}
	}
	enum := "hour, day, week, month, year"
	if node && s.pve9() {
		enum += ", decade"
	}
	tf := c.params.Get("timeframe")
	switch {
	case tf == "":
		errs["timeframe"] = "property is missing and it is not optional"
	case !strings.Contains(", "+enum+",", ", "+tf+","):
		errs["timeframe"] = fmt.Sprintf("value '%s' does not have a value in the enumeration '%s'", tf, enum)
	}
	if cf := c.params.Get("cf"); cf != "" && cf != "AVERAGE" && cf != "MAX" {
		errs["cf"] = fmt.Sprintf("value '%s' does not have a value in the enumeration 'AVERAGE, MAX'", cf)
	}
	if len(errs) > 0 {
		s.fail(c, http.StatusBadRequest, "Parameter verification failed.", errs)
		return false
	}
	return true
}

// rrdTimes are the bucket starts of the answer, oldest first, ending at the bucket that
// holds now.
func (s *Server) rrdTimes(tf string) []time.Time {
	sh := s.rrdShapeFor(tf)
	end := s.now().Truncate(sh.step)
	out := make([]time.Time, sh.n)
	for i := range out {
		out[i] = end.Add(-time.Duration(sh.n-1-i) * sh.step)
	}
	return out
}

// nodeGapLocked is node's gap: SetRRDGap's, or the default reboot.
func (s *Server) nodeGapLocked(node string) (from, to time.Time) {
	if g, ok := s.rrdGaps[node]; ok {
		return g[0], g[1]
	}
	idx := 1
	if n, ok := s.nodes[node]; ok {
		idx = n.index
	}
	to = s.now().Truncate(time.Minute).Add(-rrdGapEnd - time.Duration(idx-1)*3*time.Hour)
	return to.Add(-rrdGap), to
}

func inGap(t, from, to time.Time) bool { return !from.IsZero() && !t.Before(from) && t.Before(to) }

// noise is a deterministic value in [0,1) for (seed, t).
func noise(seed string, t time.Time, salt uint64) float64 {
	h := uint64(1469598103934665603)
	for i := 0; i < len(seed); i++ {
		h = (h ^ uint64(seed[i])) * 1099511628211
	}
	x := h ^ uint64(t.Unix())*0x9E3779B97F4A7C15 ^ salt*0xBF58476D1CE4E5B9
	x ^= x >> 30
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 27
	x *= 0x94D049BB133111EB
	x ^= x >> 31
	return float64(x>>11) / float64(1<<53)
}

// rhythm is 0 at 08:00 and 1 at 20:00 UTC+8 (a home lab's evening), smooth in between.
func rhythm(t time.Time) float64 {
	h := float64(t.UTC().Add(8*time.Hour).Hour()) + float64(t.Minute())/60
	return 0.5 + 0.5*math.Sin(2*math.Pi*(h-14)/24)
}

// spike reports whether the bucket at t carries a spike (about 1 in 60).
func spike(seed string, t time.Time) bool { return noise(seed, t, 7) < 1.0/60 }

// trend rises from 0 a week before now to 1 at now: memory and storage creep up. It is
// anchored at the current minute, so that two answers within a bucket are the same.
func (s *Server) trend(t time.Time) float64 {
	week := 7 * 24 * time.Hour
	f := 1 - float64(s.now().Truncate(time.Minute).Sub(t))/float64(week)
	return math.Max(0, math.Min(1, f))
}

func clamp01(v float64) float64 { return math.Max(0, math.Min(1, v)) }

// lastRowBare copies PVE before pve-cluster 9.0.7: the newest bucket, not yet filled,
// comes as {"time":…} alone.
func (s *Server) lastRowBare(rows []map[string]any, t time.Time) []map[string]any {
	if s.pve9() {
		return rows
	}
	return append(rows[:len(rows)-1], map[string]any{"time": t.Unix()})
}

func (s *Server) handleGuestRRD(c *call, vmid int) {
	tf := c.params.Get("timeframe")
	times := s.rrdTimes(tf)
	s.mu.Lock()
	g := s.guests[vmid].Guest
	from, to := s.nodeGapLocked(g.Node)
	s.mu.Unlock()
	seed := "guest/" + itoa(vmid)
	baseCPU := g.CPU
	if baseCPU <= 0 {
		baseCPU = 0.15
	}
	baseMem := 0.5
	if g.MaxMem > 0 && g.Mem > 0 {
		baseMem = float64(g.Mem) / float64(g.MaxMem)
	}
	rows := make([]map[string]any, 0, len(times))
	for _, t := range times {
		e := map[string]any{"time": t.Unix(), "maxcpu": g.MaxCPU, "maxmem": g.MaxMem, "maxdisk": g.MaxDisk, "disk": 0}
		if g.Type == "lxc" {
			e["disk"] = g.Disk
		}
		if g.Status != "running" || inGap(t, from, to) {
			rows = append(rows, e) // stopped: PVE omits the unknown values
			continue
		}
		r := rhythm(t)
		cpu := baseCPU * (0.35 + 1.1*r + 0.3*noise(seed, t, 1))
		net := 40e3 * (0.2 + 1.5*r) * (0.6 + 0.8*noise(seed, t, 2))
		disk := 120e3 * (0.3 + r) * (0.5 + noise(seed, t, 3))
		if spike(seed, t) {
			cpu, net, disk = 0.8+0.2*noise(seed, t, 4), net*8, disk*12
		}
		mem := clamp01(baseMem*(0.7+0.45*s.trend(t)) + 0.04*r)
		e["cpu"] = clamp01(cpu)
		e["mem"] = mem * float64(g.MaxMem)
		e["netin"], e["netout"] = net, net*0.35
		e["diskread"], e["diskwrite"] = disk*0.6, disk
		if s.pve9() {
			if g.Type == "qemu" {
				e["memhost"] = mem * float64(g.MaxMem) * 1.05
			}
			e["pressurecpusome"], e["pressurecpufull"] = 3*cpu, cpu
			e["pressureiosome"], e["pressureiofull"] = 0.5*r, 0.2*r
			e["pressurememorysome"], e["pressurememoryfull"] = 0.0, 0.0
		}
		rows = append(rows, e)
	}
	s.ok(c, s.lastRowBare(rows, times[len(times)-1]), nil)
}

func (s *Server) handleNodeRRD(c *call, node string) {
	tf := c.params.Get("timeframe")
	times := s.rrdTimes(tf)
	s.mu.Lock()
	n, known := s.nodes[node]
	var nd Node
	if known {
		nd = n.Node
	}
	from, to := s.nodeGapLocked(node)
	s.mu.Unlock()
	if !known {
		s.ok(c, []map[string]any{}, nil) // [unverified] no RRD file for that name
		return
	}
	seed := "node/" + node
	baseCPU := nd.CPU
	if baseCPU <= 0 {
		baseCPU = 0.2
	}
	baseMem := 0.5
	if nd.MaxMem > 0 && nd.Mem > 0 {
		baseMem = float64(nd.Mem) / float64(nd.MaxMem)
	}
	rows := make([]map[string]any, 0, len(times))
	for _, t := range times {
		e := map[string]any{"time": t.Unix()}
		if inGap(t, from, to) {
			rows = append(rows, e) // the node was down: nothing known
			continue
		}
		r := rhythm(t)
		cpu := baseCPU * (0.4 + 1.0*r + 0.3*noise(seed, t, 1))
		iowait := 0.004 + 0.01*r*noise(seed, t, 2)
		net := 150e3 * (0.2 + 1.5*r) * (0.6 + 0.8*noise(seed, t, 3))
		if spike(seed, t) {
			cpu, iowait, net = 0.75+0.2*noise(seed, t, 4), 0.08+0.1*noise(seed, t, 5), net*6
		}
		cpu = clamp01(cpu)
		mem := clamp01(baseMem*(0.75+0.35*s.trend(t)) + 0.05*r)
		e["cpu"], e["maxcpu"], e["iowait"] = cpu, nd.MaxCPU, iowait
		e["loadavg"] = cpu*float64(nd.MaxCPU)*1.1 + 2*iowait
		e["memtotal"], e["memused"] = nd.MaxMem, mem*float64(nd.MaxMem)
		e["swaptotal"], e["swapused"] = uint64(4<<30), 0.1*float64(4<<30)
		e["roottotal"], e["rootused"] = nd.MaxDisk, nd.Disk
		e["netin"], e["netout"] = net, net*0.4
		if s.pve9() {
			e["memavailable"] = (1 - mem) * float64(nd.MaxMem)
			e["arcsize"] = 0.1 * float64(nd.MaxMem)
			e["pressurecpusome"] = 4 * cpu
			e["pressureiosome"], e["pressureiofull"] = 100*iowait, 40*iowait
			e["pressurememorysome"], e["pressurememoryfull"] = 0.0, 0.0
		}
		rows = append(rows, e)
	}
	s.ok(c, s.lastRowBare(rows, times[len(times)-1]), nil)
}

func (s *Server) handleStorageRRD(c *call, node, name string) {
	tf := c.params.Get("timeframe")
	times := s.rrdTimes(tf)
	s.mu.Lock()
	var st *Storage
	for _, x := range s.storages {
		if x.Name == name && (x.Node == "" || x.Node == node) {
			st = x
			break
		}
	}
	var cp Storage
	if st != nil {
		cp = *st
	}
	s.mu.Unlock()
	if st == nil {
		s.fail(c, http.StatusInternalServerError, fmt.Sprintf("storage '%s' does not exist", name), nil) // [unverified] wording
		return
	}
	rows := make([]map[string]any, 0, len(times))
	for _, t := range times {
		// Usage grows towards today's value: 8% lower a week ago, 30% lower a year ago.
		back := float64(s.now().Truncate(time.Minute).Sub(t)) / float64(365*24*time.Hour)
		f := 1 - 0.08*(1-s.trend(t)) - 0.22*math.Min(1, back)
		rows = append(rows, map[string]any{"time": t.Unix(), "total": cp.Total, "used": f * float64(cp.Used)})
	}
	s.ok(c, s.lastRowBare(rows, times[len(times)-1]), nil)
}
