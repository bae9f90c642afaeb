package commands

// Node reboot, shutdown and wake-on-LAN (docs/pve-features.md §5). A node power command has
// no task: PVE answers at once and the node goes away two seconds later, so the bot follows
// the node list itself, in its own context, and tells the user when the node is back (or
// that it is not, after Options.NodeTimeout). Reboot and shutdown are always confirmed; the
// card says which guests stop, which are HA-managed, whether the cluster keeps quorum and
// whether the bot itself may be on that node. Losing quorum or the bot's own host asks for
// the node's name typed with the code on top of the button.

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/access"
	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/selector"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// The verbs of node power and migration.
const (
	VerbNodeReboot   Verb = "node_reboot"
	VerbNodeShutdown Verb = "node_shutdown"
	VerbNodeWake     Verb = "node_wake"
	VerbMigrate      Verb = "migrate"
)

// actionNodePower is the role action of node reboot, shutdown and wake.
const actionNodePower = "node_power"

// The node commands as they travel in a confirmation's and a journal entry's params.
const (
	nodeReboot   = "reboot"
	nodeShutdown = "shutdown"
	nodeWake     = "wake"
)

// nodePowerRow is the row of a node power command ("node reboot pve2", "重启节点 pve2").
func nodePowerRow(v Verb, words []string, confirm bool, usage Text) Spec {
	return Spec{Verb: v, Words: words, Noun: "node", Topic: "node", Action: actionNodePower, Role: config.RoleAdmin, Changes: true, Confirm: confirm, Args: ArgTarget,
		Help:    []HelpLine{{string(v), usage}},
		Example: Text{strings.Replace(usage.EN, "<node>", "pve2", 1), strings.Replace(usage.ZH, "<节点>", "pve2", 1)},
		Run:     (*Dispatcher).nodePower}
}

// nodeCommand is the command of a node verb.
func nodeCommand(v Verb) string {
	switch v {
	case VerbNodeReboot:
		return nodeReboot
	case VerbNodeShutdown:
		return nodeShutdown
	}
	return nodeWake
}

// nodeSubject is what the access policy sees of a node action: the node (a scope of
// node:pve2 covers it).
func nodeSubject(n pve.Node) selector.Subject {
	return selector.Subject{Cluster: n.Cluster, Node: n.Name}
}

// nodeTarget finds the node of a node power command and checks the user may act on it: the
// role first (an answer that names nothing), then the node, then access to it.
func (d *Dispatcher) nodeTarget(ctx context.Context, r *req, target string) (pve.Node, *chat.Reply) {
	refuse := func(rep chat.Reply) (pve.Node, *chat.Reply) { return pve.Node{}, &rep }
	if dec := r.s.policy.Decide(r.user.ID, actionNodePower, nil); dec.Reason == access.ReasonNoRole {
		d.audit(ctx, r, store.AuditEntry{Decision: "refused", Reason: string(dec.Reason), Command: clip(r.text)})
		return refuse(textReply(chat.SeverityWarning, r.refusal(dec, "")))
	}
	nodes, _ := d.o.Fleet.Nodes(ctx)
	cluster, name, hasCluster := strings.Cut(target, "/")
	if !hasCluster {
		cluster, name = "", target
	}
	var found []pve.Node
	for _, n := range nodes {
		if strings.EqualFold(n.Name, name) && (cluster == "" || strings.EqualFold(n.Cluster, cluster)) {
			found = append(found, n)
		}
	}
	switch len(found) {
	case 0:
		return refuse(textReply(chat.SeverityWarning, r.t("node_not_found", target)))
	case 1:
	default:
		return refuse(textReply(chat.SeverityWarning, r.t("node_ambiguous", target, found[0].Cluster+"/"+found[0].Name)))
	}
	n := found[0]
	sub := nodeSubject(n)
	if dec := r.s.policy.Decide(r.user.ID, actionNodePower, &sub); !dec.Allowed {
		d.audit(ctx, r, store.AuditEntry{Decision: "refused", Reason: string(dec.Reason), Command: clip(r.text), Cluster: n.Cluster})
		return refuse(textReply(chat.SeverityWarning, r.refusal(dec, "")))
	}
	return n, nil
}

