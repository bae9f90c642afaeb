package commands

import (
	"context"
	"strings"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/access"
	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/graph"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
)

// The graph verbs (rows in table.go).
const (
	VerbGraph        Verb = "graph"         // a guest's resource graph
	VerbNodeGraph    Verb = "node_graph"    // a node's resource graph
	VerbStorageGraph Verb = "storage_graph" // a storage's usage graph
)

// History is the resource history graphs are drawn from; *pve.Fleet implements it.
type History interface {
	GuestRRD(ctx context.Context, g pve.Guest, tf pve.Timeframe, cf pve.CF) (pve.RRD, error)
	NodeRRD(ctx context.Context, n pve.Node, tf pve.Timeframe, cf pve.CF) (pve.RRD, error)
	StorageRRD(ctx context.Context, s pve.Storage, tf pve.Timeframe, cf pve.CF) (pve.RRD, error)
}

// periods are the words of a graph's period, both languages.
var periods = map[string]pve.Timeframe{
	"hour": pve.TimeframeHour, "h": pve.TimeframeHour, "1h": pve.TimeframeHour, "小时": pve.TimeframeHour,
	"day": pve.TimeframeDay, "d": pve.TimeframeDay, "24h": pve.TimeframeDay, "天": pve.TimeframeDay, "日": pve.TimeframeDay, "今天": pve.TimeframeDay,
	"week": pve.TimeframeWeek, "w": pve.TimeframeWeek, "7d": pve.TimeframeWeek, "周": pve.TimeframeWeek, "星期": pve.TimeframeWeek,
	"month": pve.TimeframeMonth, "月": pve.TimeframeMonth,
	"year": pve.TimeframeYear, "年": pve.TimeframeYear,
}

// timeframe is the period a graph command asks for (day when it names none); false for
// a word that is no period.
func timeframe(c Command) (pve.Timeframe, bool) {
	if len(c.Args) == 0 {
		return pve.TimeframeDay, true
	}
	tf, ok := periods[c.Args[0]]
	return tf, ok
}

func badGraphArg(r *req, c Command) chat.Reply {
	return textReply(chat.SeverityWarning, r.t("parse_bad_graph_arg", clip(c.Raw), clipWord(c.Args[0])))
}

// graphReply is the picture and its reading. A picture that cannot be drawn leaves the
// reading alone, saying so, like one that cannot be sent.
func (d *Dispatcher) graphReply(r *req, title string, c graph.Chart) chat.Reply {
	rep := chat.Reply{Kind: chat.ReplyText, Severity: chat.SeverityInfo, Title: title,
		Lines: []string{graph.Reading(r.s.lang, c)}}
	png, err := graph.Render(c)
	if err != nil {
		d.log.Warn("commands: drawing a graph failed", zap.Error(err))
		rep.Lines = append([]string{r.t("graph_upload_failed")}, rep.Lines...)
		return rep
	}
	rep.Image = &chat.Image{PNG: png, Unsent: r.t("graph_upload_failed")}
	return rep
}

func (d *Dispatcher) noHistory(r *req) (chat.Reply, bool) {
	if d.o.History == nil {
		return textReply(chat.SeverityWarning, r.t("graph_unavailable")), true
	}
	return chat.Reply{}, false
}

// guestGraph is "vm graph <target> [period]": a guest outside the user's scope reads
// like one that does not exist, and its history is not asked for.
func (d *Dispatcher) guestGraph(ctx context.Context, r *req, c Command) chat.Reply {
	if rep, ok := d.noHistory(r); ok {
		return rep
	}
	g, err := d.find(ctx, r, c.Target)
	if err != nil {
		return d.findError(ctx, r, c.Target, "list", err)
	}
	if !r.s.policy.Visible(r.user.ID, g.Subject()) { // an admin outside their own scope
		return textReply(chat.SeverityWarning, access.Decision{Reason: access.ReasonOutOfScope}.Message(string(r.s.lang)))
	}
	tf, ok := timeframe(c)
	if !ok {
		return badGraphArg(r, c)
	}
	rrd, err := d.o.History.GuestRRD(ctx, g, tf, pve.CFAverage)
	if err != nil {
		return d.pveError(r, err)
	}
	label := g.Label()
	chart := graph.Guest(graph.Title(label, rrd.Times(), r.zone()), rrd, r.zone())
	return d.graphReply(r, r.t("graph_title_guest", guestLabel(r, g), r.t("graph_tf_"+string(tf))), chart)
}

// nodeGraph is "node graph <node> [period]".
func (d *Dispatcher) nodeGraph(ctx context.Context, r *req, c Command) chat.Reply {
	if rep, ok := d.noHistory(r); ok {
		return rep
	}
	tf, ok := timeframe(c)
	if !ok {
		return badGraphArg(r, c)
	}
	nodes, errs := d.o.Fleet.Nodes(ctx)
	var node *pve.Node
	for i, n := range nodes {
		if strings.EqualFold(n.Name, c.Target) || strings.EqualFold(n.Cluster+"/"+n.Name, c.Target) {
			node = &nodes[i]
			break
		}
	}
	if node == nil {
		if len(errs) > 0 && len(nodes) == 0 {
			for _, err := range errs {
				return d.pveError(r, err)
			}
		}
		return textReply(chat.SeverityWarning, r.t("node_not_found", c.Target))
	}
	rrd, err := d.o.History.NodeRRD(ctx, *node, tf, pve.CFAverage)
	if err != nil {
		return d.pveError(r, err)
	}
	chart := graph.Node(graph.Title(node.Name, rrd.Times(), r.zone()), rrd, r.zone())
	return d.graphReply(r, r.t("graph_title_node", node.Name, r.t("graph_tf_"+string(tf))), chart)
}

// storageGraph is "storage graph <storage> [node]" over the last month: storage fills
// slowly, so a day says little.
func (d *Dispatcher) storageGraph(ctx context.Context, r *req, c Command) chat.Reply {
	if rep, ok := d.noHistory(r); ok {
		return rep
	}
	node := ""
	if len(c.Args) > 0 {
		if node = c.Args[0]; !validTarget(node) {
			return badGraphArg(r, c)
		}
	}
	all, errs := d.o.Fleet.Storage(ctx)
	var found []pve.Storage
	for _, s := range all {
		if strings.EqualFold(s.Name, c.Target) && (node == "" || strings.EqualFold(s.Node, node) || s.Shared) {
			found = append(found, s)
		}
	}
	switch {
	case len(found) == 0 && len(errs) > 0 && len(all) == 0:
		for _, err := range errs {
			return d.pveError(r, err)
		}
	case len(found) == 0:
		return textReply(chat.SeverityWarning, r.t("graph_no_storage", c.Target))
	case len(found) > 1:
		var ns []string
		for _, s := range found {
			ns = append(ns, s.Node)
		}
		return textReply(chat.SeverityWarning, r.t("graph_storage_many", c.Target, strings.Join(ns, r.t("list_sep")), c.Target))
	}
	st := found[0]
	if node != "" && st.Shared {
		st.Node = node
	}
	rrd, err := d.o.History.StorageRRD(ctx, st, pve.TimeframeMonth, pve.CFAverage)
	if err != nil {
		return d.pveError(r, err)
	}
	chart := graph.Storage(graph.Title(st.Name+" @ "+st.Node, rrd.Times(), r.zone()), rrd, r.zone())
	return d.graphReply(r, r.t("graph_title_store", st.Name, r.t("graph_tf_month")), chart)
}
