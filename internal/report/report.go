// Package report renders the scheduled status reports (summary, guests, storage, backups) as
// markdown for group chats, within the byte limit of each kind of target: long
// sections are shortened with "… 还有 N 项" / "… N more", never by cutting a line.
// Data is gathered with one PVE call per kind of data, never one per guest.
package report

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
)

// Kinds of report.
const (
	Summary = "summary"
	Guests  = "guests"
	Storage = "storage"
)

// Source is the PVE side a report reads; *pve.Fleet implements it.
type Source interface {
	Nodes(ctx context.Context) ([]pve.Node, map[string]error)
	Guests(ctx context.Context) ([]pve.Guest, map[string]error)
	Storage(ctx context.Context) ([]pve.Storage, map[string]error)
	Tasks(ctx context.Context, limit int) ([]pve.Task, map[string]error)
	ClusterNames() []string
}

// Data is everything a report shows.
type Data struct {
	Now     time.Time
	Loc     *time.Location // times are shown in it (UTC when nil)
	Multi   bool           // several clusters: names are shown as cluster/name
	Nodes   []pve.Node
	Guests  []pve.Guest
	Storage []pve.Storage
	Tasks   []pve.Task       // recent tasks; the failed ones of the last 24 h are shown
	Failed  map[string]error // clusters that could not be read
	Firing  []string         // alert lines firing now (summary only)
	// Backup is the backup state (backups report; the summary's backup line); nil when
	// the source cannot read backups.
	Backup *BackupData
}

// taskLimit is how many recent tasks per cluster a summary reads.
const taskLimit = 200

// Gather reads what kind needs: one Nodes, Guests, Storage and Tasks call at most.
func Gather(ctx context.Context, src Source, kind string, now time.Time, loc *time.Location) Data {
	d := Data{Now: now, Loc: loc, Multi: len(src.ClusterNames()) > 1, Failed: map[string]error{}}
	merge := func(errs map[string]error) {
		for k, v := range errs {
			if _, ok := d.Failed[k]; !ok {
				d.Failed[k] = v
			}
		}
	}
	var errs map[string]error
	if kind == Summary || kind == Guests {
		d.Nodes, errs = src.Nodes(ctx)
		merge(errs)
		d.Guests, errs = src.Guests(ctx)
		merge(errs)
	}
	if kind == Summary || kind == Storage {
		d.Storage, errs = src.Storage(ctx)
		merge(errs)
	}
	if kind == Summary {
		d.Tasks, errs = src.Tasks(ctx, taskLimit)
		merge(errs)
	}
	if kind == Backups {
		d.Guests, errs = src.Guests(ctx)
		merge(errs)
	}
	if bs, ok := src.(BackupSource); ok && (kind == Summary || kind == Backups) {
		d.Backup = gatherBackups(ctx, bs, now, merge)
	}
	return d
}

// section is a heading and its lines; lines past keep are replaced by "N more".
type section struct {
	head  string
	lines []string
	empty string // shown when lines is empty
	keep  int    // lines kept (len(lines) until shortened)
	fixed bool   // never shortened
}

// Render renders a report of kind in lang ("zh" or "en") as markdown of at most limit
// bytes.
func Render(kind string, lang i18n.Lang, d Data, limit int) string {
	if d.Loc == nil {
		d.Loc = time.UTC
	}
	var secs []*section
	title := i18n.T(lang, "title_"+kind)
	switch kind {
	case Guests:
		secs = guestSections(lang, d)
	case Storage:
		secs = []*section{{lines: storageLines(lang, d.Storage), empty: i18n.T(lang, "storage_empty")}}
	case Backups:
		if d.Backup == nil {
			d.Backup = &BackupData{}
		}
		secs = backupSections(lang, d)
	default:
		title = i18n.T(lang, "title_summary")
		secs = []*section{
			{head: i18n.T(lang, "h_nodes"), lines: nodeLines(lang, d)},
			{head: i18n.T(lang, "h_storage"), lines: storageLines(lang, d.Storage), empty: i18n.T(lang, "storage_empty")},
			{head: i18n.T(lang, "h_alerts"), lines: d.Firing, empty: i18n.T(lang, "no_alerts")},
			{head: i18n.T(lang, "h_tasks"), lines: failedTasks(d), empty: i18n.T(lang, "no_failed")},
		}
		if d.Backup != nil {
			secs = append(secs, &section{head: i18n.T(lang, "h_backups"), lines: []string{backupLine(lang, d)}, fixed: true})
		}
	}
	header := "**" + title + "** · " + i18n.NewZone(d.Loc).DateTime(d.Now)
	var tail []string
	for _, c := range sortedKeys(d.Failed) {
		tail = append(tail, i18n.T(lang, "cluster_failed", c, shortErr(d.Failed[c])))
	}
	for _, s := range secs {
		s.keep = len(s.lines)
	}
	return fit(lang, header, secs, tail, limit)
}

