package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/wecom-home-ops/wecom-home-ops/internal/access"
	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/selector"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// visibleGuests lists the guests of every cluster that the user may see, and the
// clusters that could not be read.
func (d *Dispatcher) visibleGuests(ctx context.Context, r *req) ([]pve.Guest, map[string]error) {
	all, errs := d.o.Fleet.Guests(ctx)
	return d.visible(r, all), errs
}

// visible keeps the guests the user may see, sorted by cluster and VMID.
func (d *Dispatcher) visible(r *req, all []pve.Guest) []pve.Guest {
	out := slices.DeleteFunc(all, func(g pve.Guest) bool { return !r.s.policy.Visible(r.user.ID, g.Subject()) })
	slices.SortStableFunc(out, func(a, b pve.Guest) int {
		if c := strings.Compare(a.Cluster, b.Cluster); c != 0 {
			return c
		}
		return a.VMID - b.VMID
	})
	return out
}

// find resolves a target among the guests the user may see, so that a guest outside the
// scope reads exactly like one that does not exist: same answer, same close names, never
// part of an ambiguity. Admins resolve among every guest and get the precise answer (out
// of their scope, wrong kind) for a guest their own scope leaves out.
func (d *Dispatcher) find(ctx context.Context, r *req, target string) (pve.Guest, error) {
	if r.user.Role == config.RoleAdmin {
		return d.o.Fleet.Find(ctx, target, nil)
	}
	return d.o.Fleet.Find(ctx, target, func(g pve.Guest) bool { return r.s.policy.Visible(r.user.ID, g.Subject()) })
}

// clusterErrors turns per-cluster failures into lines the user can act on.
func (d *Dispatcher) clusterErrors(r *req, errs map[string]error) []string {
	names := make([]string, 0, len(errs))
	for n := range errs {
		names = append(names, n)
	}
	sort.Strings(names)
	var lines []string
	for _, n := range names {
		lines = append(lines, r.t("cluster_failed", n, d.pveReason(r, errs[n])))
	}
	return lines
}

// listNarrowAt is the most guests a list shows without saying how to narrow it: about
// what fits one WeCom message (2,048 bytes); the footer with the hint is always sent,
// even when the lines beyond five messages are cut to "…还有 N 行".
const listNarrowAt = 40

// listLineBytes is how much of a list is written out: more than the five messages of
// 2,048 bytes a reply may be hold. The guests beyond it are counted (Reply.Omitted).
const listLineBytes = 16 << 10

func (d *Dispatcher) list(ctx context.Context, r *req, cmd Command) chat.Reply {
	filter := strings.ToLower(strings.TrimSpace(cmd.Filter))
	match, bad := parseFilter(r, filter)
	if bad != "" {
		return textReply(chat.SeverityWarning, r.t("list_bad_filter", bad), r.t("list_filter_hint"))
	}
	// One request per cluster; the guests are read in the clusters' caches, in cluster
	// and VMID order, and only the lines a reply can show are written.
	all, nodes, errs := d.o.Fleet.Listing(ctx)
	down := pve.DownNodes(nodes)
	var lines []string
	running, shown, omitted, size := 0, 0, 0, 0
	for g := range all {
		if cmd.Kind != "" && g.Type != cmd.Kind {
			continue
		}
		if !r.s.policy.Visible(r.user.ID, g.Subject()) {
			continue
		}
		if !match(g) {
			continue
		}
		shown++
		ns, stale := down[g.Cluster+"/"+g.Node]
		if g.Status == "running" && !stale {
			running++
		}
		if size >= listLineBytes {
			omitted++ // counted, not written: no message could show it
			continue
		}
		line := guestLine(r, g, cmd.Kind == "")
		if stale {
			line += " · " + staleNote(r, g.Node, ns)
		}
		lines = append(lines, line)
		size += len(line) + 1
	}
	title := r.t("list_title")
	if cmd.Kind == "lxc" {
		title = r.t("ct_list_title")
	}
	rep := chat.Reply{Kind: chat.ReplyList, Severity: chat.SeverityInfo, Title: title, Lines: lines, Omitted: omitted}
	rep.Footer = r.t("list_footer", shown, running)
	if cmd.Kind == KindLXC {
		rep.Footer = r.t("ct_list_footer", shown, running)
	}
	if shown > listNarrowAt {
		rep.Footer += "\n" + r.t("list_narrow")
	}
	if shown == 0 {
		rep.Lines = []string{r.t("list_empty")}
		if filter != "" {
			rep.Lines = []string{r.t("list_empty_filter", filter), r.t("list_filter_hint")}
		}
	}
	if u, ok := r.s.policy.User(r.user.ID); ok && u.Scope.NamesPool() && d.poolsUnknown(ctx) {
		rep.Lines = append(rep.Lines, r.t("pool_unknown_scope"))
	}
	if len(errs) > 0 {
		rep.Severity = chat.SeverityWarning
		rep.Lines = append(rep.Lines, d.clusterErrors(r, errs)...)
	}
	return rep
}

