package commands

// Migration from chat (docs/pve-features.md §6): `vm migrate <target> <node>`. Always
// confirmed. A running VM goes live when PVE's precondition check allows it (it says why not:
// local devices, local disks); a running container goes in restart mode, with the shutdown
// timeout said; an HA guest goes through HA, whose hamigrate task only queues the move, so
// the bot follows the guest until it is listed on the target node. The request itself is
// the write path's (write.go senders, power.go).

import (
	"context"
	"net/url"
	"strconv"
	"strings"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
)

// lxcRestartTimeout is the shutdown timeout of a container's restart migration: PVE's default.
const lxcRestartTimeout = 180

// sendMigrate sends the one migrate request as its params ask.
func sendMigrate(ctx context.Context, f Fleet, g pve.Guest, p url.Values) (string, error) {
	t, _ := strconv.Atoi(p.Get("timeout"))
	return f.Migrate(ctx, g, p.Get("target"), pve.MigrateOptions{Online: p.Get("online") == "1", Restart: p.Get("restart") == "1", Timeout: t})
}

// waitMigrate follows a migration: its task, then, for an HA guest, the guest itself until
// it is listed on the target node.
func waitMigrate(ctx context.Context, f Fleet, g pve.Guest, upid string, p url.Values) (pve.TaskResult, error) {
	res, err := f.Wait(ctx, g, upid)
	if err != nil || !res.OK {
		return res, err
	}
	if u, perr := pve.ParseUPID(upid); perr == nil && u.Type == "hamigrate" {
		moved, err := f.WaitGuestOn(ctx, g, p.Get("target"))
		if err != nil {
			return res, err
		}
		res.FinalState = moved.Status
	}
	return res, nil
}

// migrate asks to move a guest to another node of its cluster.
func (d *Dispatcher) migrate(ctx context.Context, r *req, cmd Command) []chat.Reply {
	g, rep := d.writeTarget(ctx, r, cmd, "migrate")
	if rep != nil {
		return []chat.Reply{*rep}
	}
	target := cmd.Args[0]
	nodes, _ := d.o.Fleet.Nodes(ctx)
	var tn *pve.Node
	for i := range nodes {
		if nodes[i].Cluster == g.Cluster && strings.EqualFold(nodes[i].Name, target) {
			tn = &nodes[i]
		}
	}
	switch {
	case tn == nil:
		return []chat.Reply{textReply(chat.SeverityWarning, r.t("node_not_found", target))}
	case tn.Name == g.Node:
		return []chat.Reply{textReply(chat.SeverityInfo, r.t("migrate_already_there", guestLabel(r, g), tn.Name))}
	case tn.Status != "online":
		return []chat.Reply{textReply(chat.SeverityWarning, r.t("node_not_online", tn.Name, stateWord(r.s.lang, tn.Status)))}
	}
	st, err := d.o.Fleet.GuestStatus(ctx, g)
	if err != nil {
		return []chat.Reply{d.pveError(r, err)}
	}
	if rep, ok := d.busy(ctx, r, st); ok {
		return []chat.Reply{rep}
	}
	label := guestLabel(r, g)
	r.params = url.Values{"target": {tn.Name}}
	impact := []string{r.t("migrate_effect", label, g.Node, tn.Name)}
	ha := g.HAState != "" || st.HAManaged
	running := st.Status == "running"
	if g.Type == "qemu" {
		// PVE's own precondition check, so that the user hears why not before anything is sent.
		chk, err := d.o.Fleet.CheckMigrate(ctx, g, tn.Name)
		if err != nil {
			return []chat.Reply{d.pveError(r, err)}
		}
		switch {
		case len(chk.LocalResources) > 0:
			return []chat.Reply{textReply(chat.SeverityWarning, r.t("migrate_local_devices", label, strings.Join(chk.LocalResources, r.t("list_sep"))))}
		case running && len(chk.LocalDisks) > 0:
			return []chat.Reply{textReply(chat.SeverityWarning, r.t("migrate_local_disks", label, strings.Join(chk.LocalDisks, r.t("list_sep"))))}
		case len(chk.Allowed) > 0 && !containsFold(chk.Allowed, tn.Name):
			return []chat.Reply{textReply(chat.SeverityWarning, r.t("migrate_not_allowed", label, tn.Name))}
		}
	}
	switch {
	case g.Type == "qemu" && running:
		r.params.Set("online", "1")
		impact = append(impact, r.t("migrate_effect_online"))
	case g.Type == "lxc" && running:
		r.params.Set("restart", "1")
		r.params.Set("timeout", strconv.Itoa(lxcRestartTimeout))
		impact = append(impact, r.t("migrate_effect_restart", label, lxcRestartTimeout))
	default:
		impact = append(impact, r.t("migrate_effect_offline"))
	}
	if ha {
		impact = append(impact, r.t("migrate_effect_ha", tn.Name))
	}
	return []chat.Reply{d.askConfirmation(ctx, r, st, "migrate", byPart(g, cmd), impact...)}
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
