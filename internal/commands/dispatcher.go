// Package commands turns what a person typed into a checked, confirmed, audited PVE
// operation and a neutral chat.Reply:
//
//	parse -> who is it (access) -> needs confirmation? -> one POST + task wait -> Reply
//
// It talks to PVE and to the store through the small interfaces below, which
// internal/pve and internal/store implement; it never builds WeCom JSON.
package commands

import (
	"context"
	"fmt"
	"iter"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"golang.org/x/time/rate"

	"github.com/wecom-home-ops/wecom-home-ops/internal/access"
	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// Fleet is what commands needs from PVE; *pve.Fleet implements it.
type Fleet interface {
	Find(ctx context.Context, target string, visible func(pve.Guest) bool) (pve.Guest, error)
	Guests(ctx context.Context) ([]pve.Guest, map[string]error)
	Listing(ctx context.Context) (iter.Seq[pve.Guest], []pve.Node, map[string]error)
	GuestStatus(ctx context.Context, g pve.Guest) (pve.GuestStatus, error)
	Do(ctx context.Context, g pve.Guest, a pve.Action) (upid string, err error)
	Wait(ctx context.Context, g pve.Guest, upid string) (pve.TaskResult, error)
	Nodes(ctx context.Context) ([]pve.Node, map[string]error)
	Storage(ctx context.Context) ([]pve.Storage, map[string]error)
	Tasks(ctx context.Context, limit int) ([]pve.Task, map[string]error)
	ClusterNames() []string

	// addresses and links
	Addresses(ctx context.Context, g pve.Guest) ([]pve.Address, error)
	GuestWebURL(g pve.Guest) string
	NodeWebURL(cluster, node string) string

	// snapshots
	Snapshots(ctx context.Context, g pve.Guest) (pve.Snapshots, error)
	TakeSnapshot(ctx context.Context, g pve.Guest, name, description string, vmstate bool) (upid string, err error)
	Rollback(ctx context.Context, g pve.Guest, name string, start bool) (upid string, err error)
	DeleteSnapshot(ctx context.Context, g pve.Guest, name string) (upid string, err error)
	GuestConfig(ctx context.Context, g pve.Guest) (pve.GuestConfig, error)

	// nodes and migration (nodes.go, migrate.go)
	NodePower(ctx context.Context, cluster, node string, cmd pve.NodeCommand) error
	WakeNode(ctx context.Context, cluster, node string) (mac string, err error)
	ClusterStatus(ctx context.Context, cluster string) (pve.ClusterStatus, error)
	WaitNode(ctx context.Context, cluster, node string, online bool) error
	CheckMigrate(ctx context.Context, g pve.Guest, target string) (pve.MigrateCheck, error)
	Migrate(ctx context.Context, g pve.Guest, target string, o pve.MigrateOptions) (upid string, err error)
	WaitGuestOn(ctx context.Context, g pve.Guest, node string) (pve.Guest, error)
	// backups (backup.go)
	StartBackup(ctx context.Context, g pve.Guest, storage string, mode pve.BackupMode) (upid string, err error)
	Backups(ctx context.Context, cluster, node, storage string, vmid int) ([]pve.BackupVolume, error)
	AllBackups(ctx context.Context) ([]pve.BackupVolume, map[string]error)
	BackupRuns(ctx context.Context, since time.Time) ([]pve.BackupRun, map[string]error)
	BackupJobs(ctx context.Context) (map[string][]pve.BackupJob, map[string]error)
	NotBackedUp(ctx context.Context) ([]pve.Guest, map[string]error)
	TaskLog(ctx context.Context, cluster, node, upid string, limit int) ([]string, error)
}

// Store is the embedded state commands needs; *store.Store implements it.
type Store interface {
	CreateConfirmation(ctx context.Context, c store.Confirmation) error
	TakeConfirmation(ctx context.Context, idOrCode, user string) (store.Confirmation, error)
	PeekConfirmation(ctx context.Context, idOrCode, user string) (store.Confirmation, error)
	CancelConfirmation(ctx context.Context, idOrCode, user string) (store.Confirmation, error)
	BeginAction(ctx context.Context, a store.Action) (fresh bool, err error)
	ActionSent(ctx context.Context, id, upid string) error
	ActionDone(ctx context.Context, id, result string) error
	GetAction(ctx context.Context, id string) (store.Action, error)
	OpenActions(ctx context.Context) ([]store.Action, error)
	Audit(ctx context.Context, e store.AuditEntry) error
	RecentAudit(ctx context.Context, n int) ([]store.AuditEntry, error)
}

// Options wires a Dispatcher.
type Options struct {
	Fleet  Fleet
	Store  Store
	Notify chat.Replier // for results that arrive after the command returned
	Logger *zap.Logger
	Now    func() time.Time
	// History draws graphs (graph.go); nil answers graph commands with "not available".
	History History
	// QuickWait is how long a command waits for its task before answering "running"
	// and following up with a new message (default 8s).
	QuickWait time.Duration
	// TaskTimeout bounds the follow-up wait (default 5m; pve.task_timeout).
	TaskTimeout time.Duration
	// NodeTimeout bounds how long a rebooted, shut down or woken node is followed (default 15m).
	NodeTimeout time.Duration
	// BulkPerNode is how many guests of one node a bulk action runs at once (default 2).
	BulkPerNode int
	// HARound is the HA manager's round (default pve.HARound): an HA request is given
	// pve.HABound of it, from the action's start by Now, before the bot says it did not
	// happen. HAPoll is how often the guest's state is read meanwhile (default 2s).
	HARound, HAPoll time.Duration
	// Observe, when set, is told of every message handled: the command's name (its verb,
	// "card_click", "unknown" for text that did not parse, or the message kind) and the
	// replies. The bot counts commands with it; the text is parsed only once.
	Observe func(command string, replies []chat.Reply)
}

// settings is the part of the config commands use; swapped whole on reload, so an
// in-flight command finishes on the settings it started with.
type settings struct {
	policy     access.Policy
	lang       i18n.Lang
	confirm    map[string]bool
	confirmTTL time.Duration
	textMode   bool
	zone       i18n.Zone // the configured timezone, for times in replies
	perUser    config.Rate
	multi      bool              // more than one cluster: show cluster names
	botGuest   map[string]string // cluster -> pve.clusters[].bot_guest
}

// Dispatcher handles messages; it implements chat.Handler.
type Dispatcher struct {
	o   Options
	log *zap.Logger
	cur atomic.Pointer[settings]

	limMu     sync.Mutex
	limiters  map[string]*userLimit
	strangers strangers // unknown members (strangers.go)

	follow sync.WaitGroup // background task waits
	bg     context.Context
	stop   context.CancelFunc
}

type userLimit struct {
	lim      *rate.Limiter
	notified bool // told about the limit since it last let a message through
}

// New returns a Dispatcher using cfg.
func New(cfg *config.Config, o Options) *Dispatcher {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.QuickWait <= 0 {
		o.QuickWait = 8 * time.Second
	}
	if o.TaskTimeout <= 0 {
		o.TaskTimeout = 5 * time.Minute
	}
	if o.NodeTimeout <= 0 {
		o.NodeTimeout = 15 * time.Minute
	}
	if o.BulkPerNode <= 0 {
		o.BulkPerNode = 2
	}
	if o.HARound <= 0 {
		o.HARound = pve.HARound
	}
	if o.HAPoll <= 0 {
		o.HAPoll = 2 * time.Second
	}
	bg, stop := context.WithCancel(context.Background())
	d := &Dispatcher{o: o, log: o.Logger, limiters: map[string]*userLimit{}, bg: bg, stop: stop}
	d.SetConfig(cfg)
	return d
}

// SetConfig swaps users, roles, scopes and confirmation rules atomically.
func (d *Dispatcher) SetConfig(cfg *config.Config) {
	s := &settings{
		policy:     access.NewPolicy(cfg),
		lang:       i18n.Lang(cfg.Language),
		confirm:    map[string]bool{},
		confirmTTL: cfg.ConfirmTTL.Std(),
		textMode:   cfg.WeCom.ReplyMode == "text",
		zone:       i18n.NewZone(cfg.Location()),
		perUser:    cfg.RateLimit.PerUser,
		multi:      len(cfg.PVE.Clusters) > 1,
	}
	if s.lang == "" {
		s.lang = i18n.LangZH
	}
	if s.confirmTTL <= 0 {
		s.confirmTTL = 5 * time.Minute
	}
	s.botGuest = map[string]string{}
	for _, c := range cfg.PVE.Clusters {
		s.botGuest[c.Name] = strings.ToLower(strings.TrimSpace(c.BotGuest))
	}
	for _, a := range cfg.Confirm {
		s.confirm[a] = true
	}
	d.cur.Store(s)
	d.limMu.Lock()
	d.limiters = map[string]*userLimit{} // new limits apply from now on
	d.limMu.Unlock()
}

// Close waits for background follow-ups until ctx ends, then cancels them.
func (d *Dispatcher) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() { d.follow.Wait(); close(done) }()
	select {
	case <-done:
		d.stop()
		return nil
	case <-ctx.Done():
		d.stop()
		<-done
		return ctx.Err()
	}
}