// parseFilter reads a list filter: words that must all match. A word in the config's
// selector grammar (tag:lab, pool:media, node:pve2, name:nas, 100-199, home/101, *) matches
// as the selector does; any other word matches a part of the name, the node, the state (in
// either language), the pool, a tag or the VMID. bad is a selector word that does not parse.
func parseFilter(r *req, filter string) (match func(pve.Guest) bool, bad string) {
	var tests []func(pve.Guest) bool
	for _, w := range strings.Fields(filter) {
		if !isSelector(w) {
			tests = append(tests, func(g pve.Guest) bool { return matchesFilter(r, g, w) })
			continue
		}
		sel, err := selector.Parse(w)
		if err != nil {
			return nil, w
		}
		tests = append(tests, func(g pve.Guest) bool { return sel.Match(g.Subject()) })
	}
	return func(g pve.Guest) bool {
		for _, t := range tests {
			if !t(g) {
				return false
			}
		}
		return true
	}, ""
}

// isSelector reports whether a filter word is written in the selector grammar.
func isSelector(w string) bool {
	if strings.ContainsAny(w, ":/*") {
		return true
	}
	lo, hi, ok := strings.Cut(w, "-")
	return ok && isDigits(lo) && isDigits(hi)
}

// poolsUnknown reports whether some guest's pool could not be read (the token lacks
// Pool.Audit), so that a pool-based scope may be missing guests.
func (d *Dispatcher) poolsUnknown(ctx context.Context) bool {
	all, _ := d.o.Fleet.Guests(ctx)
	for _, g := range all {
		if g.PoolUnknown {
			return true
		}
	}
	return false
}

func matchesFilter(r *req, g pve.Guest, f string) bool {
	if strings.Contains(strings.ToLower(g.Name), f) || strings.EqualFold(g.Node, f) ||
		strings.EqualFold(g.Status, f) || strings.EqualFold(g.Pool, f) ||
		strings.EqualFold(stateWord(r.s.lang, g.Status), f) || strconv.Itoa(g.VMID) == f {
		return true
	}
	for _, t := range g.Tags {
		if strings.EqualFold(t, f) {
			return true
		}
	}
	return false
}

// staleNote says that a guest's state may be out of date because its node is down or silent.
func staleNote(r *req, node, nodeStatus string) string {
	if nodeStatus == "offline" {
		return r.t("stale_offline", node)
	}
	return r.t("stale_nodata", node)
}

func statusIcon(status string) string {
	switch status {
	case "running":
		return "🟢"
	case "stopped":
		return "⚪"
	case "paused", "suspended", "prelaunch":
		return "⏸️"
	}
	return "❓"
}

// guestLine is one guest of a list; withType adds "容器" to containers (not in a list of
// containers only, where it would repeat on every line).
func guestLine(r *req, g pve.Guest, withType bool) string {
	name := g.Name
	if name == "" {
		name = "-"
	}
	id := strconv.Itoa(g.VMID)
	if r.s.multi {
		id = g.Cluster + "/" + id
	}
	parts := []string{fmt.Sprintf("%s %s %s", statusIcon(g.Status), id, name), g.Node, stateWord(r.s.lang, g.Status)}
	if g.Type == "lxc" && withType {
		parts = append(parts, typeWord(r.s.lang, "lxc"))
	}
	if g.Template {
		parts = append(parts, r.t("template"))
	}
	if g.Status == "running" && g.MaxMem > 0 {
		parts = append(parts, fmt.Sprintf("CPU %.0f%% · %s %s", g.CPU*100, r.t("mem"), i18n.Percent(g.Mem, g.MaxMem)))
	}
	return strings.Join(parts, " · ")
}

