package commands

import (
	"context"
	"net/url"
	"strings"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
)

// sender is how one state-changing action on a guest other than a power action reaches PVE:
// exactly one request, whose task the dispatcher follows like a power action's. tasks are
// the task types it may start, for finding the task of a POST interrupted by a crash.
type sender struct {
	send  func(ctx context.Context, f Fleet, g pve.Guest, p url.Values) (upid string, err error)
	tasks []string
	// wait, when set, follows the task instead of Fleet.Wait: for an action whose task ends
	// before its effect (hamigrate).
	wait func(ctx context.Context, f Fleet, g pve.Guest, upid string, p url.Values) (pve.TaskResult, error)
	// details, when set, reads more of a finished task for its result card (a backup's
	// size, PVE's reason from the log) and may correct res.
	details func(ctx context.Context, d *Dispatcher, r *req, g pve.Guest, upid string, res *pve.TaskResult) []chat.Field
}

// senders are the write actions besides the power actions, by action name. A new write
// command adds its sender here; confirmation, journal, follow-up, recovery and audit are
// the power actions' (power.go).
var senders = map[string]sender{
	"snapshot": {send: func(ctx context.Context, f Fleet, g pve.Guest, p url.Values) (string, error) {
		return f.TakeSnapshot(ctx, g, p.Get("snap"), p.Get("description"), p.Get("ram") == "1")
	}, tasks: []string{"qmsnapshot", "vzsnapshot"}},
	"rollback": {send: func(ctx context.Context, f Fleet, g pve.Guest, p url.Values) (string, error) {
		return f.Rollback(ctx, g, p.Get("snap"), false)
	}, tasks: []string{"qmrollback", "vzrollback"}},
	"delete_snapshot": {send: func(ctx context.Context, f Fleet, g pve.Guest, p url.Values) (string, error) {
		return f.DeleteSnapshot(ctx, g, p.Get("snap"))
	}, tasks: []string{"qmdelsnapshot", "vzdelsnapshot"}},
	"migrate": {send: sendMigrate, tasks: []string{"qmigrate", "vzmigrate", "hamigrate"}, wait: waitMigrate},
	"backup":  backupSender,
}

// wait follows the task of action on g: its sender's wait, or Fleet.Wait.
func (d *Dispatcher) wait(ctx context.Context, r *req, g pve.Guest, action, upid string) (pve.TaskResult, error) {
	if s, ok := senders[action]; ok && s.wait != nil {
		return s.wait(ctx, d.o.Fleet, g, upid, r.params)
	}
	return d.o.Fleet.Wait(ctx, g, upid)
}

// post sends action for g: a power action through Fleet.Do, any other through its sender.
// It is the one place a write leaves for PVE, after the journal entry was written.
func (d *Dispatcher) post(ctx context.Context, r *req, g pve.Guest, action string) (string, error) {
	if s, ok := senders[action]; ok {
		return s.send(ctx, d.o.Fleet, g, r.params)
	}
	return d.o.Fleet.Do(ctx, g, pve.Action(action))
}

// paramFields shows on a result card what the action was about besides its guest.
func paramFields(r *req) []chat.Field {
	if sn := r.params.Get("snap"); sn != "" {
		return []chat.Field{{Label: r.t("f_snapshot"), Value: sn}}
	}
	var out []chat.Field
	if t := r.params.Get("target"); t != "" {
		out = append(out, chat.Field{Label: r.t("f_target_node"), Value: t})
	}
	if st := r.params.Get("storage"); st != "" {
		out = append(out, chat.Field{Label: r.t("f_storage"), Value: st})
	}
	return out
}

// pveTexts are PVE's task and refusal texts that a user meets, each with the catalogue key
// that says it in words (docs/pve-features.md §3, pve.md §2.9). The first match wins.
var pveTexts = []struct{ has, key string }{
	{"is locked (", "pvetext_locked"},
	{"snapshot feature is not available", "pvetext_no_snapshot"},
	{"already used", "pvetext_snap_exists"},
	{"is not most recent snapshot", "pvetext_zfs_recent"},
	{"does not exist", "pvetext_snap_missing"},
	{"reserved name", "pvetext_snap_reserved"},
	{"if it's a template", "pvetext_template"},
	{"if vm is a template", "pvetext_template"},
	{"incomplete snapshot", "pvetext_snap_incomplete"},
}

// explainPVE says a PVE failure text in the user's words, keeping PVE's text after it so an
// admin can look it up; a text it does not know is shown as it is.
func explainPVE(r *req, text string) string {
	for _, p := range pveTexts {
		if strings.Contains(text, p.has) {
			return r.t("pvetext_wrap", r.t(p.key), text)
		}
	}
	return text
}
