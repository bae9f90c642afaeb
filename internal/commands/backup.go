package commands

// Backups from chat (docs/pve-features.md §2): the state of the user's guests' backups, the
// backups of one guest, and a backup now. The write goes through the power actions' path
// (journal before the one vzdump POST, followed as a task, audited); a click on a card's
// "back up again" button is always confirmed.

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
)

// The rows of the backup commands (table.go).
var (
	backupStatusRow = Spec{Verb: VerbBackupStatus, Words: []string{"备份状态"}, Topic: "backup", Action: "backups", Role: config.RoleViewer,
		Help:    []HelpLine{{"backup_status", Text{"backup status", "备份状态"}}},
		Example: Text{"backup status", "备份状态"},
		Run:     one(func(d *Dispatcher, ctx context.Context, r *req, _ Command) chat.Reply { return d.backupStatus(ctx, r) })}
	backupListRow = Spec{Verb: VerbBackupList, Words: []string{"备份记录"}, Topic: "backup", Action: "backups", Role: config.RoleViewer, Args: ArgTarget,
		Help:    []HelpLine{{"backup_list", Text{"backup list <target>", "备份记录 <目标>"}}},
		Example: Text{"backup list 101", "备份记录 101"},
		Run:     one((*Dispatcher).backupList)}
	backupRow = Spec{Verb: VerbBackup, Words: []string{"backup", "备份"}, Noun: "guest", Action: "backup", Role: config.RoleOperator, Changes: true,
		Args: ArgTargetArgs, MaxArgs: 1,
		Sub:     map[string]Verb{"status": VerbBackupStatus, "状态": VerbBackupStatus, "list": VerbBackupList, "ls": VerbBackupList, "记录": VerbBackupList},
		Help:    []HelpLine{{"backup", Text{"vm backup <target> [storage]", "备份 <目标> [存储]"}}},
		Example: Text{"vm backup 101", "备份 101"},
		Run:     (*Dispatcher).backup}
)

// backupSender starts one vzdump of the guest in snapshot mode (a stopped guest is backed up
// in stop mode by PVE itself).
var backupSender = sender{send: func(ctx context.Context, f Fleet, g pve.Guest, p url.Values) (string, error) {
	upid, err := f.StartBackup(ctx, g, p.Get("storage"), pve.BackupSnapshot)
	if err == nil && upid == "" {
		// PVE answered "OK": the guest is not on the node asked (it moved); nothing ran.
		return "", &pve.Error{Kind: pve.KindPVE, Cluster: g.Cluster, Op: "backup " + strconv.Itoa(g.VMID), Reason: "PVE started no backup: the guest is not on node " + g.Node}
	}
	return upid, err
}, tasks: []string{"vzdump"}, details: backupDetails}

// backupDetails reads size and duration of a finished backup, or PVE's reason for a failed
// one, from the task log (vzdump's exit status only says "job errors").
func backupDetails(ctx context.Context, d *Dispatcher, r *req, g pve.Guest, upid string, res *pve.TaskResult) []chat.Field {
	lines, err := d.o.Fleet.TaskLog(ctx, g.Cluster, g.Node, upid, 5000)
	if err != nil {
		return nil
	}
	guests, jobErr := pve.ParseVzdumpLog(lines)
	var out []chat.Field
	for _, gr := range guests {
		if gr.VMID != g.VMID {
			continue
		}
		if !gr.OK && gr.Reason != "" {
			res.Reason = gr.Reason
		}
		if gr.OK && gr.Size != "" {
			out = append(out, chat.Field{Label: r.t("f_size"), Value: gr.Size})
		}
		if gr.OK && gr.Duration > 0 {
			res.Duration = gr.Duration
		}
	}
	if jobErr != "" && res.Reason == "" {
		res.Reason = jobErr
	}
	return out
}

// backupStorages are the storages of g's cluster that take backups and that g's node
// reaches, in PVE's order.
func backupStorages(stor []pve.Storage, g pve.Guest) []pve.Storage {
	var out []pve.Storage
	seen := map[string]bool{}
	for _, s := range stor {
		if s.Cluster != g.Cluster || s.Node != g.Node && !s.Shared || seen[s.Name] || !slices.Contains(strings.Split(s.Content, ","), "backup") {
			continue
		}
		seen[s.Name] = true
		out = append(out, s)
	}
	return out
}