func (d *Dispatcher) guestStatus(ctx context.Context, r *req, cmd Command) chat.Reply {
	g, err := d.find(ctx, r, cmd.Target)
	if err != nil {
		return d.findError(ctx, r, cmd.Target, "list", err)
	}
	if !r.s.policy.Visible(r.user.ID, g.Subject()) { // an admin outside their own scope
		return textReply(chat.SeverityWarning, r.refusal(access.Decision{Reason: access.ReasonOutOfScope}, ""))
	}
	st, err := d.o.Fleet.GuestStatus(ctx, g)
	if err != nil {
		return d.pveError(r, err)
	}
	g = st.Guest
	fields := []chat.Field{
		{Label: r.t("f_state"), Value: statusText(r.s.lang, st)},
		{Label: r.t("f_node"), Value: g.Node},
		{Label: r.t("f_type"), Value: typeWord(r.s.lang, g.Type)},
	}
	if ip := d.primaryAddress(ctx, g); ip != "" {
		fields = slices.Insert(fields, 1, chat.Field{Label: "IP", Value: ip})
	}
	if g.Status == "running" {
		fields = append(fields,
			chat.Field{Label: "CPU", Value: r.t("cpu_of", fmt.Sprintf("%.0f%%", g.CPU*100), g.MaxCPU)},
			chat.Field{Label: r.t("mem"), Value: fmt.Sprintf("%s / %s", i18n.Bytes(g.Mem), i18n.Bytes(g.MaxMem))},
			chat.Field{Label: r.t("f_uptime"), Value: i18n.Duration(r.s.lang, g.Uptime)})
	}
	if len(g.Tags) > 0 {
		fields = append(fields, chat.Field{Label: r.t("f_tags"), Value: strings.Join(g.Tags, ", ")})
	}
	if g.Pool != "" {
		fields = append(fields, chat.Field{Label: r.t("f_pool"), Value: g.Pool})
	}
	if st.HAManaged || g.HAState != "" {
		fields = append(fields, chat.Field{Label: "HA", Value: haState(r.s.lang, g.HAState)})
	}
	if g.Lock != "" {
		fields = append(fields, chat.Field{Label: r.t("f_lock"), Value: g.Lock})
	}
	// A read is not a result: no "成功" on the card.
	return chat.Reply{Kind: chat.ReplyCard, Severity: chat.SeverityInfo, Title: titleLabel(r, g), Fields: fields,
		Buttons: d.actionButtons(r, st), Link: d.guestLink(r, g)}
}

func (d *Dispatcher) status(ctx context.Context, r *req) chat.Reply {
	nodes, nerrs := d.o.Fleet.Nodes(ctx)
	guests, gerrs := d.visibleGuests(ctx, r)
	stor, _ := d.o.Fleet.Storage(ctx)
	type counts struct{ run, stop, paused int }
	per := map[string]*counts{}
	for _, g := range guests {
		k := g.Cluster + "/" + g.Node
		if per[k] == nil {
			per[k] = &counts{}
		}
		switch {
		case g.Status == "running":
			per[k].run++
		case g.Status == "paused" || g.Status == "suspended" || g.Status == "prelaunch":
			per[k].paused++
		case !g.Template:
			per[k].stop++
		}
	}
	var lines []string
	lines = append(lines, "**"+r.t("h_nodes")+"**")
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Cluster+nodes[i].Name < nodes[j].Cluster+nodes[j].Name })
	for _, n := range nodes {
		c := per[n.Cluster+"/"+n.Name]
		if c == nil {
			c = &counts{}
		}
		line := nodeLine(r, n) + " · " + r.t("guest_counts", c.run, c.stop)
		if n.Status != "online" {
			// Its guests' last state may be minutes old: none counts as running.
			line = nodeLine(r, n) + " · " + r.t("stale_counts", c.run+c.stop+c.paused)
		} else if c.paused > 0 {
			line += r.t("guest_counts_paused", c.paused)
		}
		lines = append(lines, line)
	}
	if len(stor) > 0 {
		lines = append(lines, "**"+r.t("h_storage")+"**")
		lines = append(lines, storageLines(r, stor, 5)...)
	}
	rep := chat.Reply{Kind: chat.ReplyList, Severity: chat.SeverityInfo, Title: r.t("status_title"), Lines: lines}
	errs := map[string]error{}
	for k, v := range nerrs {
		errs[k] = v
	}
	for k, v := range gerrs {
		errs[k] = v
	}
	if len(errs) > 0 {
		rep.Severity = chat.SeverityWarning
		rep.Lines = append(rep.Lines, d.clusterErrors(r, errs)...)
	}
	return rep
}