// nodePower handles node reboot, shutdown and wake.
func (d *Dispatcher) nodePower(ctx context.Context, r *req, cmd Command) []chat.Reply {
	n, rep := d.nodeTarget(ctx, r, cmd.Target)
	if rep != nil {
		return []chat.Reply{*rep}
	}
	command := nodeCommand(cmd.Verb)
	r.params = url.Values{"command": {command}}
	if command == nodeWake {
		if n.Status == "online" {
			return []chat.Reply{textReply(chat.SeverityInfo, r.t("node_already_online", n.Name))}
		}
		if !r.s.confirm[actionNodePower] {
			return d.sendNodePower(ctx, r, n.Cluster, n.Name, r.m.ID, "")
		}
		c := store.Confirmation{Action: actionNodePower, Cluster: n.Cluster, Node: n.Name, GuestName: n.Name}
		out := chat.Reply{Severity: chat.SeverityInfo, Title: r.t("node_confirm_title", actionWord(r.s.lang, "node_wake"), n.Name),
			Fields: []chat.Field{{Label: r.t("f_node"), Value: n.Name}, {Label: r.t("f_state"), Value: stateWord(r.s.lang, n.Status)}},
			Lines:  []string{r.t("node_effect_wake", n.Name)}}
		return []chat.Reply{d.confirmWith(ctx, r, c, out, "")}
	}
	if n.Status != "online" {
		return []chat.Reply{textReply(chat.SeverityInfo, r.t("node_not_online", n.Name, stateWord(r.s.lang, n.Status)))}
	}
	guests, _ := d.o.Fleet.Guests(ctx)
	var running, ha, protected []string
	for _, g := range guests {
		if g.Cluster != n.Cluster || g.Node != n.Name || g.Status != "running" {
			continue
		}
		running = append(running, g.Name)
		if g.HAState != "" {
			ha = append(ha, g.Name)
		}
		if r.s.policy.Protected(g.Subject()) {
			protected = append(protected, guestLabel(r, g))
		}
	}
	if len(protected) > 0 && r.user.Role != config.RoleAdmin {
		d.audit(ctx, r, store.AuditEntry{Decision: "refused", Reason: string(access.ReasonProtected), Command: clip(r.text), Cluster: n.Cluster})
		return []chat.Reply{textReply(chat.SeverityWarning, r.t("node_protected_guests", n.Name, strings.Join(protected, r.t("list_sep"))))}
	}
	// A WeCom card shows rows of at most 26 characters and about 160 characters of grey
	// text: the verdicts go in rows, the warnings first in the text, the names last.
	fields := []chat.Field{{Label: r.t("f_node"), Value: n.Name}, {Label: r.t("f_guests_running"), Value: strconv.Itoa(len(running))}}
	if r.s.multi {
		fields = append([]chat.Field{{Label: r.t("f_cluster"), Value: n.Cluster}}, fields...)
	}
	var warn []string
	typeName := false
	st, err := d.o.Fleet.ClusterStatus(ctx, n.Cluster)
	switch {
	case err != nil:
		fields = append(fields, chat.Field{Label: r.t("f_quorum"), Value: r.t("quorum_unknown")})
		typeName = true
	case st.KeepsQuorumWithout(n.Name):
		fields = append(fields, chat.Field{Label: r.t("f_quorum"), Value: r.t("quorum_kept")})
	default:
		fields = append(fields, chat.Field{Label: r.t("f_quorum"), Value: r.t("quorum_lost")})
		warn = append(warn, r.t("node_effect_quorum_lost", n.Name))
		typeName = true
	}
	if why := d.botOn(r, n, guests); why != "" {
		fields = append(fields, chat.Field{Label: r.t("f_bot"), Value: why})
		typeName = true
	}
	for _, m := range st.Nodes {
		if m.Local && strings.EqualFold(m.Name, n.Name) {
			warn = append(warn, r.t("node_effect_api", n.Name))
		}
	}
	var lines []string
	if len(running) == 0 {
		lines = append(lines, r.t("node_effect_no_guests"))
	} else {
		lines = append(lines, r.t("node_effect_guests", namesWithin(r, running, 40)))
	}
	if len(ha) > 0 {
		lines = append(lines, r.t("node_effect_ha", namesWithin(r, ha, 24)))
	}
	if command == nodeReboot {
		lines = append(lines, r.t("node_effect_follow", n.Name))
	} else {
		lines = append(lines, r.t("node_effect_off", n.Name))
	}
	if typeName {
		r.params.Set("type_name", n.Name)
	}
	c := store.Confirmation{Action: actionNodePower, Cluster: n.Cluster, Node: n.Name, GuestName: n.Name}
	out := chat.Reply{Severity: chat.SeverityError, Title: r.t("node_confirm_title", actionWord(r.s.lang, "node_"+command), n.Name), Fields: fields, Lines: append(warn, lines...)}
	rep = &chat.Reply{}
	*rep = d.confirmWith(ctx, r, c, out, "")
	if typeName && rep.Code != "" {
		// What to type comes first: it is what the user must do.
		rep.Lines = append([]string{r.t("node_type_name", n.Name, rep.Code)}, rep.Lines...)
	}
	return []chat.Reply{*rep}
}

