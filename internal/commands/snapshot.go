package commands

// Snapshots from chat: list (a tree), take, roll back, delete. Every write goes through the
// power actions' path (journal before the request, one request, followed as a task, audited);
// a rollback and a delete are always confirmed, and their confirmation states the impact
// (docs/pve-features.md §3) from data already read.

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/access"
	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// ramWords ask for the RAM state to be saved with a snapshot.
var ramWords = []string{"--ram", "ram", "含内存", "内存"}

// maxSnapshotButtons bounds the rollback buttons of a snapshot list (WeCom cards hold few).
const maxSnapshotButtons = 5

// writeTarget finds the guest of a write command and checks that the user may run action on
// it, in an order that tells a scoped user nothing about guests outside the scope: the role
// first, then the lookup among the guests the user may see, then access to that guest, then
// its kind. It returns the reply to give instead when the user may not.
func (d *Dispatcher) writeTarget(ctx context.Context, r *req, cmd Command, action string) (pve.Guest, *chat.Reply) {
	refuse := func(rep chat.Reply) (pve.Guest, *chat.Reply) { return pve.Guest{}, &rep }
	if dec := r.s.policy.Decide(r.user.ID, action, nil); dec.Reason == access.ReasonNoRole {
		d.audit(ctx, r, store.AuditEntry{Decision: "refused", Reason: string(dec.Reason), Command: clip(r.text)})
		return refuse(textReply(chat.SeverityWarning, r.refusal(dec, "")))
	}
	g, err := d.find(ctx, r, cmd.Target)
	if err != nil {
		return refuse(d.findError(ctx, r, cmd.Target, action, err))
	}
	sub := g.Subject()
	if dec := r.s.policy.Decide(r.user.ID, action, &sub); !dec.Allowed {
		d.audit(ctx, r, store.AuditEntry{Decision: "refused", Reason: string(dec.Reason), Command: clip(r.text), Cluster: g.Cluster, VMID: g.VMID})
		rep := textReply(chat.SeverityWarning, r.refusal(dec, guestLabel(r, g)))
		if g.PoolUnknown && dec.Reason == access.ReasonProtected {
			rep.Lines = append(rep.Lines, r.t("pool_unknown_protected"))
		}
		return refuse(rep)
	}
	if cmd.Kind != "" && g.Type != cmd.Kind {
		// "ct start 101" where 101 is a VM: say so rather than act on the wrong kind.
		return refuse(textReply(chat.SeverityWarning, r.t("wrong_kind", guestLabel(r, g), typeWord(r.s.lang, g.Type))))
	}
	return g, nil
}

// byPart is the target the user typed when it named g by a part of its name only: a write on
// such a guest is confirmed whatever the action, so the user sees which guest it is first.
func byPart(g pve.Guest, cmd Command) string {
	if pve.NamedExactly(g, cmd.Target) {
		return ""
	}
	return cmd.Target
}

// idleTarget is writeTarget for an action PVE refuses on a locked guest (snapshots, backups):
// it also reads the guest's state and refuses a lock before anything is sent.
func (d *Dispatcher) idleTarget(ctx context.Context, r *req, cmd Command, action string) (pve.GuestStatus, *chat.Reply) {
	g, rep := d.writeTarget(ctx, r, cmd, action)
	if rep != nil {
		return pve.GuestStatus{}, rep
	}
	st, err := d.o.Fleet.GuestStatus(ctx, g)
	if err != nil {
		rep := d.pveError(r, err)
		return pve.GuestStatus{}, &rep
	}
	if rep, busy := d.busy(ctx, r, st); busy {
		return pve.GuestStatus{}, &rep
	}
	return st, nil
}

// busy refuses a write on a locked guest before anything is sent, naming the lock.
func (d *Dispatcher) busy(ctx context.Context, r *req, st pve.GuestStatus) (chat.Reply, bool) {
	if st.Lock == "" {
		return chat.Reply{}, false
	}
	d.audit(ctx, r, store.AuditEntry{Decision: "refused", Reason: "guest locked: " + st.Lock, Command: clip(r.text), Cluster: st.Cluster, VMID: st.VMID})
	return textReply(chat.SeverityWarning, r.t("snap_locked", guestLabel(r, st.Guest), lockWord(r, st.Lock))), true
}

// lockWord names a PVE lock in words ("备份中"), or the lock itself when it is unknown.
func lockWord(r *req, lock string) string {
	if k := "lock_" + strings.ReplaceAll(lock, "-", "_"); r.t(k) != k {
		return r.t(k)
	}
	return lock
}