func nodeLine(r *req, n pve.Node) string {
	name := n.Name
	if r.s.multi {
		name = n.Cluster + "/" + n.Name
	}
	icon := "🟢"
	switch n.Status {
	case "online":
	case "unknown":
		return fmt.Sprintf("🟠 %s · %s", name, r.t("node_no_data"))
	default:
		icon = "🔴"
		return fmt.Sprintf("%s %s · %s", icon, name, stateWord(r.s.lang, n.Status))
	}
	if !n.HasStats {
		return fmt.Sprintf("%s %s · %s", icon, name, r.t("no_stats"))
	}
	return fmt.Sprintf("%s %s · CPU %.0f%% · %s %s · %s %s", icon, name, n.CPU*100, r.t("mem"), i18n.Percent(n.Mem, n.MaxMem), r.t("f_uptime"), i18n.Duration(r.s.lang, n.Uptime))
}

func storageLines(r *req, stor []pve.Storage, max int) []string {
	sort.SliceStable(stor, func(i, j int) bool { return ratio(stor[i]) > ratio(stor[j]) })
	var lines []string
	for i, s := range stor {
		if max > 0 && i == max {
			lines = append(lines, r.t("n_more", len(stor)-max))
			break
		}
		where := s.Node
		if s.Shared {
			where = r.t("shared_storage")
		}
		if !s.HasStats || s.Total == 0 {
			lines = append(lines, fmt.Sprintf("%s (%s) · %s", s.Name, where, r.t("no_stats")))
			continue
		}
		lines = append(lines, fmt.Sprintf("%s (%s) %s %s · %s / %s", s.Name, where, i18n.Bar(ratio(s)), i18n.Percent(s.Used, s.Total), i18n.Bytes(s.Used), i18n.Bytes(s.Total)))
	}
	return lines
}

func ratio(s pve.Storage) float64 {
	if s.Total == 0 {
		return 0
	}
	return float64(s.Used) / float64(s.Total)
}

func (d *Dispatcher) nodes(ctx context.Context, r *req, cmd Command) chat.Reply {
	nodes, errs := d.o.Fleet.Nodes(ctx)
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Cluster+nodes[i].Name < nodes[j].Cluster+nodes[j].Name })
	if cmd.Verb == VerbNodeStatus {
		for _, n := range nodes {
			if strings.EqualFold(n.Name, cmd.Target) || strings.EqualFold(n.Cluster+"/"+n.Name, cmd.Target) {
				fields := []chat.Field{{Label: r.t("f_state"), Value: stateWord(r.s.lang, n.Status)}}
				if n.HasStats {
					fields = append(fields,
						chat.Field{Label: "CPU", Value: r.t("cpu_of", fmt.Sprintf("%.0f%%", n.CPU*100), n.MaxCPU)},
						chat.Field{Label: r.t("mem"), Value: fmt.Sprintf("%s / %s", i18n.Bytes(n.Mem), i18n.Bytes(n.MaxMem))},
						chat.Field{Label: r.t("f_disk"), Value: fmt.Sprintf("%s / %s", i18n.Bytes(n.Disk), i18n.Bytes(n.MaxDisk))},
						chat.Field{Label: r.t("f_uptime"), Value: i18n.Duration(r.s.lang, n.Uptime)})
				}
				sev := chat.SeverityInfo // a read is not a result: no "成功"
				if n.Status != "online" {
					sev = chat.SeverityError
				}
				return chat.Reply{Kind: chat.ReplyCard, Severity: sev, Title: r.t("node_title", n.Name), Fields: fields, Link: d.nodeLink(r, n)}
			}
		}
		return textReply(chat.SeverityWarning, r.t("node_not_found", cmd.Target))
	}
	var lines []string
	for _, n := range nodes {
		lines = append(lines, nodeLine(r, n))
	}
	rep := chat.Reply{Kind: chat.ReplyList, Severity: chat.SeverityInfo, Title: r.t("h_nodes"), Lines: lines}
	if len(errs) > 0 {
		rep.Severity = chat.SeverityWarning
		rep.Lines = append(rep.Lines, d.clusterErrors(r, errs)...)
	}
	return rep
}

func (d *Dispatcher) storage(ctx context.Context, r *req) chat.Reply {
	stor, errs := d.o.Fleet.Storage(ctx)
	rep := chat.Reply{Kind: chat.ReplyList, Severity: chat.SeverityInfo, Title: r.t("h_storage"), Lines: storageLines(r, stor, 0)}
	if len(stor) == 0 {
		rep.Lines = []string{r.t("storage_empty")}
	}
	if len(errs) > 0 {
		rep.Severity = chat.SeverityWarning
		rep.Lines = append(rep.Lines, d.clusterErrors(r, errs)...)
	}
	return rep
}