// namesWithin joins names with the list separator until about limit characters, then says
// how many more there are.
func namesWithin(r *req, names []string, limit int) string {
	return joinWithin(r, names, r.t("list_sep"), limit)
}

// joinWithin joins names with sep until about limit characters, then says how many more.
func joinWithin(r *req, names []string, sep string, limit int) string {
	out, n := "", 0
	for i, name := range names {
		next := out
		if i > 0 {
			next += sep
		}
		next += name
		if i > 0 && utf8.RuneCountInString(next) > limit {
			break
		}
		out, n = next, i+1
	}
	if n < len(names) {
		out += r.t("names_more", len(names)-n)
	}
	return out
}

// botOn says, for a card row, that the bot itself may run on node n ("" when nothing says
// so): the cluster's bot_guest running there, or a running guest there named like the bot.
func (d *Dispatcher) botOn(r *req, n pve.Node, guests []pve.Guest) string {
	hint := r.s.botGuest[n.Cluster]
	for _, g := range guests {
		if g.Cluster != n.Cluster || g.Node != n.Name || g.Status != "running" {
			continue
		}
		hinted := hint != "" && (strings.EqualFold(g.Name, hint) || strconv.Itoa(g.VMID) == hint)
		if lower := strings.ToLower(g.Name); hinted || strings.Contains(lower, "wecom-home-ops") || strings.Contains(lower, "wecom-bot") {
			return r.t("node_bot_here", g.Name)
		}
	}
	return ""
}

// needsTypedName stops a confirmation that asks for the node's name typed with its code
// when the name was not typed (a button, or the code alone): it stays usable, and the
// answer says what to type. Anything else is left to TakeConfirmation to judge.
func (d *Dispatcher) needsTypedName(ctx context.Context, r *req, idOrCode, typed string) (chat.Reply, bool) {
	c, err := d.o.Store.PeekConfirmation(ctx, idOrCode, r.user.ID)
	if err != nil {
		return chat.Reply{}, false
	}
	p, _ := url.ParseQuery(c.Params)
	want := p.Get("type_name")
	if want == "" || strings.EqualFold(strings.TrimSpace(typed), want) {
		return chat.Reply{}, false
	}
	key := "node_type_name"
	if typed != "" {
		key = "node_type_name_wrong"
	}
	return textReply(chat.SeverityWarning, r.t(key, want, c.Code)), true
}

// confirmedOther runs a confirmed action that is not one guest's: a node power command or
// a bulk action. ok is false for a guest's action.
func (d *Dispatcher) confirmedOther(ctx context.Context, r *req, c store.Confirmation, updateCode string) ([]chat.Reply, bool) {
	switch {
	case c.Action == actionNodePower:
		r.text = actionNodePower + " " + r.params.Get("command") + " " + c.Cluster + "/" + c.Node
		sub := selector.Subject{Cluster: c.Cluster, Node: c.Node}
		if dec := r.s.policy.Decide(r.user.ID, actionNodePower, &sub); !dec.Allowed {
			d.audit(ctx, r, store.AuditEntry{Decision: "refused", Reason: string(dec.Reason) + " (at confirmation)", Command: r.text, Cluster: c.Cluster})
			rep := textReply(chat.SeverityWarning, r.refusal(dec, ""))
			rep.UpdateCode = updateCode
			return []chat.Reply{rep}, true
		}
		return d.sendNodePower(ctx, r, c.Cluster, c.Node, c.ID, updateCode), true
	case r.params.Has("bulk"):
		return d.runBulk(ctx, r, c, updateCode), true
	}
	return nil, false
}

// sendNodePower journals and sends one node command (r.params "command"), then follows the
// node in the background.
func (d *Dispatcher) sendNodePower(ctx context.Context, r *req, cluster, node, journalID, updateCode string) []chat.Reply {
	command := r.params.Get("command")
	start := d.o.Now()
	if rep, ok := d.begin(ctx, r, pve.Guest{Cluster: cluster, Node: node}, actionNodePower, journalID, updateCode, start); !ok {
		return []chat.Reply{rep}
	}
	var mac string
	var err error
	if command == nodeWake {
		mac, err = d.o.Fleet.WakeNode(ctx, cluster, node)
	} else {
		err = d.o.Fleet.NodePower(ctx, cluster, node, pve.NodeCommand(command))
	}
	if err != nil {
		d.nodeDone(r, cluster, node, journalID, start, err.Error())
		rep := d.nodeFailed(r, node, command, err)
		rep.UpdateCode = updateCode
		return []chat.Reply{rep}
	}
	if err := d.o.Store.ActionSent(context.WithoutCancel(ctx), journalID, ""); err != nil {
		d.log.Error("cannot record the sent node command", zap.Error(err))
	}
	d.followNode(r, cluster, node, command, journalID, start)
	title := r.t("node_sent_"+command, node)
	rep := chat.Reply{Kind: chat.ReplyCard, Severity: chat.SeverityInfo, Title: title, Fields: []chat.Field{{Label: r.t("f_node"), Value: node}}}
	if mac != "" {
		rep.Fields = append(rep.Fields, chat.Field{Label: "MAC", Value: mac})
	}
	rep.UpdateCode = updateCode
	return []chat.Reply{rep}
}