// backup starts a backup now: `vm backup <target> [storage]`, to the storage named, else the
// storage of the backup job that covers the guest, else the first storage that takes backups.
func (d *Dispatcher) backup(ctx context.Context, r *req, cmd Command) []chat.Reply {
	st, rep := d.idleTarget(ctx, r, cmd, "backup")
	if rep != nil {
		return []chat.Reply{*rep}
	}
	g := st.Guest
	stor, _ := d.o.Fleet.Storage(ctx)
	usable := backupStorages(stor, g)
	names := make([]string, 0, len(usable))
	for _, s := range usable {
		names = append(names, s.Name)
	}
	storage := ""
	if len(cmd.Args) > 0 {
		for _, n := range names {
			if strings.EqualFold(n, cmd.Args[0]) {
				storage = n
			}
		}
		if storage == "" {
			out := textReply(chat.SeverityWarning, r.t("backup_bad_storage", inert(cmd.Args[0]), guestLabel(r, g)))
			if len(names) > 0 {
				out.Lines = []string{r.t("backup_storages", strings.Join(names, r.t("list_sep")))}
			}
			return []chat.Reply{out}
		}
	} else {
		storage = d.usualStorage(ctx, g, names)
	}
	if storage == "" {
		return []chat.Reply{textReply(chat.SeverityWarning, r.t("backup_no_storage", guestLabel(r, g)))}
	}
	r.params = url.Values{"storage": {storage}}
	impact := []string{r.t("backup_effect", guestLabel(r, g), storage)}
	if st.Status == "running" {
		impact = append(impact, r.t("backup_effect_running"))
	} else {
		impact = append(impact, r.t("backup_effect_stopped"))
	}
	// A click (a notification's "back up again") is confirmed, so a stray tap starts nothing.
	if matched := byPart(g, cmd); r.s.confirm["backup"] || matched != "" || r.m.Kind == chat.KindCardClick {
		return []chat.Reply{d.askConfirmation(ctx, r, st, "backup", matched, impact...)}
	}
	return d.execute(ctx, r, g, "backup", r.m.ID, "")
}

// usualStorage is the storage of the first enabled backup job that covers g, when g's node
// reaches it; else the first storage that takes backups.
func (d *Dispatcher) usualStorage(ctx context.Context, g pve.Guest, names []string) string {
	jobs, _ := d.o.Fleet.BackupJobs(ctx)
	for _, j := range jobs[g.Cluster] {
		if j.Enabled && j.Storage != "" && (j.All || slices.Contains(j.VMIDs, g.VMID)) && slices.Contains(names, j.Storage) {
			return j.Storage
		}
	}
	if len(names) > 0 {
		return names[0]
	}
	return ""
}

// guestBackups is what backup status shows of one guest.
type guestBackups struct {
	g       pve.Guest
	last    *pve.BackupVolume
	failed  *pve.GuestBackupResult
	failAt  time.Time
	nojob   bool
	anySeen bool
}

