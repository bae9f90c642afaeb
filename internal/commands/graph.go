package commands

import (
	"context"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/graph"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
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

func periodWord(w string) (string, bool) {
	tf, ok := periods[w]
	return string(tf), ok
}

// targetAnd takes a target and one optional word that second accepts (and names).
func (p *cmdParser) targetAnd(what string, second func(string) (string, bool)) (target, arg string, err error) {
	r := p.rest()
	if len(r) == 0 {
		return "", "", p.fail(nil, "parse_missing_target", what)
	}
	if len(r) > 2 {
		return "", "", p.fail(nil, "parse_too_many", what, clipWord(strings.Join(r[2:], " ")))
	}
	if !validTarget(r[0]) {
		return "", "", p.fail(nil, "parse_bad_target", clipWord(r[0]))
	}
	if len(r) == 2 {
		v, ok := second(r[1])
		if !ok {
			return "", "", p.fail(nil, "parse_bad_graph_arg", what, clipWord(r[1]))
		}
		arg = v
	}
	p.i += len(r)
	return r[0], arg, nil
}

func timeframe(c Command) pve.Timeframe {
	if tf := pve.Timeframe(c.Period); tf.Valid() {
		return tf
	}
	return pve.TimeframeDay
}

// pictureTitle is the language-neutral title inside the picture: the name and the span
// in the configured time zone.
func pictureTitle(name string, rrd pve.RRD, loc *time.Location) string {
	ts := rrd.Times()
	if len(ts) == 0 {
		return name
	}
	format := "01-02 15:04"
	if ts[len(ts)-1].Sub(ts[0]) > 40*24*time.Hour {
		format = "2006-01-02"
	}
	a, b := ts[0].In(loc), ts[len(ts)-1].In(loc)
	return name + "   " + a.Format(format) + " - " + b.Format(format) + " " + b.Format("MST")
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
	g, err := d.o.Fleet.Find(ctx, c.Target)
	if err != nil {
		return d.findError(ctx, r, c.Target, "list", err)
	}
	if !r.s.policy.Visible(r.user.ID, g.Subject()) {
		return d.findError(ctx, r, c.Target, "list", &pve.NotFoundError{Target: c.Target})
	}
	tf := timeframe(c)
	rrd, err := d.o.History.GuestRRD(ctx, g, tf, pve.CFAverage)
	if err != nil {
		return d.pveError(r, err)
	}
	label := g.Label()
	chart := graph.Guest(pictureTitle(label, rrd, r.s.loc), rrd, r.s.loc)
	return d.graphReply(r, r.t("graph_title_guest", guestLabel(r, g), r.t("graph_tf_"+string(tf))), chart)
}

// nodeGraph is "node graph <node> [period]".
func (d *Dispatcher) nodeGraph(ctx context.Context, r *req, c Command) chat.Reply {
	if rep, ok := d.noHistory(r); ok {
		return rep
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
	tf := timeframe(c)
	rrd, err := d.o.History.NodeRRD(ctx, *node, tf, pve.CFAverage)
	if err != nil {
		return d.pveError(r, err)
	}
	chart := graph.Node(pictureTitle(node.Name, rrd, r.s.loc), rrd, r.s.loc)
	return d.graphReply(r, r.t("graph_title_node", node.Name, r.t("graph_tf_"+string(tf))), chart)
}

// storageGraph is "storage graph <storage> [node]" over the last month: storage fills
// slowly, so a day says little.
func (d *Dispatcher) storageGraph(ctx context.Context, r *req, c Command) chat.Reply {
	if rep, ok := d.noHistory(r); ok {
		return rep
	}
	all, errs := d.o.Fleet.Storage(ctx)
	var found []pve.Storage
	for _, s := range all {
		if strings.EqualFold(s.Name, c.Target) && (c.Node == "" || strings.EqualFold(s.Node, c.Node) || s.Shared) {
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
	if c.Node != "" && st.Shared {
		st.Node = c.Node
	}
	rrd, err := d.o.History.StorageRRD(ctx, st, pve.TimeframeMonth, pve.CFAverage)
	if err != nil {
		return d.pveError(r, err)
	}
	chart := graph.Storage(pictureTitle(st.Name+" @ "+st.Node, rrd, r.s.loc), rrd, r.s.loc)
	return d.graphReply(r, r.t("graph_title_store", st.Name, r.t("graph_tf_month")), chart)
}