// nodeFailed says why PVE refused a node command; a node without a wake-on-LAN MAC is told
// how to set one.
func (d *Dispatcher) nodeFailed(r *req, node, command string, err error) chat.Reply {
	var pe *pve.Error
	if errors.As(err, &pe) && strings.Contains(pe.Reason, "No wake on LAN MAC address") {
		return textReply(chat.SeverityWarning, r.t("node_no_mac", node), r.t("node_no_mac_howto", node))
	}
	reason := d.pveReason(r, err)
	if errors.As(err, &pe) && strings.Contains(pe.Reason, "is local node") {
		reason = r.t("node_wake_local", node)
	}
	return chat.Reply{Kind: chat.ReplyCard, Severity: chat.SeverityError, Title: r.t("node_failed", node, actionWord(r.s.lang, "node_"+command)),
		Fields: []chat.Field{{Label: r.t("f_reason"), Value: reason}}}
}

// followNode follows the node after its command, in the bot's own context, bounded by
// NodeTimeout: a reboot until it went offline and came back, a shutdown until it is off, a
// wake until it is online; then closes the journal entry and tells the user.
func (d *Dispatcher) followNode(r *req, cluster, node, command, journalID string, start time.Time) {
	d.follow.Add(1)
	go func() {
		defer d.follow.Done()
		ctx, cancel := context.WithTimeout(chat.WithSource(d.bg, r.m.Source), d.o.NodeTimeout)
		defer cancel()
		var err error
		switch command {
		case nodeReboot:
			if err = d.o.Fleet.WaitNode(ctx, cluster, node, false); err == nil {
				err = d.o.Fleet.WaitNode(ctx, cluster, node, true)
			}
		case nodeShutdown:
			err = d.o.Fleet.WaitNode(ctx, cluster, node, false)
		default:
			err = d.o.Fleet.WaitNode(ctx, cluster, node, true)
		}
		if d.bg.Err() != nil {
			return // shutting down: the entry stays "sent" and Recover follows it again
		}
		var rep chat.Reply
		if err != nil {
			d.nodeDone(r, cluster, node, journalID, start, "not settled: "+err.Error())
			rep = textReply(chat.SeverityWarning, r.t("node_not_back_"+command, node, durWord(r, d.o.NodeTimeout)))
		} else {
			d.nodeDone(r, cluster, node, journalID, start, "OK")
			rep = chat.Reply{Kind: chat.ReplyCard, Severity: chat.SeverityOK, Title: r.t("node_back_"+command, node, durWord(r, d.o.Now().Sub(start)))}
		}
		d.notify(ctx, r.user.ID, rep)
	}()
}

// nodeDone closes a node command's journal entry and audits it.
func (d *Dispatcher) nodeDone(r *req, cluster, node, journalID string, start time.Time, result string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.o.Store.ActionDone(ctx, journalID, result); err != nil {
		d.log.Error("cannot record node command result", zap.Error(err))
	}
	d.audit(ctx, r, store.AuditEntry{Decision: "allowed", Command: clip("node " + r.params.Get("command") + " " + node), Cluster: cluster,
		Result: clip(result), Duration: d.o.Now().Sub(start)})
}

// recoverOther settles, after a restart, a journal entry that is not one guest's action: a
// node command sent is followed again, one interrupted while sending is never re-sent; bulk
// entries resume their plan (bulk.go), and the guests' entries of a bulk are left to it.
func (d *Dispatcher) recoverOther(ctx context.Context, r *req, a store.Action) bool {
	switch {
	case a.Action == actionNodePower:
		if a.State == "sent" {
			d.followNode(r, a.Cluster, a.Node, r.params.Get("command"), a.ID, a.Started)
			return true
		}
		d.nodeDone(r, a.Cluster, a.Node, a.ID, a.Started, "unknown: interrupted before PVE answered")
		d.notify(chat.WithSource(ctx, a.Source), a.User, textReply(chat.SeverityWarning, r.t("recover_unknown", actionWord(r.s.lang, "node_"+r.params.Get("command")), a.Node)))
		return true
	case a.Action == actionBulk:
		d.resumeBulk(ctx, r, a)
		return true
	case isBulkPart(a.ID):
		return true
	}
	return false
}