// fit writes the sections, shortening the longest ones line by line until the whole
// fits in limit bytes.
func fit(lang i18n.Lang, header string, secs []*section, tail []string, limit int) string {
	size := func() int {
		n := len(header)
		for _, s := range secs {
			n += s.size(lang)
		}
		for _, t := range tail {
			n += 1 + len(t)
		}
		return n
	}
	total := size()
	for total > limit {
		var big *section
		for _, s := range secs {
			if !s.fixed && s.keep > 1 && (big == nil || s.keep > big.keep) {
				big = s
			}
		}
		if big == nil {
			break // nothing left to shorten; the client cuts at a line end
		}
		before := big.size(lang)
		big.keep--
		total += big.size(lang) - before
	}
	var b strings.Builder
	b.Grow(total)
	b.WriteString(header)
	for _, s := range secs {
		s.write(&b, lang)
	}
	for _, t := range tail {
		b.WriteByte('\n')
		b.WriteString(t)
	}
	return b.String()
}

func (s *section) size(lang i18n.Lang) int {
	n := 0
	if s.head != "" {
		n += 1 + len(s.head) + 4
	}
	if len(s.lines) == 0 {
		if s.empty != "" {
			n += 1 + len(s.empty)
		}
		return n
	}
	for _, l := range s.lines[:s.keep] {
		n += 1 + len(l)
	}
	if s.keep < len(s.lines) {
		n += 1 + len(i18n.T(lang, "n_more", len(s.lines)-s.keep))
	}
	return n
}

func (s *section) write(b *strings.Builder, lang i18n.Lang) {
	if s.head != "" {
		b.WriteString("\n**")
		b.WriteString(s.head)
		b.WriteString("**")
	}
	if len(s.lines) == 0 {
		if s.empty != "" {
			b.WriteByte('\n')
			b.WriteString(s.empty)
		}
		return
	}
	for _, l := range s.lines[:s.keep] {
		b.WriteByte('\n')
		b.WriteString(l)
	}
	if s.keep < len(s.lines) {
		b.WriteByte('\n')
		b.WriteString(i18n.T(lang, "n_more", len(s.lines)-s.keep))
	}
}

type counts struct{ run, stop, paused, stale int }

// guestCounts counts per node; a guest of a node that is down counts as stale only (its
// last state in /cluster/resources may be minutes old).
func guestCounts(gs []pve.Guest, down map[string]string) map[string]*counts {
	per := map[string]*counts{}
	for _, g := range gs {
		if g.Template {
			continue
		}
		k := g.Cluster + "/" + g.Node
		c := per[k]
		if c == nil {
			c = &counts{}
			per[k] = c
		}
		_, stale := down[k]
		switch {
		case stale:
			c.stale++
		case g.Status == "running":
			c.run++
		case paused(g.Status):
			c.paused++
		default:
			c.stop++
		}
	}
	return per
}

func paused(status string) bool {
	return status == "paused" || status == "suspended" || status == "prelaunch"
}

func countsText(lang i18n.Lang, key string, c *counts) string {
	if c.stale > 0 {
		return i18n.T(lang, "stale_counts", c.stale)
	}
	t := i18n.T(lang, key, c.run, c.stop)
	if c.paused > 0 {
		t += i18n.T(lang, "guest_counts_paused", c.paused)
	}
	return t
}

func sortNodes(ns []pve.Node) []pve.Node {
	ns = slices.Clone(ns)
	sort.Slice(ns, func(i, j int) bool {
		if ns[i].Cluster != ns[j].Cluster {
			return ns[i].Cluster < ns[j].Cluster
		}
		return ns[i].Name < ns[j].Name
	})
	return ns
}

func (d Data) name(cluster, name string) string {
	if d.Multi {
		return cluster + "/" + name
	}
	return name
}

func nodeLines(lang i18n.Lang, d Data) []string {
	per := guestCounts(d.Guests, pve.DownNodes(d.Nodes))
	lines := make([]string, 0, len(d.Nodes))
	for _, n := range sortNodes(d.Nodes) {
		c := per[n.Cluster+"/"+n.Name]
		if c == nil {
			c = &counts{}
		}
		name := d.name(n.Cluster, n.Name)
		var l string
		switch {
		case n.Status == "unknown":
			l = "🟠 " + name + " · " + i18n.T(lang, "node_no_data")
		case n.Status != "online":
			l = "🔴 " + name + " · " + stateWord(lang, n.Status)
		case !n.HasStats:
			l = "🟢 " + name + " · " + i18n.T(lang, "no_stats")
		default:
			l = fmt.Sprintf("🟢 %s · CPU %.0f%% · %s %s · %s %s", name, n.CPU*100, i18n.T(lang, "mem"), i18n.Percent(n.Mem, n.MaxMem), i18n.T(lang, "uptime"), i18n.Duration(lang, n.Uptime))
		}
		lines = append(lines, l+" · "+countsText(lang, "guest_counts", c))
	}
	return lines
}