// req is one message being handled.
type req struct {
	s    *settings
	m    chat.Message
	user access.User
	text string  // the command text (typed, or a menu item's key)
	verb Verb    // once parsed
	cmd  Command // once parsed
	// params is what the action needs besides its guest (a snapshot's name…); it is kept
	// with the confirmation and the journal entry, so a confirmed or resumed action is sent
	// exactly as asked.
	params url.Values
}

// name is what Observe calls the message.
func (r *req) name() string {
	switch {
	case r.verb != "":
		return string(r.verb)
	case r.m.Kind == chat.KindCardClick:
		return "card_click"
	case r.m.Kind == chat.KindText || r.m.Kind == chat.KindMenu:
		return "unknown"
	}
	return string(r.m.Kind)
}

func (r *req) t(key string, args ...any) string { return i18n.T(r.s.lang, key, args...) }

// zone is the time zone times are shown in.
func (r *req) zone() *time.Location { return r.s.zone.Location() }

// clock shows a moment as people read it, in the configured zone.
func (r *req) clock(t time.Time) string { return r.s.zone.DateTime(t) }

// Handle answers one message.
func (d *Dispatcher) Handle(ctx context.Context, m chat.Message) []chat.Reply {
	r := &req{s: d.cur.Load(), m: m}
	replies := d.handle(ctx, r)
	d.offer(ctx, r, replies)
	if d.o.Observe != nil {
		d.o.Observe(r.name(), replies)
	}
	return replies
}