// backupStatus shows, per guest the user may see, the last backup (time, size, storage) or
// that there is none, whether no job covers it, and the failures of the last 24 h first.
func (d *Dispatcher) backupStatus(ctx context.Context, r *req) chat.Reply {
	guests, errs := d.visibleGuests(ctx, r)
	vols, verrs := d.o.Fleet.AllBackups(ctx)
	now := d.o.Now()
	runs, _ := d.o.Fleet.BackupRuns(ctx, now.Add(-24*time.Hour))
	uncovered, _ := d.o.Fleet.NotBackedUp(ctx)
	key := func(cluster string, vmid int) string { return cluster + "/" + strconv.Itoa(vmid) }
	rows := map[string]*guestBackups{}
	var order []string
	for _, g := range guests {
		if g.Template {
			continue
		}
		k := key(g.Cluster, g.VMID)
		rows[k] = &guestBackups{g: g}
		order = append(order, k)
	}
	for i := range vols {
		if row := rows[key(vols[i].Cluster, vols[i].VMID)]; row != nil && row.last == nil {
			row.last = &vols[i] // newest first
		}
	}
	for _, run := range runs {
		for i := range run.Failed {
			row := rows[key(run.Cluster, run.Failed[i].VMID)]
			if row == nil || row.failed != nil || row.last != nil && row.last.Time.After(run.End) {
				continue // a later backup succeeded
			}
			row.failed, row.failAt = &run.Failed[i], run.End
		}
	}
	for _, u := range uncovered {
		if row := rows[key(u.Cluster, u.VMID)]; row != nil {
			row.nojob = true
		}
	}
	var failed, never, ok []string
	for _, k := range order {
		row := rows[k]
		label := guestLabel(r, row.g)
		switch {
		case row.failed != nil:
			failed = append(failed, r.t("backup_line_failed", label, r.clock(row.failAt), inert(row.failed.Reason)))
		case row.last == nil:
			line := r.t("backup_line_never", label)
			if row.nojob {
				line += r.t("backup_no_job")
			}
			never = append(never, line)
		default:
			line := r.t("backup_line_ok", label, r.clock(row.last.Time), r.t("ago", durWord(r, now.Sub(row.last.Time))), i18n.Bytes(row.last.Size), row.last.Storage)
			if row.nojob {
				line += r.t("backup_no_job")
			}
			ok = append(ok, line)
		}
	}
	rep := chat.Reply{Kind: chat.ReplyList, Severity: chat.SeverityInfo, Title: r.t("backup_status_title", len(failed), len(never), len(ok))}
	if len(failed) > 0 {
		rep.Severity = chat.SeverityError
	} else if len(never) > 0 {
		rep.Severity = chat.SeverityWarning
	}
	rep.Lines = append(append(append(rep.Lines, failed...), never...), ok...)
	if len(order) == 0 {
		rep.Lines = []string{r.t("backup_no_guests")}
	}
	if len(vols) == 0 && len(order) > 0 {
		rep.Footer = r.t("backup_none_visible")
	}
	for c, err := range verrs {
		if errs == nil {
			errs = map[string]error{}
		}
		if _, had := errs[c]; !had {
			errs[c] = err
		}
	}
	if len(errs) > 0 {
		rep.Severity = chat.SeverityWarning
		rep.Lines = append(rep.Lines, d.clusterErrors(r, errs)...)
	}
	return rep
}

// backupList lists one guest's backups on every storage its node reaches: time, size,
// storage, notes, protected, and the PBS verification state when there is one.
func (d *Dispatcher) backupList(ctx context.Context, r *req, cmd Command) chat.Reply {
	g, rep := d.writeTarget(ctx, r, cmd, "backups")
	if rep != nil {
		return *rep
	}
	stor, _ := d.o.Fleet.Storage(ctx)
	var vols []pve.BackupVolume
	var firstErr error
	for _, s := range backupStorages(stor, g) {
		list, err := d.o.Fleet.Backups(ctx, g.Cluster, g.Node, s.Name, g.VMID)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		vols = append(vols, list...)
	}
	slices.SortStableFunc(vols, func(a, b pve.BackupVolume) int { return b.Time.Compare(a.Time) })
	out := chat.Reply{Kind: chat.ReplyList, Severity: chat.SeverityInfo, Title: r.t("backup_list_title", guestLabel(r, g), len(vols))}
	for _, v := range vols {
		line := fmt.Sprintf("%s · %s · %s", r.clock(v.Time), i18n.Bytes(v.Size), v.Storage)
		if v.Protected {
			line += " · " + r.t("backup_protected")
		}
		switch v.Verification {
		case "ok":
			line += " · " + r.t("backup_verified")
		case "failed":
			line += " · " + r.t("backup_verify_failed")
		}
		if v.Encrypted {
			line += " · " + r.t("backup_encrypted")
		}
		if v.Notes != "" {
			line += " — " + inert(v.Notes)
		}
		out.Lines = append(out.Lines, line)
	}
	if len(vols) == 0 {
		out.Lines = []string{r.t("backup_list_none")}
		out.Footer = r.t("backup_none_visible")
	}
	if firstErr != nil {
		out.Severity = chat.SeverityWarning
		out.Lines = append(out.Lines, d.pveReason(r, firstErr))
	}
	sub := g.Subject()
	if dec := r.s.policy.Decide(r.user.ID, "backup", &sub); dec.Allowed {
		out.Buttons = []chat.Button{{Text: r.t("backup_btn_now"), Key: "vm backup " + g.Ref(), Style: 1}}
	}
	return out
}
