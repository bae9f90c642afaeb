// Package alert watches PVE and pushes one message when something breaks and one when
// it recovers. Each rule is a small state machine per subject (a node, a guest, a
// storage on a node, a cluster): pending while the condition holds for less than the
// rule's `for`, then firing (one message), then resolved (one message with how long it
// lasted). Threshold rules clear only below clear_below (hysteresis). Reminders follow
// `repeat`, quiet hours hold back all but the `except` rules, and a subject can be
// muted from the alert card. The state lives in the store, so a restart neither sends
// an alert again nor forgets one.
package alert

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
	"github.com/wecom-home-ops/wecom-home-ops/internal/notify"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/schedule"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// Store buckets.
const (
	StateBucket = "alert_state" // rule|subject -> State (JSON)
	MuteBucket  = "alert_mute"  // subject -> Mute (JSON)
)

// Fleet is the PVE side the engine reads; *pve.Fleet implements it.
type Fleet interface {
	Nodes(ctx context.Context) ([]pve.Node, map[string]error)
	Guests(ctx context.Context) ([]pve.Guest, map[string]error)
	Storage(ctx context.Context) ([]pve.Storage, map[string]error)
	ClusterNames() []string
}

// Audit is the audit log, read to tell a guest shut down through the bot from a
// surprise; *store.Store implements it.
type Audit interface {
	RecentAudit(ctx context.Context, n int) ([]store.AuditEntry, error)
}

// Pusher delivers messages to targets; *notify.Notifier implements it.
type Pusher interface {
	Push(ctx context.Context, to []string, m notify.Message) int
}

// Options tune an Engine.
type Options struct {
	Logger *zap.Logger
	Clock  schedule.Clock
}

// State is one alert of one rule on one subject, as kept in the store.
type State struct {
	Rule     string    `json:"rule"`
	Subject  string    `json:"subject"` // node:home/pve1, guest:home/101, storage:home/pve1/local, cluster:home
	Cluster  string    `json:"cluster"`
	Node     string    `json:"node,omitempty"`
	Name     string    `json:"name,omitempty"` // node, storage or guest name
	VMID     int       `json:"vmid,omitempty"`
	Phase    string    `json:"phase"` // pending | firing | resolved (a recovery held by quiet hours)
	Since    time.Time `json:"since"` // the condition was first seen
	Notified bool      `json:"notified"`
	LastSent time.Time `json:"last_sent"`
	Ended    time.Time `json:"ended,omitzero"`
	Value    string    `json:"value,omitempty"`
	Detail   string    `json:"detail,omitempty"`
	// Expected names who shut the guest down through the bot: no alert, no recovery.
	Expected string `json:"expected,omitempty"`
	// At is when the failed backup of backup_failed ended.
	At time.Time `json:"at,omitzero"`
}

// Mute silences a subject until Until.
type Mute struct {
	Until time.Time `json:"until"`
	By    string    `json:"by"`
}

// SetMute stores a mute of subject until until, made by user.
func SetMute(ctx context.Context, kv notify.KV, subject, user string, until time.Time) error {
	b, _ := json.Marshal(Mute{Until: until, By: user})
	if err := kv.Put(ctx, MuteBucket, subject, b); err != nil {
		return fmt.Errorf("alert: mute: %w", err)
	}
	return nil
}

// ValidSubject reports whether s looks like a subject id the engine makes.
func ValidSubject(s string) bool {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok || rest == "" || len(s) > 200 {
		return false
	}
	switch kind {
	case "node", "guest", "storage", "cluster":
		return true
	}
	return false
}

// Engine evaluates the rules. Check is meant to run every alerts.interval.
type Engine struct {
	a        config.Alerts
	loc      *time.Location
	lang     i18n.Lang
	fleet    Fleet
	kv       notify.KV
	audit    Audit
	push     Pusher
	clock    schedule.Clock
	log      *zap.Logger
	mu       sync.Mutex // one Check at a time
	reported map[string]bool
}

// New returns an Engine for cfg.Alerts.
func New(cfg *config.Config, fleet Fleet, kv notify.KV, audit Audit, push Pusher, o Options) *Engine {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Clock == nil {
		o.Clock = schedule.SystemClock{}
	}
	return &Engine{a: cfg.Alerts, loc: cfg.Location(), lang: i18n.Parse(cfg.Language), fleet: fleet, kv: kv, audit: audit,
		push: push, clock: o.Clock, log: o.Logger, reported: map[string]bool{}}
}

