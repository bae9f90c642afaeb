package report

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
)

// Backups is the report of the last 24 h of backups.
const Backups = "backups"

// BackupSource is what the backups report and the summary's backup line read; *pve.Fleet
// implements it. A Source without it gets no backup data.
type BackupSource interface {
	AllBackups(ctx context.Context) ([]pve.BackupVolume, map[string]error)
	BackupRuns(ctx context.Context, since time.Time) ([]pve.BackupRun, map[string]error)
	NotBackedUp(ctx context.Context) ([]pve.Guest, map[string]error)
}

// BackupData is what the backup sections show.
type BackupData struct {
	Volumes   []pve.BackupVolume // every backup visible, newest first
	Runs      []pve.BackupRun    // vzdump tasks of the last 24 h
	Uncovered []pve.Guest        // in no backup job
}

// gatherBackups reads the backup data (three calls; one content listing per storage).
func gatherBackups(ctx context.Context, src BackupSource, now time.Time, merge func(map[string]error)) *BackupData {
	b := &BackupData{}
	var errs map[string]error
	b.Volumes, errs = src.AllBackups(ctx)
	merge(errs)
	b.Runs, errs = src.BackupRuns(ctx, now.Add(-24*time.Hour))
	merge(errs)
	b.Uncovered, errs = src.NotBackedUp(ctx)
	merge(errs)
	return b
}

// guestBackup is one guest's backup state.
type guestBackup struct {
	g      pve.Guest
	last   *pve.BackupVolume
	failed *pve.GuestBackupResult
	failAt time.Time
	nojob  bool
}

// backupStates is the state of every guest (templates left out), in VMID order.
func backupStates(d Data) []guestBackup {
	key := func(c string, id int) string { return c + "/" + strconv.Itoa(id) }
	idx := map[string]int{}
	var out []guestBackup
	gs := slices.Clone(d.Guests)
	slices.SortFunc(gs, func(a, b pve.Guest) int {
		if a.Cluster != b.Cluster {
			if a.Cluster < b.Cluster {
				return -1
			}
			return 1
		}
		return a.VMID - b.VMID
	})
	for _, g := range gs {
		if g.Template {
			continue
		}
		idx[key(g.Cluster, g.VMID)] = len(out)
		out = append(out, guestBackup{g: g})
	}
	b := d.Backup
	for i := range b.Volumes {
		if j, ok := idx[key(b.Volumes[i].Cluster, b.Volumes[i].VMID)]; ok && out[j].last == nil {
			out[j].last = &b.Volumes[i]
		}
	}
	for _, r := range b.Runs {
		for i := range r.Failed {
			j, ok := idx[key(r.Cluster, r.Failed[i].VMID)]
			if !ok || out[j].failed != nil || out[j].last != nil && out[j].last.Time.After(r.End) {
				continue
			}
			out[j].failed, out[j].failAt = &r.Failed[i], r.End
		}
	}
	for _, u := range b.Uncovered {
		if j, ok := idx[key(u.Cluster, u.VMID)]; ok {
			out[j].nojob = true
		}
	}
	return out
}

func (d Data) guestName(g pve.Guest) string {
	n := g.Name
	if n == "" {
		n = "VM " + strconv.Itoa(g.VMID)
	}
	return d.name(g.Cluster, n) + " (" + strconv.Itoa(g.VMID) + ")"
}

// backupSections are the backups report: failures, backups of the last 24 h, guests never
// backed up, and the guests whose last backup is older, oldest first.
func backupSections(lang i18n.Lang, d Data) []*section {
	z := i18n.NewZone(d.Loc)
	var failed, ok, never, old []string
	type aged struct {
		line string
		age  time.Duration
	}
	var olds []aged
	for _, s := range backupStates(d) {
		name := d.guestName(s.g)
		switch {
		case s.failed != nil:
			failed = append(failed, "❌ "+name+" · "+z.Short(s.failAt)+" · "+clipReason(s.failed.Reason))
		case s.last == nil:
			l := "⚪ " + name
			if s.nojob {
				l += " · " + i18n.T(lang, "rb_no_job")
			}
			never = append(never, l)
		case d.Now.Sub(s.last.Time) <= 24*time.Hour:
			ok = append(ok, "✅ "+name+" · "+z.Short(s.last.Time)+" · "+i18n.Bytes(s.last.Size)+" · "+s.last.Storage)
		default:
			age := d.Now.Sub(s.last.Time)
			l := "🟠 " + name + " · " + i18n.T(lang, "rb_age", i18n.Duration(lang, age))
			if s.nojob {
				l += " · " + i18n.T(lang, "rb_no_job")
			}
			olds = append(olds, aged{l, age})
		}
	}
	slices.SortStableFunc(olds, func(a, b aged) int { return int((b.age - a.age) / time.Second) })
	for _, o := range olds {
		old = append(old, o.line)
	}
	return []*section{
		{head: i18n.T(lang, "rb_h_failed"), lines: failed, empty: i18n.T(lang, "rb_no_failed")},
		{head: i18n.T(lang, "rb_h_ok"), lines: ok, empty: i18n.T(lang, "rb_none")},
		{head: i18n.T(lang, "rb_h_never"), lines: never, empty: i18n.T(lang, "rb_none")},
		{head: i18n.T(lang, "rb_h_old"), lines: old, empty: i18n.T(lang, "rb_none")},
	}
}

// backupLine is the summary's one line of backup state.
func backupLine(lang i18n.Lang, d Data) string {
	var failed, ok, never, old int
	for _, s := range backupStates(d) {
		switch {
		case s.failed != nil:
			failed++
		case s.last == nil:
			never++
		case d.Now.Sub(s.last.Time) <= 24*time.Hour:
			ok++
		default:
			old++
		}
	}
	icon := "✅"
	if failed > 0 {
		icon = "❌"
	} else if never > 0 || old > 0 {
		icon = "🟠"
	}
	return icon + " " + i18n.T(lang, "rb_line", ok, failed, old, never)
}

// clipReason keeps a PVE reason to one short line.
func clipReason(s string) string {
	const max = 120
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + "…"
}
