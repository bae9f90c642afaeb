package alert

import (
	"context"
	"strconv"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pvewebhook"
)

// BackupFleet is what the backup rules read; *pve.Fleet implements it. A Fleet without it
// has no backup rules.
type BackupFleet interface {
	AllBackups(ctx context.Context) ([]pve.BackupVolume, map[string]error)
	BackupRuns(ctx context.Context, since time.Time) ([]pve.BackupRun, map[string]error)
}

// backupFailedWindow is how far back backup_failed reads task history: the last two nights.
const backupFailedWindow = 48 * time.Hour

func guestSubject(cluster string, vmid int) string {
	return "guest:" + cluster + "/" + strconv.Itoa(vmid)
}

// observeBackups adds the observations of backup_failed and backup_missing.
//
// backup_failed: a guest whose backup failed in a vzdump task (a scheduled job's run or a
// single backup, from task history, so it also covers clusters without the webhook and
// notifications lost while the bot was down) and that has no successful backup since.
// It recovers when a backup of the guest succeeds.
//
// backup_missing: a selected guest with no backup newer than older_than.
func (e *Engine) observeBackups(ctx context.Context, states map[string]State, add func(obs)) {
	failedOn := e.rule(config.RuleBackupFailed).Enabled
	miss := e.rule(config.RuleBackupMissing)
	missOn := miss.Enabled && len(miss.GuestsSel) > 0
	bf, ok := e.fleet.(BackupFleet)
	if !ok || !failedOn && !missOn {
		return
	}
	now := e.clock.Now()
	guests, _ := e.fleet.Guests(ctx)
	vols, verrs := bf.AllBackups(ctx)
	newest := map[string]time.Time{} // subject -> newest backup
	for _, v := range vols {
		k := guestSubject(v.Cluster, v.VMID)
		if v.Time.After(newest[k]) {
			newest[k] = v.Time
		}
	}
	byID := map[string]pve.Guest{}
	for _, g := range guests {
		byID[guestSubject(g.Cluster, g.VMID)] = g
	}
	if failedOn {
		runs, _ := bf.BackupRuns(ctx, now.Add(-backupFailedWindow))
		seen := map[string]bool{}
		for _, r := range runs { // newest first: the last attempt decides
			for _, f := range r.Failed {
				subj := guestSubject(r.Cluster, f.VMID)
				if seen[subj] {
					continue
				}
				seen[subj] = true
				g := byID[subj]
				s := State{Rule: config.RuleBackupFailed, Subject: subj, Cluster: r.Cluster, Node: r.Node, Name: g.Name, VMID: f.VMID,
					Detail: clip(f.Reason, 160), At: r.End}
				add(obs{st: s, cond: !newest[subj].After(r.End)})
			}
		}
		// A failure older than the window stays until a backup succeeds.
		for _, st := range states {
			if st.Rule != config.RuleBackupFailed || seen[st.Subject] {
				continue
			}
			if newest[st.Subject].After(st.At) {
				add(obs{st: st, cond: false})
			} else if _, err := verrs[st.Cluster]; !err {
				add(obs{st: st, cond: true})
			} else {
				add(obs{st: st, hold: true})
			}
		}
	}
	if missOn {
		for _, g := range guests {
			if g.Template || !miss.GuestsSel.Match(g.Subject()) {
				continue
			}
			if _, err := verrs[g.Cluster]; err {
				continue // cannot tell
			}
			subj := guestSubject(g.Cluster, g.VMID)
			s := State{Rule: config.RuleBackupMissing, Subject: subj, Cluster: g.Cluster, Node: g.Node, Name: g.Name, VMID: g.VMID}
			last := newest[subj]
			if last.IsZero() {
				s.Detail = i18n.T(e.lang, "backup_never")
			} else {
				s.Detail = i18n.T(e.lang, "backup_last_at", i18n.NewZone(e.loc).Short(last), i18n.Duration(e.lang, now.Sub(last)))
			}
			add(obs{st: s, cond: now.Sub(last) > miss.OlderThan.Std()})
		}
	}
}

// seenByWebhook reports whether PVE's webhook already brought this failed backup to the
// chat (the same job run on the same node): backup_failed then does not say it again.
func (e *Engine) seenByWebhook(ctx context.Context, st State) bool {
	if st.Rule != config.RuleBackupFailed || st.At.IsZero() {
		return false
	}
	return pvewebhook.BackupFailureSeen(ctx, e.kv, st.Node, st.At)
}