// obs is what one check saw of one rule on one subject. hold means "cannot tell"
// (between the thresholds, node offline, no stats): the state stays as it is.
type obs struct {
	st   State
	cond bool
	hold bool
}

func key(rule, subject string) string { return rule + "|" + subject }

func (e *Engine) rule(name string) config.Rule {
	r, _ := e.a.Rules.ByName(name)
	return *r
}

// observe reads PVE once per kind of data and turns it into observations.
func (e *Engine) observe(ctx context.Context) (map[string]obs, map[string]bool) {
	out := map[string]obs{}
	readable := map[string]bool{}
	add := func(o obs) { out[key(o.st.Rule, o.st.Subject)] = o }
	nodes, nerrs := e.fleet.Nodes(ctx)
	for _, c := range e.fleet.ClusterNames() {
		err := nerrs[c]
		readable[c] = err == nil
		if e.rule(config.RulePVEUnreachable).Enabled {
			o := obs{st: State{Rule: config.RulePVEUnreachable, Subject: "cluster:" + c, Cluster: c, Name: c}, cond: err != nil}
			if err != nil {
				o.st.Detail = clip(err.Error(), 160)
			}
			add(o)
		}
	}
	online := map[string]bool{}
	for _, n := range nodes {
		subj := "node:" + n.Cluster + "/" + n.Name
		up := n.Status == "online"
		online[n.Cluster+"/"+n.Name] = up
		base := State{Subject: subj, Cluster: n.Cluster, Node: n.Name, Name: n.Name}
		if e.rule(config.RuleNodeOffline).Enabled {
			s := base
			s.Rule = config.RuleNodeOffline
			if n.Status == "unknown" {
				s.Value = noData // a member that sends no statistics, not a dead node
			}
			add(obs{st: s, cond: !up})
		}
		for _, rn := range []string{config.RuleNodeMemory, config.RuleNodeCPU} {
			r := e.rule(rn)
			if !r.Enabled {
				continue
			}
			s := base
			s.Rule = rn
			if !up || !n.HasStats {
				if up && !n.HasStats {
					e.reportBlind(ctx, n.Cluster, rn, "Sys.Audit")
				}
				add(obs{st: s, hold: true})
				continue
			}
			v := n.CPU
			if rn == config.RuleNodeMemory {
				v = ratio(n.Mem, n.MaxMem)
			}
			add(threshold(s, r, v))
		}
	}
	if r := e.rule(config.RuleStorageUsage); r.Enabled {
		stor, _ := e.fleet.Storage(ctx)
		for _, st := range stor {
			s := State{Rule: config.RuleStorageUsage, Subject: "storage:" + st.Cluster + "/" + st.Node + "/" + st.Name,
				Cluster: st.Cluster, Node: st.Node, Name: st.Name}
			if !st.HasStats || st.Total == 0 || !online[st.Cluster+"/"+st.Node] {
				if !st.HasStats && online[st.Cluster+"/"+st.Node] {
					e.reportBlind(ctx, st.Cluster, config.RuleStorageUsage, "Datastore.Audit")
				}
				add(obs{st: s, hold: true})
				continue
			}
			add(threshold(s, r, ratio(st.Used, st.Total)))
		}
	}
	if r := e.rule(config.RuleGuestStopped); r.Enabled && len(r.GuestsSel) > 0 {
		guests, _ := e.fleet.Guests(ctx)
		for _, g := range guests {
			if g.Template || !r.GuestsSel.Match(g.Subject()) {
				continue
			}
			s := State{Rule: config.RuleGuestStopped, Subject: "guest:" + g.Cluster + "/" + strconv.Itoa(g.VMID),
				Cluster: g.Cluster, Node: g.Node, Name: g.Name, VMID: g.VMID}
			if !online[g.Cluster+"/"+g.Node] || g.Status == "unknown" {
				add(obs{st: s, hold: true}) // node_offline speaks for it
				continue
			}
			if g.Lock == "backup" {
				// Stopped by a stop-mode backup (or started paused for one): PVE starts it
				// again when its backup ends. Not a surprise; wait for the lock to go.
				add(obs{st: s, hold: true})
				continue
			}
			add(obs{st: s, cond: g.Status != "running"})
		}
	}
	return out, readable
}