// snapshots lists a guest's snapshots as a tree, newest branch last, with a rollback button
// per snapshot (the newest few) for a user who may roll this guest back.
func (d *Dispatcher) snapshots(ctx context.Context, r *req, cmd Command) chat.Reply {
	g, rep := d.writeTarget(ctx, r, cmd, "snapshots")
	if rep != nil {
		return *rep
	}
	list, err := d.o.Fleet.Snapshots(ctx, g)
	if err != nil {
		return d.pveError(r, err)
	}
	out := chat.Reply{Kind: chat.ReplyList, Severity: chat.SeverityInfo, Title: r.t("snap_list_title", titleLabel(r, g), len(list.List))}
	if len(list.List) == 0 {
		out.Lines = []string{r.t("snap_none")}
		return out
	}
	now := d.o.Now()
	var walk func(parent string, depth int)
	walk = func(parent string, depth int) {
		for _, sn := range list.Children(parent) {
			line := strings.Repeat("  ", depth)
			if depth > 0 {
				line += "└ "
			}
			line += fmt.Sprintf("%s · %s · %s", inert(sn.Name), r.clock(sn.Time), r.t("ago", durWord(r, now.Sub(sn.Time))))
			if sn.VMState {
				line += " · " + r.t("snap_ram")
			}
			if sn.Description != "" {
				line += " — " + inert(firstLine(sn.Description))
			}
			out.Lines = append(out.Lines, line)
			if sn.Name == list.Current {
				out.Lines = append(out.Lines, strings.Repeat("  ", depth+1)+"└ "+r.t("snap_current"))
			}
			walk(sn.Name, depth+1)
		}
	}
	walk("", 0)
	if list.Current == "" {
		out.Lines = append(out.Lines, r.t("snap_current"))
	}
	sub := g.Subject()
	if dec := r.s.policy.Decide(r.user.ID, "rollback", &sub); dec.Allowed {
		for i := len(list.List) - 1; i >= 0 && len(out.Buttons) < maxSnapshotButtons; i-- {
			sn := list.List[i]
			out.Buttons = append(out.Buttons, runButton(r.t("snap_btn_rollback", sn.Name), r.commandFor(Command{Verb: VerbRollback}, guestRef(r, g)+" "+strings.ToLower(sn.Name)), 2))
		}
	}
	return out
}

// takeSnapshot takes a snapshot: `vm snapshot <target> [name] [--ram] [description…]`.
func (d *Dispatcher) takeSnapshot(ctx context.Context, r *req, cmd Command) []chat.Reply {
	st, rep := d.idleTarget(ctx, r, cmd, "snapshot")
	if rep != nil {
		return []chat.Reply{*rep}
	}
	g := st.Guest
	var name string
	ram := false
	var desc []string
	for i, a := range cmd.Args {
		switch {
		case slices.Contains(ramWords, a):
			ram = true
		case i == 0:
			name = a
		default:
			desc = append(desc, a)
		}
	}
	if name == "" {
		name = "chat_" + d.o.Now().In(r.zone()).Format("20060102_1504")
	}
	if !pve.ValidSnapshotName(g.Type, name) {
		return []chat.Reply{textReply(chat.SeverityWarning, r.t("snap_bad_name", inert(name)))}
	}
	if ram && (g.Type != "qemu" || st.Status != "running") {
		return []chat.Reply{textReply(chat.SeverityWarning, r.t("snap_ram_running_vm", guestLabel(r, g)))}
	}
	r.params = url.Values{"snap": {name}}
	if ram {
		r.params.Set("ram", "1")
	}
	if len(desc) > 0 {
		r.params.Set("description", strings.Join(desc, " "))
	}
	if matched := byPart(g, cmd); r.s.confirm["snapshot"] || matched != "" {
		return []chat.Reply{d.askConfirmation(ctx, r, st, "snapshot", matched, r.t("snap_effect_take", name, guestLabel(r, g)))}
	}
	return d.execute(ctx, r, g, "snapshot", r.m.ID, "")
}

// findSnapshot finds the snapshot a user named (names are matched without case: the parser
// lower-cases what is typed, PVE keeps the case it was given).
func findSnapshot(list pve.Snapshots, name string) (pve.Snapshot, bool) {
	for _, sn := range list.List {
		if strings.EqualFold(sn.Name, name) {
			return sn, true
		}
	}
	return pve.Snapshot{}, false
}