func (d *Dispatcher) handle(ctx context.Context, r *req) []chat.Reply {
	s, m := r.s, r.m
	u, ok := s.policy.User(m.User)
	if !ok {
		if m.Kind == chat.KindEnter {
			return nil
		}
		return d.stranger(ctx, r)
	}
	r.user = u
	switch m.Kind {
	case chat.KindEnter:
		return nil
	case chat.KindText:
		r.text = m.Text
	case chat.KindMenu:
		r.text = m.EventKey
	case chat.KindCardClick:
		if !d.allow(r) {
			return d.limited(r)
		}
		return d.click(ctx, r)
	default:
		return nil
	}
	if !d.allow(r) {
		return d.limited(r)
	}
	if text, ok := d.choice(ctx, r, r.text); ok {
		return d.runPressed(ctx, r, text)
	}
	cmd, err := Parse(r.text)
	if err != nil {
		return []chat.Reply{d.parseError(r, err)}
	}
	r.verb = cmd.Verb
	return d.run(ctx, r, cmd)
}

func (d *Dispatcher) run(ctx context.Context, r *req, cmd Command) []chat.Reply {
	r.cmd = cmd
	s, ok := specOf(cmd.Verb)
	if !ok || s.Run == nil {
		return []chat.Reply{r.help("")}
	}
	if s.Action != "" && !s.Changes {
		// reads are checked here; state changes are checked against their target by their handler
		if dec := r.s.policy.Decide(r.user.ID, s.Action, nil); !dec.Allowed {
			d.audit(ctx, r, store.AuditEntry{Decision: "refused", Reason: string(dec.Reason), Command: clip(r.text)})
			return []chat.Reply{textReply(chat.SeverityWarning, r.refusal(dec, ""))}
		}
	}
	return s.Run(d, ctx, r, cmd)
}

// allow applies the per-user rate limit.
func (d *Dispatcher) allow(r *req) bool {
	if r.s.perUser.N <= 0 || r.s.perUser.Per <= 0 {
		return true
	}
	key := strings.ToLower(r.user.ID)
	d.limMu.Lock()
	defer d.limMu.Unlock()
	ul := d.limiters[key]
	if ul == nil {
		every := rate.Every(r.s.perUser.Per / time.Duration(r.s.perUser.N))
		ul = &userLimit{lim: rate.NewLimiter(every, r.s.perUser.N)}
		d.limiters[key] = ul
	}
	if ul.lim.AllowN(d.o.Now(), 1) {
		ul.notified = false
		return true
	}
	return false
}

// limited answers a message over the limit: one polite notice, then silence until the
// limit lets a message through again (a notice per message would itself be spam).
func (d *Dispatcher) limited(r *req) []chat.Reply {
	key := strings.ToLower(r.user.ID)
	d.limMu.Lock()
	ul := d.limiters[key]
	first := ul != nil && !ul.notified
	if ul != nil {
		ul.notified = true
	}
	d.limMu.Unlock()
	d.log.Info("rate limit hit", zap.String("user", r.user.ID))
	if !first {
		return nil
	}
	return []chat.Reply{textReply(chat.SeverityWarning, r.t("rate_limited", r.s.perUser.N, perWord(r.s.lang, r.s.perUser.Per)))}
}

func (d *Dispatcher) audit(ctx context.Context, r *req, e store.AuditEntry) {
	e.Time = d.o.Now()
	if e.User == "" {
		e.User = r.m.User
	}
	if err := d.o.Store.Audit(context.WithoutCancel(ctx), e); err != nil {
		d.log.Error("cannot write audit entry", zap.Error(err))
	}
}

func textReply(sev chat.Severity, title string, lines ...string) chat.Reply {
	return chat.Reply{Kind: chat.ReplyText, Severity: sev, Title: title, Lines: lines}
}

// clip keeps audit entries and logs small.
func clip(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8Start(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

func perWord(lang i18n.Lang, per time.Duration) string {
	switch per {
	case time.Second:
		return i18n.T(lang, "per_second")
	case time.Hour:
		return i18n.T(lang, "per_hour")
	case time.Minute:
		return i18n.T(lang, "per_minute")
	}
	return fmt.Sprint(per)
}