func guestSections(lang i18n.Lang, d Data) []*section {
	byNode := map[string][]pve.Guest{}
	for _, g := range d.Guests {
		if !g.Template {
			k := g.Cluster + "/" + g.Node
			byNode[k] = append(byNode[k], g)
		}
	}
	down := pve.DownNodes(d.Nodes)
	per := guestCounts(d.Guests, down)
	var secs []*section
	seen := map[string]bool{}
	nodes := sortNodes(d.Nodes)
	// Nodes that have guests but were not listed (a failed node call) still show.
	for _, k := range sortedKeys(byNode) {
		c, n, _ := strings.Cut(k, "/")
		if !slices.ContainsFunc(nodes, func(x pve.Node) bool { return x.Cluster == c && x.Name == n }) {
			nodes = append(nodes, pve.Node{Cluster: c, Name: n, Status: "unknown"})
		}
	}
	for _, n := range nodes {
		k := n.Cluster + "/" + n.Name
		if seen[k] {
			continue
		}
		seen[k] = true
		c := per[k]
		if c == nil {
			c = &counts{}
		}
		icon := "🟢"
		switch n.Status {
		case "online":
		case "unknown":
			icon = "🟠"
		default:
			icon = "🔴"
		}
		head := icon + " " + d.name(n.Cluster, n.Name) + "** · **" + countsText(lang, "node_counts", c)
		gs := byNode[k]
		sort.Slice(gs, func(i, j int) bool { return gs[i].VMID < gs[j].VMID })
		lines := make([]string, 0, len(gs))
		for _, g := range gs {
			l := guestLine(lang, g)
			switch down[k] {
			case "offline":
				l += " · " + i18n.T(lang, "stale_offline", n.Name)
			case "":
			default:
				l += " · " + i18n.T(lang, "stale_nodata", n.Name)
			}
			lines = append(lines, l)
		}
		secs = append(secs, &section{head: head, lines: lines, empty: "-"})
	}
	if len(secs) == 0 {
		secs = append(secs, &section{empty: i18n.T(lang, "no_guests")})
	}
	return secs
}

func guestLine(lang i18n.Lang, g pve.Guest) string {
	typ := i18n.T(lang, "type_qemu")
	if g.Type == "lxc" {
		typ = i18n.T(lang, "type_lxc")
	}
	switch {
	case paused(g.Status):
		return "⏸️ " + g.Label() + " · " + typ + " · " + stateWord(lang, "paused")
	case g.Status != "running":
		return "⚪ " + g.Label() + " · " + typ + " · " + stateWord(lang, g.Status)
	}
	return fmt.Sprintf("🟢 %s · %s · CPU %.0f%% · %s %s", g.Label(), typ, g.CPU*100, i18n.T(lang, "mem"), i18n.Percent(g.Mem, g.MaxMem))
}

func storageLines(lang i18n.Lang, st []pve.Storage) []string {
	st = slices.Clone(st)
	sort.SliceStable(st, func(i, j int) bool {
		if ri, rj := ratio(st[i]), ratio(st[j]); ri != rj {
			return ri > rj
		}
		return st[i].Node+"/"+st[i].Name < st[j].Node+"/"+st[j].Name
	})
	lines := make([]string, 0, len(st))
	for _, s := range st {
		where := s.Node
		if s.Shared {
			where = i18n.T(lang, "shared_storage")
		}
		if !s.HasStats || s.Total == 0 {
			lines = append(lines, fmt.Sprintf("%s (%s) · -", s.Name, where))
			continue
		}
		lines = append(lines, fmt.Sprintf("%s (%s) %s %s · %s / %s", s.Name, where, i18n.Bar(ratio(s)), i18n.Percent(s.Used, s.Total), i18n.Bytes(s.Used), i18n.Bytes(s.Total)))
	}
	return lines
}

func failedTasks(d Data) []string {
	since := d.Now.Add(-24 * time.Hour)
	var lines []string
	for _, t := range d.Tasks {
		if t.End.IsZero() || t.End.Before(since) || t.Status == "OK" || strings.HasPrefix(t.Status, "WARNINGS") {
			continue
		}
		what := t.Type
		if t.ID != "" {
			what += " " + t.ID
		}
		lines = append(lines, fmt.Sprintf("❌ %s · %s · %s · %s", what, d.name(t.Cluster, t.Node), i18n.NewZone(d.Loc).Short(t.End), clip(t.Status, 80)))
	}
	return lines
}

func stateWord(lang i18n.Lang, s string) string {
	switch s {
	case "running", "stopped", "paused", "unknown", "offline":
		return i18n.T(lang, "state_"+s)
	}
	return s
}

func ratio(s pve.Storage) float64 {
	if s.Total == 0 {
		return 0
	}
	return float64(s.Used) / float64(s.Total)
}

func clip(s string, n int) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "\n", " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func shortErr(err error) string {
	if err == nil {
		return ""
	}
	return clip(err.Error(), 120)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