// snapshotTarget reads what a rollback or delete needs: the guest's state and snapshots,
// and the snapshot named in the command.
func (d *Dispatcher) snapshotTarget(ctx context.Context, r *req, cmd Command, action string) (pve.GuestStatus, pve.Snapshots, pve.Snapshot, *chat.Reply) {
	fail := func(rep chat.Reply) (pve.GuestStatus, pve.Snapshots, pve.Snapshot, *chat.Reply) {
		return pve.GuestStatus{}, pve.Snapshots{}, pve.Snapshot{}, &rep
	}
	st, rep := d.idleTarget(ctx, r, cmd, action)
	if rep != nil {
		return fail(*rep)
	}
	g := st.Guest
	list, err := d.o.Fleet.Snapshots(ctx, g)
	if err != nil {
		return fail(d.pveError(r, err))
	}
	sn, ok := findSnapshot(list, cmd.Args[0])
	if !ok {
		names := make([]string, 0, len(list.List))
		for _, s := range list.List {
			names = append(names, s.Name)
		}
		out := textReply(chat.SeverityWarning, r.t("snap_not_found", inert(cmd.Args[0]), guestLabel(r, g)))
		if len(names) > 0 {
			out.Lines = []string{r.t("snap_have", strings.Join(names, r.t("list_sep")))}
		}
		return fail(out)
	}
	return st, list, sn, nil
}

// rollback asks to roll a guest back to a snapshot, always, stating what is lost.
func (d *Dispatcher) rollback(ctx context.Context, r *req, cmd Command) []chat.Reply {
	st, list, sn, rep := d.snapshotTarget(ctx, r, cmd, "rollback")
	if rep != nil {
		return []chat.Reply{*rep}
	}
	g := st.Guest
	r.params = url.Values{"snap": {sn.Name}}
	impact := []string{r.t("snap_effect_lose", sn.Name, r.clock(sn.Time), durWord(r, d.o.Now().Sub(sn.Time)))}
	switch {
	case sn.VMState:
		impact = append(impact, r.t("snap_effect_ram"))
	case st.Status == "running":
		impact = append(impact, r.t("snap_effect_stop", guestLabel(r, g)))
	default:
		impact = append(impact, r.t("snap_effect_stays_stopped"))
	}
	if newer := list.Newer(sn); len(newer) > 0 {
		names := make([]string, 0, len(newer))
		for _, n := range newer {
			names = append(names, n.Name)
		}
		if d.onZFS(ctx, g) {
			impact = append(impact, r.t("snap_effect_zfs", strings.Join(names, r.t("list_sep"))))
		} else {
			impact = append(impact, r.t("snap_effect_newer_kept", strings.Join(names, r.t("list_sep"))))
		}
	}
	if g.HAState != "" || st.HAManaged {
		impact = append(impact, r.t("snap_effect_ha"))
	}
	return []chat.Reply{d.askConfirmation(ctx, r, st, "rollback", byPart(g, cmd), impact...)}
}

// onZFS reports whether any disk of g lives on a ZFS storage, where PVE only rolls back to
// the most recent snapshot. What cannot be read counts as not ZFS: PVE then refuses in words.
func (d *Dispatcher) onZFS(ctx context.Context, g pve.Guest) bool {
	cfg, err := d.o.Fleet.GuestConfig(ctx, g)
	if err != nil {
		return false
	}
	stor, _ := d.o.Fleet.Storage(ctx)
	for _, name := range cfg.DiskStorages {
		for _, s := range stor {
			if s.Cluster == g.Cluster && s.Name == name && (s.Node == g.Node || s.Shared) && (s.Type == "zfspool" || s.Type == "zfs") {
				return true
			}
		}
	}
	return false
}

// deleteSnapshot asks to delete a snapshot, always.
func (d *Dispatcher) deleteSnapshot(ctx context.Context, r *req, cmd Command) []chat.Reply {
	st, list, sn, rep := d.snapshotTarget(ctx, r, cmd, "delete_snapshot")
	if rep != nil {
		return []chat.Reply{*rep}
	}
	r.params = url.Values{"snap": {sn.Name}}
	impact := []string{r.t("snap_effect_delete", sn.Name, r.clock(sn.Time))}
	if kids := list.Children(sn.Name); len(kids) > 0 {
		impact = append(impact, r.t("snap_effect_children", len(kids)))
	}
	if sn.Name == list.Current {
		impact = append(impact, r.t("snap_effect_current"))
	}
	return []chat.Reply{d.askConfirmation(ctx, r, st, "delete_snapshot", byPart(st.Guest, cmd), impact...)}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// durWord is a duration in the user's words.
func durWord(r *req, d time.Duration) string {
	return i18n.Duration(r.s.lang, max(d, 0))
}