func (d *Dispatcher) tasks(ctx context.Context, r *req) chat.Reply {
	tasks, errs := d.o.Fleet.Tasks(ctx, 15)
	var lines []string
	for _, t := range tasks {
		who := t.User
		if by := d.botUser(ctx, t.UPID); by != "" {
			who = r.t("via_bot", by)
		}
		status := t.Status
		icon := "✅"
		switch {
		case status == "running" || status == "RUNNING":
			icon, status = "⏳", stateWord(r.s.lang, "running")
		case status != "OK" && !strings.HasPrefix(status, "WARNINGS"):
			icon = "❌"
		}
		lines = append(lines, fmt.Sprintf("%s %s %s %s · %s · %s · %s", icon, r.s.zone.Short(t.Start), taskType(r.s.lang, t.Type), t.ID, t.Node, who, taskStatus(r.s.lang, status)))
	}
	rep := chat.Reply{Kind: chat.ReplyList, Severity: chat.SeverityInfo, Title: r.t("tasks_title"), Lines: lines}
	if len(lines) == 0 {
		rep.Lines = []string{r.t("tasks_empty")}
	}
	if len(errs) > 0 {
		rep.Severity = chat.SeverityWarning
		rep.Lines = append(rep.Lines, d.clusterErrors(r, errs)...)
	}
	return rep
}

// botUser names the chat user who caused a task through the bot, from the audit log.
func (d *Dispatcher) botUser(ctx context.Context, upid string) string {
	ents, err := d.o.Store.RecentAudit(ctx, 200)
	if err != nil {
		return ""
	}
	for _, e := range ents {
		if e.UPID == upid {
			return e.User
		}
	}
	return ""
}