func threshold(s State, r config.Rule, v float64) obs {
	s.Value = strconv.Itoa(int(v*100+0.5)) + "%"
	switch {
	case v >= float64(r.Above):
		return obs{st: s, cond: true}
	case v < float64(r.ClearBelow):
		return obs{st: s, cond: false}
	}
	return obs{st: s, hold: true}
}

func ratio(a, b uint64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// reportBlind says once per run that a rule cannot see its data.
func (e *Engine) reportBlind(ctx context.Context, cluster, rule, priv string) {
	k := cluster + "|" + rule
	if e.reported[k] {
		return
	}
	e.reported[k] = true
	e.log.Warn("alert rule cannot be checked: the PVE token lacks a privilege",
		zap.String("cluster", cluster), zap.String("rule", rule), zap.String("missing", priv))
	if len(e.a.To) == 0 {
		return
	}
	now := e.clock.Now()
	e.push.Push(ctx, e.a.To, notify.Message{Time: now, Markdown: func(int) string {
		return i18n.T(e.lang, "no_audit", cluster, priv, rule)
	}})
}

// Check evaluates every rule once at the clock's time and sends what is due.
func (e *Engine) Check(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.clock.Now()
	seen, readable := e.observe(ctx)
	states, err := e.loadStates(ctx)
	if err != nil {
		e.log.Error("cannot read alert state; skipping this check", zap.Error(err))
		return
	}
	e.observeBackups(ctx, states, func(o obs) { seen[key(o.st.Rule, o.st.Subject)] = o })
	mutes := e.loadMutes(ctx, now)
	keys := slices.Sorted(maps.Keys(seen))
	for _, k := range slices.Sorted(maps.Keys(states)) {
		if _, ok := seen[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		o, observed := seen[k]
		st, had := states[k]
		if !observed {
			if !readable[st.Cluster] {
				continue // cannot tell while the cluster is unreachable
			}
			o = obs{st: st, cond: false} // the subject is gone
		}
		if o.hold {
			if had && o.st.Value == "" {
				continue
			}
			if had {
				st.Value = o.st.Value
				e.save(ctx, k, st)
			}
			continue
		}
		e.step(ctx, k, o, st, had, now, mutes)
	}
}

// step advances one alert's state machine.
func (e *Engine) step(ctx context.Context, k string, o obs, st State, had bool, now time.Time, mutes map[string]Mute) {
	r := e.rule(o.st.Rule)
	quiet := e.a.QuietHours.Contains(now.In(e.loc)) && !slices.Contains(e.a.QuietHours.Except, o.st.Rule)
	_, muted := mutes[o.st.Subject]
	if !o.cond {
		if !had {
			return
		}
		if o.st.Value != "" {
			st.Value = o.st.Value
		}
		switch {
		case st.Phase == "pending", !st.Notified, st.Expected != "":
			e.delete(ctx, k) // nobody was told: nothing to take back
		case quiet:
			if st.Phase != "resolved" {
				st.Phase, st.Ended = "resolved", now
				e.save(ctx, k, st)
			}
		default:
			if st.Ended.IsZero() {
				st.Ended = now
			}
			e.send(ctx, st, "resolved", now)
			e.delete(ctx, k)
		}
		return
	}
	if !had {
		st = o.st
		st.Phase, st.Since = "pending", now
	}
	st.Value, st.Detail = o.st.Value, o.st.Detail
	if st.Phase == "resolved" { // it came back before the recovery was sent
		st.Phase, st.Ended = "firing", time.Time{}
	}
	if st.Phase == "pending" && now.Sub(st.Since) >= r.For.Std() {
		st.Phase = "firing"
		if st.Rule == config.RuleGuestStopped {
			if who, act := e.stoppedByBot(ctx, st); who != "" {
				st.Expected, st.Notified, st.LastSent = who, true, now
				e.sendExpected(ctx, st, who, act, now)
			}
		}
		if e.seenByWebhook(ctx, st) {
			// PVE's own notification already showed this failure: no second message.
			st.Notified, st.LastSent = true, now
			e.log.Info("backup failure already notified through the PVE webhook", zap.String("subject", st.Subject))
		}
	}
	if st.Phase == "firing" && !quiet && !muted {
		switch {
		case !st.Notified:
			e.send(ctx, st, "fire", now)
			st.Notified, st.LastSent = true, now
		case st.Expected == "" && e.a.Repeat > 0 && now.Sub(st.LastSent) >= e.a.Repeat.Std():
			e.send(ctx, st, "reminder", now)
			st.LastSent = now
		}
	}
	e.save(ctx, k, st)
}

// stoppedByBot finds the last power action sent to the guest through the bot; a
// shutdown or stop names who asked for it.
func (e *Engine) stoppedByBot(ctx context.Context, st State) (user, action string) {
	if e.audit == nil {
		return "", ""
	}
	entries, err := e.audit.RecentAudit(ctx, store.MaxRecentAudit)
	if err != nil {
		e.log.Warn("cannot read the audit log", zap.Error(err))
		return "", ""
	}
	cutoff := e.clock.Now().Add(-24 * time.Hour)
	for _, a := range entries { // newest first
		if a.Time.Before(cutoff) {
			break
		}
		if a.Decision != store.DecisionAllowed || a.UPID == "" || a.Cluster != st.Cluster || a.VMID != st.VMID {
			continue
		}
		act, _, _ := strings.Cut(strings.TrimSpace(a.Command), " ")
		if act == "shutdown" || act == "stop" {
			return a.User, act
		}
		return "", "" // the last action was something else (a start...)
	}
	return "", ""
}

func (e *Engine) loadStates(ctx context.Context) (map[string]State, error) {
	all, err := e.kv.List(ctx, StateBucket)
	if err != nil {
		return nil, err
	}
	out := make(map[string]State, len(all))
	for k, v := range all {
		var s State
		if err := json.Unmarshal(v, &s); err != nil {
			e.log.Warn("dropping unreadable alert state", zap.String("key", k), zap.Error(err))
			_ = e.kv.Delete(ctx, StateBucket, k)
			continue
		}
		out[k] = s
	}
	return out, nil
}

func (e *Engine) loadMutes(ctx context.Context, now time.Time) map[string]Mute {
	all, err := e.kv.List(ctx, MuteBucket)
	if err != nil {
		e.log.Warn("cannot read alert mutes", zap.Error(err))
		return nil
	}
	out := map[string]Mute{}
	for k, v := range all {
		var m Mute
		if json.Unmarshal(v, &m) != nil || !now.Before(m.Until) {
			_ = e.kv.Delete(ctx, MuteBucket, k)
			continue
		}
		out[k] = m
	}
	return out
}

func (e *Engine) save(ctx context.Context, k string, st State) {
	b, _ := json.Marshal(st)
	if err := e.kv.Put(ctx, StateBucket, k, b); err != nil {
		e.log.Error("cannot save alert state", zap.String("alert", k), zap.Error(err))
	}
}

func (e *Engine) delete(ctx context.Context, k string) {
	if err := e.kv.Delete(ctx, StateBucket, k); err != nil {
		e.log.Error("cannot delete alert state", zap.String("alert", k), zap.Error(err))
	}
}

// label names the subject: node name, "name (vmid)", "storage（节点 node）", cluster.
func (st State) label(lang i18n.Lang) string {
	switch st.Rule {
	case config.RuleGuestStopped, config.RuleBackupFailed, config.RuleBackupMissing:
		g := pve.Guest{Name: st.Name, VMID: st.VMID}
		return g.Label()
	case config.RuleStorageUsage:
		return i18n.T(lang, "storage_on", st.Name, st.Node)
	}
	return st.Name
}

// args are the catalog arguments: the label, and the value for threshold rules.
// noData is node_offline's Value for a node PVE lists as "unknown": a cluster member whose
// pvestatd has sent no statistics for 5 minutes, told apart from a dead ("offline") node.
const noData = "no data"

// key is the catalogue key of the alert's text: prefix + rule, or node_no_data.
func (st State) key(prefix string) string {
	if st.Rule == config.RuleNodeOffline && st.Value == noData {
		return prefix + "node_no_data"
	}
	return prefix + st.Rule
}

func (st State) args(lang i18n.Lang) []any {
	if st.Value == "" || st.Value == noData {
		return []any{st.label(lang)}
	}
	return []any{st.label(lang), st.Value}
}

// Reply is the alert as a neutral reply: title, cluster, since/lasted, and for fire
// and reminder the "mute 1 h" and "show status" buttons.
func (e *Engine) Reply(st State, kind string, now time.Time) chat.Reply {
	lang := e.lang
	r := chat.Reply{Kind: chat.ReplyCard, Severity: chat.SeverityError}
	fields := []chat.Field{{Label: i18n.T(lang, "f_cluster"), Value: st.Cluster}}
	switch kind {
	case "resolved":
		r.Severity = chat.SeverityOK
		r.Title = i18n.T(lang, st.key("resolved_"), st.args(lang)...)
		fields = append(fields, chat.Field{Label: i18n.T(lang, "f_lasted"), Value: i18n.Duration(lang, st.Ended.Sub(st.Since))})
	default:
		if st.Value != "" {
			r.Severity = chat.SeverityWarning
		}
		r.Title = i18n.T(lang, st.key("fire_"), st.args(lang)...)
		if kind == "reminder" {
			r.Title = i18n.T(lang, "reminder") + r.Title
		}
		fields = append(fields, chat.Field{Label: i18n.T(lang, "f_since"), Value: i18n.NewZone(e.loc).Short(st.Since) + " · " + i18n.Duration(lang, now.Sub(st.Since))})
		if st.Detail != "" {
			fields = append(fields, chat.Field{Label: i18n.T(lang, "f_reason"), Value: st.Detail})
		}
		r.Kind = chat.ReplyConfirm
		r.Buttons = []chat.Button{
			{Text: i18n.T(lang, "btn_mute"), Key: "mute:" + st.Subject + ":1h", Style: 2},
			{Text: i18n.T(lang, "btn_status"), Key: "status", Style: 1},
		}
	}
	r.Fields = fields
	return r
}

// Markdown renders a reply for a group chat (no buttons there).
func Markdown(r chat.Reply) string {
	var b strings.Builder
	b.WriteString("**" + r.Title + "**")
	for _, f := range r.Fields {
		b.WriteString("\n" + f.Label + "：" + f.Value)
	}
	if r.Footer != "" {
		b.WriteString("\n" + r.Footer)
	}
	return b.String()
}

func (e *Engine) send(ctx context.Context, st State, kind string, now time.Time) {
	if len(e.a.To) == 0 {
		return
	}
	r := e.Reply(st, kind, now)
	e.log.Info("alert "+kind, zap.String("rule", st.Rule), zap.String("subject", st.Subject))
	e.push.Push(ctx, e.a.To, notify.Message{Time: now, Card: &r, Markdown: func(int) string { return Markdown(r) }})
}

func (e *Engine) sendExpected(ctx context.Context, st State, who, act string, now time.Time) {
	e.log.Info("watched guest was shut down through the bot; no alert", zap.String("subject", st.Subject), zap.String("by", who))
	if len(e.a.To) == 0 {
		return
	}
	text := i18n.T(e.lang, "by_bot", st.label(e.lang), who, i18n.T(e.lang, "by_bot_"+act))
	r := chat.Reply{Kind: chat.ReplyText, Severity: chat.SeverityInfo, Title: text,
		Fields: []chat.Field{{Label: i18n.T(e.lang, "f_cluster"), Value: st.Cluster}}}
	e.push.Push(ctx, e.a.To, notify.Message{Time: now, Card: &r, Markdown: func(int) string { return Markdown(r) }})
}

// Firing lists the alerts firing now, one line each, for the summary report.
func (e *Engine) Firing(ctx context.Context) []string {
	states, err := e.loadStates(ctx)
	if err != nil {
		return nil
	}
	now := e.clock.Now()
	var lines []string
	for _, k := range slices.Sorted(maps.Keys(states)) {
		st := states[k]
		if st.Phase != "firing" || st.Expected != "" {
			continue
		}
		lines = append(lines, i18n.T(e.lang, st.key("fire_"), st.args(e.lang)...)+" · "+st.Cluster+" · "+i18n.Duration(e.lang, now.Sub(st.Since)))
	}
	return lines
}

func clip(s string, n int) string {
	s = strings.ReplaceAll(strings.TrimSpace(s), "\n", " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