func (d *Dispatcher) auditList(ctx context.Context, r *req, cmd Command) chat.Reply {
	n := cmd.N
	if n <= 0 {
		n = 10
	}
	n = min(n, 50)
	ents, err := d.o.Store.RecentAudit(ctx, n)
	if err != nil {
		return textReply(chat.SeverityError, r.t("internal_error"))
	}
	var lines []string
	for _, e := range ents {
		icon := "⛔"
		switch {
		case e.Decision == store.DecisionAllowed:
			icon = "✅"
		case e.Reason == store.ReasonCancelled:
			icon = "↩️" // the user called it off; nobody refused it
		case e.Decision == store.DecisionError:
			icon = "❌"
		}
		line := fmt.Sprintf("%s %s %s · %s", icon, r.s.zone.ShortSeconds(e.Time), e.User, inert(auditCommand(r.s.lang, e.Command)))
		if e.VMID != 0 {
			line += fmt.Sprintf(" · %s/%d", e.Cluster, e.VMID)
		}
		if e.Reason != "" {
			line += " · " + inert(auditReason(r.s.lang, e.Reason))
		}
		if e.Result != "" {
			line += " · " + inert(auditResult(r.s.lang, r.s.zone, e.Result))
		}
		if e.Duration > 0 {
			line += " · " + i18n.Duration(r.s.lang, e.Duration)
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		lines = []string{r.t("audit_empty")}
	}
	return chat.Reply{Kind: chat.ReplyList, Severity: chat.SeverityInfo, Title: r.t("audit_title", len(ents)), Lines: lines}
}

// findError explains a target that did not resolve: not found (with close matches the
// user may see), ambiguous (the matches), or the cluster's failure.
func (d *Dispatcher) findError(ctx context.Context, r *req, target, action string, err error) chat.Reply {
	var nf *pve.NotFoundError
	var amb *pve.AmbiguousError
	switch {
	case errors.As(err, &nf):
		var close []string
		for _, g := range nf.Close {
			close = append(close, guestLabel(r, g))
		}
		rep := textReply(chat.SeverityWarning, r.t("not_found", target))
		if len(close) > 0 {
			rep.Lines = []string{r.t("did_you_mean", strings.Join(close, r.t("list_sep")))}
		}
		d.audit(ctx, r, store.AuditEntry{Decision: "refused", Reason: "guest not found", Command: clip(r.text)})
		return rep
	case errors.As(err, &amb):
		var names []string
		for _, g := range amb.Matches {
			names = append(names, guestLabel(r, g))
		}
		d.auditAmbiguous(ctx, r)
		if len(names) > maxTapButtons || r.cmd.Verb == "" {
			return textReply(chat.SeverityWarning, r.t("ambiguous", target, strings.Join(names, r.t("list_sep"))))
		}
		rep := textReply(chat.SeverityWarning, r.t("ambiguous_pick", target))
		for _, g := range amb.Matches {
			rep.Buttons = append(rep.Buttons, runButton(guestLabel(r, g), r.commandFor(r.cmd, guestRef(r, g)), 1))
		}
		return rep
	}
	if action != "list" {
		// A power command that could not even find its guest (PVE down, token rejected,
		// certificate mismatch) is still a decision worth keeping.
		d.audit(ctx, r, store.AuditEntry{Decision: "error", Reason: "pve: " + clip(err.Error()), Command: clip(r.text)})
	}
	return d.pveError(r, err)
}

func (d *Dispatcher) pveError(r *req, err error) chat.Reply {
	return textReply(chat.SeverityError, d.pveReason(r, err))
}

// pveReason says in the user's language what went wrong with PVE, without URLs or secrets.
func (d *Dispatcher) pveReason(r *req, err error) string {
	var pe *pve.Error
	if !errors.As(err, &pe) {
		if errors.Is(err, context.DeadlineExceeded) {
			return r.t("pve_timeout")
		}
		return r.t("pve_other", "")
	}
	switch pe.Kind {
	case pve.KindTokenRejected:
		return r.t("pve_token", pe.Cluster)
	case pve.KindPermission:
		return r.t("pve_perm", pe.Cluster, pe.Path, pe.Privilege)
	case pve.KindNodeUnreachable:
		return r.t("pve_node_down", pe.Cluster)
	case pve.KindNoQuorum:
		return r.t("pve_quorum", pe.Cluster)
	case pve.KindTimeout:
		return r.t("pve_timeout")
	case pve.KindTLS:
		if pe.Presented != "" {
			return r.t("pve_tls_pin", pe.Cluster, pe.Presented)
		}
		return r.t("pve_tls", pe.Cluster)
	case pve.KindUnreachable:
		return r.t("pve_unreachable", pe.Cluster)
	}
	return r.t("pve_other", pe.Reason)
}

// guestRef is how a command names g exactly: its VMID, with its cluster when there are
// several.
func guestRef(r *req, g pve.Guest) string {
	if !r.s.multi || g.Cluster == "" {
		return strconv.Itoa(g.VMID)
	}
	return g.Cluster + "/" + strconv.Itoa(g.VMID)
}

func guestLabel(r *req, g pve.Guest) string {
	id := strconv.Itoa(g.VMID)
	if r.s.multi && g.Cluster != "" {
		id = g.Cluster + "/" + id
	}
	if g.Name == "" {
		return id
	}
	return fmt.Sprintf("%s (%s)", g.Name, id)
}

// titleNameRunes bounds a guest's name in a card title. WeCom's client shows about 36
// characters of a title and clips the rest; with the name cut to this, the name and VMID
// (which come first) and the action word fit, so clipping never hides which guest a card
// is about. The full name stays in the card's body.
const titleNameRunes = 16

// titleLabel is guestLabel for a title: a long name is cut, the VMID always kept.
func titleLabel(r *req, g pve.Guest) string {
	if n := []rune(g.Name); len(n) > titleNameRunes {
		g.Name = string(n[:titleNameRunes-1]) + "…"
	}
	return guestLabel(r, g)
}

func statusText(lang i18n.Lang, st pve.GuestStatus) string {
	if st.Status == "running" && (st.QMPStatus == "paused" || st.QMPStatus == "suspended") {
		return stateWord(lang, "paused")
	}
	return stateWord(lang, st.Status)
}

func stateWord(lang i18n.Lang, s string) string {
	switch s {
	case "running", "stopped", "paused", "unknown", "online", "offline":
		return i18n.T(lang, "state_"+s)
	}
	return s
}

func actionWord(lang i18n.Lang, a string) string { return i18n.T(lang, "act_"+a) }
func doneWord(lang i18n.Lang, a string) string   { return i18n.T(lang, "done_"+a) }

func typeWord(lang i18n.Lang, t string) string {
	if t == "lxc" {
		return i18n.T(lang, "type_lxc")
	}
	return i18n.T(lang, "type_qemu")
}

// inert keeps text someone typed from acting as markup when an admin reads it in a
// markdown reply (links, <font>, bold, quotes): the look-alike full-width characters read
// the same and do nothing.
var inert = strings.NewReplacer("[", "［", "]", "］", "<", "＜", ">", "＞", "*", "＊", "`", "｀", "#", "＃").Replace
