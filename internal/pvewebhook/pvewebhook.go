// Package pvewebhook receives the events of PVE's notification system (its webhook target,
// PVE 8.3+: docs/pve-notifications.md) and delivers them as cards to the targets that
// pve_webhook routes them to.
//
// PVE posts each event once, with a 10 s timeout, and never retries. So the handler only
// checks the secret, bounds and decodes the body, records the event in the store and
// answers; a worker renders and pushes it through the outbox. An event posted twice (same
// title, severity, timestamp, fields and message) is recorded and delivered once.
package pvewebhook

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/notify"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
)

// Bucket is the store bucket of received events, keyed by the event's digest.
const Bucket = "pve_webhook_events"

// MaxBody bounds a request body. A vzdump message holds every guest's log up to 1 MiB
// before PVE replaces the logs (docs/pve-features.md §1.5); the JSON around it and its
// escaping need some room more.
const MaxBody = 3 << 19 // 1.5 MiB

// keepFor is how long an event stays recorded: the window in which a second post of it is
// recognised, and in which backup_failed finds it.
const keepFor = 7 * 24 * time.Hour

// maxMessage bounds the part of a message kept for rendering an unknown event.
const maxMessage = 4 << 10

// Event is one notification as the documented body template sends it.
type Event struct {
	Title     string            `json:"title"`
	Message   string            `json:"message"`
	Severity  string            `json:"severity"`
	Timestamp int64             `json:"timestamp"`
	Fields    map[string]string `json:"fields"`
}

// Type is fields.type ("vzdump", "fencing", "package-updates", ...); "" for a test.
func (e Event) Type() string { return e.Fields["type"] }

// Record is what the store keeps of an event: the event with its message shortened, what
// was read from the message, and whether it was handed to the outbox.
type Record struct {
	Event     Event     `json:"event"`
	Received  time.Time `json:"received"`
	Delivered bool      `json:"delivered"`
	// Backup results read from a vzdump message (for the card; PVE's layout may be
	// overridden by the admin, so each may be missing).
	Failed   []pve.GuestBackupResult `json:"failed,omitempty"`
	OK       int                     `json:"ok,omitempty"`
	Names    map[int]string          `json:"names,omitempty"`
	JobError string                  `json:"job_error,omitempty"`
	Took     string                  `json:"took,omitempty"`
	Packages int                     `json:"packages,omitempty"`
}

// Options wire a Receiver.
type Options struct {
	KV     notify.KV
	Logger *zap.Logger
	Now    func() time.Time
	// Push hands a rendered event to the outbox for targets; false when nothing can
	// deliver pushes now (the event stays pending).
	Push func(ctx context.Context, to []string, m notify.Message) bool
	// Render turns a record into its push (render.go's Render with the config's language).
	Render func(r Record) notify.Message
}

// Receiver is the endpoint and its delivery worker.
type Receiver struct {
	o    Options
	log  *zap.Logger
	mu   sync.Mutex // check-and-record of one event at a time; cfg
	cfg  config.PVEWebhook
	kick chan struct{}
	// deliverMu makes one delivery round at a time: two rounds must not push one event twice.
	deliverMu sync.Mutex
	// refused counts requests without the right secret since the last log line about them:
	// a flood of them writes one line a minute, not one per request.
	refused    int
	refusedLog time.Time
}

// New returns a Receiver for cfg.
func New(cfg config.PVEWebhook, o Options) *Receiver {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Receiver{o: o, log: o.Logger, cfg: cfg, kick: make(chan struct{}, 1)}
}

// SetConfig swaps the secret and routes (a reload; the path needs a restart).
func (rc *Receiver) SetConfig(cfg config.PVEWebhook) {
	rc.mu.Lock()
	rc.cfg = cfg
	rc.mu.Unlock()
}

func (rc *Receiver) config() config.PVEWebhook {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.cfg
}

// authorized compares the Authorization header with "Bearer <secret>" in constant time.
func authorized(h, secret string) bool {
	want := "Bearer " + secret
	if secret == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(h), []byte(want)) == 1
}

// ServeHTTP takes one event: POST with the secret, a JSON body of at most MaxBody.
func (rc *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !authorized(req.Header.Get("Authorization"), rc.config().Secret.Value()) {
		rc.refusal(req.RemoteAddr)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	if req.ContentLength > MaxBody {
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	var ev Event
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, MaxBody))
	if err := dec.Decode(&ev); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		rc.log.Warn("pve webhook: body is not the documented JSON", zap.Error(err))
		http.Error(w, "body must be the JSON of docs/pve-notifications.md", http.StatusBadRequest)
		return
	}
	if strings.TrimSpace(ev.Title) == "" && strings.TrimSpace(ev.Message) == "" {
		http.Error(w, "body must be the JSON of docs/pve-notifications.md (title and message)", http.StatusBadRequest)
		return
	}
	fresh, err := rc.record(req.Context(), ev)
	if err != nil {
		rc.log.Error("pve webhook: cannot record event", zap.Error(err))
		http.Error(w, "cannot record the event", http.StatusServiceUnavailable)
		return
	}
	if fresh {
		rc.Kick()
	}
	_, _ = w.Write([]byte("ok\n"))
}

// refusal logs refused requests, at most one line a minute.
func (rc *Receiver) refusal(remote string) {
	rc.mu.Lock()
	rc.refused++
	now := rc.o.Now()
	if now.Sub(rc.refusedLog) < time.Minute {
		rc.mu.Unlock()
		return
	}
	n := rc.refused
	rc.refused, rc.refusedLog = 0, now
	rc.mu.Unlock()
	rc.log.Warn("pve webhook: requests without the right secret refused (check the Authorization header of PVE's webhook target)",
		zap.Int("count", n), zap.String("last_remote", remote))
}

// digest names an event: the same post twice has the same digest.
func digest(ev Event) string {
	b, _ := json.Marshal(ev) // fields is a map: keys sorted
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}

// record stores ev unless it is there already; fresh reports a new event.
func (rc *Receiver) record(ctx context.Context, ev Event) (fresh bool, err error) {
	key := digest(ev)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if _, ok, err := rc.o.KV.Get(ctx, Bucket, key); err != nil || ok {
		return false, err
	}
	r := digestMessage(ev)
	r.Received = rc.o.Now()
	b, err := json.Marshal(r)
	if err != nil {
		return false, err
	}
	return true, rc.o.KV.Put(ctx, Bucket, key, b)
}

var (
	tableRE   = regexp.MustCompile(`^(\d+)\s+(.+?)\s+(ok|err)\s`)
	tookRE    = regexp.MustCompile(`^Total running time:\s*(.+?)\s*$`)
	packageRE = regexp.MustCompile(`^\S+: \S+ -> \S+\s*$`)
)

// digestMessage reads what a card shows from an event's message (PVE's default layout;
// what is not found stays empty) and shortens the message. A vzdump message may hold 1 MiB
// of logs: only the lines that can matter reach a regular expression.
func digestMessage(ev Event) Record {
	ev.Title = strings.TrimSpace(ev.Title) // subject templates end in a newline
	r := Record{Event: ev}
	lines := strings.Split(ev.Message, "\n")
	switch ev.Type() {
	case "vzdump":
		var logs []string
		inLogs := false
		tableOK := 0
		r.Names = map[int]string{}
		var tableErr []int
		for _, l := range lines {
			switch {
			case l == "Logs":
				inLogs = true
			case inLogs:
				if strings.Contains(l, "Backup of VM") || strings.Contains(l, "Backup job failed") {
					logs = append(logs, l)
				}
			case strings.HasPrefix(l, "Total running time:"):
				if m := tookRE.FindStringSubmatch(l); m != nil {
					r.Took = m[1]
				}
			case l != "" && l[0] >= '0' && l[0] <= '9':
				if m := tableRE.FindStringSubmatch(l); m != nil {
					id, _ := strconv.Atoi(m[1])
					r.Names[id] = strings.TrimSpace(m[2])
					if m[3] == "ok" {
						tableOK++
					} else {
						tableErr = append(tableErr, id)
					}
				}
			}
		}
		guests, jobErr := pve.ParseVzdumpLog(logs)
		r.JobError = jobErr
		for _, g := range guests {
			if g.OK {
				r.OK++
			} else if g.Reason != "" {
				r.Failed = append(r.Failed, g)
			}
		}
		for _, id := range tableErr {
			if !slices.ContainsFunc(r.Failed, func(g pve.GuestBackupResult) bool { return g.VMID == id }) {
				r.Failed = append(r.Failed, pve.GuestBackupResult{VMID: id})
			}
		}
		r.OK = max(r.OK, tableOK)
	case "package-updates":
		for _, l := range lines {
			if packageRE.MatchString(l) {
				r.Packages++
			}
		}
	}
	if len(r.Event.Message) > maxMessage {
		cut := maxMessage
		for cut > 0 && r.Event.Message[cut]&0xC0 == 0x80 {
			cut--
		}
		r.Event.Message = r.Event.Message[:cut]
	}
	return r
}

// Kick asks the worker to deliver now.
func (rc *Receiver) Kick() {
	select {
	case rc.kick <- struct{}{}:
	default:
	}
}

// Run delivers recorded events until ctx ends: at start (what a crash left), when kicked,
// and every minute (what could not be handed on before).
func (rc *Receiver) Run(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		rc.Deliver(ctx)
		select {
		case <-ctx.Done():
			return
		case <-rc.kick:
		case <-t.C:
		}
	}
}

// Deliver hands every pending event to the outbox, oldest first, and forgets events older
// than keepFor. It returns how many were handed on.
func (rc *Receiver) Deliver(ctx context.Context) int {
	rc.deliverMu.Lock()
	defer rc.deliverMu.Unlock()
	all, err := rc.o.KV.List(ctx, Bucket)
	if err != nil {
		rc.log.Error("pve webhook: cannot read events", zap.Error(err))
		return 0
	}
	type pending struct {
		key string
		r   Record
	}
	var todo []pending
	now := rc.o.Now()
	for k, b := range all {
		var r Record
		if json.Unmarshal(b, &r) != nil {
			_ = rc.o.KV.Delete(ctx, Bucket, k)
			continue
		}
		if now.Sub(r.Received) > keepFor {
			_ = rc.o.KV.Delete(ctx, Bucket, k)
			continue
		}
		if !r.Delivered {
			todo = append(todo, pending{k, r})
		}
	}
	slices.SortFunc(todo, func(a, b pending) int { return a.r.Received.Compare(b.r.Received) })
	cfg := rc.config()
	n := 0
	for _, p := range todo {
		to := cfg.TargetsFor(p.r.Event.Severity, p.r.Event.Type())
		// A route with no targets drops what it matches (successes an admin does not want).
		if len(to) > 0 && !rc.o.Push(ctx, to, rc.o.Render(p.r)) {
			return n
		}
		p.r.Delivered = true
		b, _ := json.Marshal(p.r)
		if err := rc.o.KV.Put(ctx, Bucket, p.key, b); err != nil {
			rc.log.Error("pve webhook: cannot mark event delivered", zap.Error(err))
			return n
		}
		rc.log.Info("pve webhook: event delivered", zap.String("type", p.r.Event.Type()), zap.String("severity", p.r.Event.Severity), zap.Strings("to", to))
		n++
	}
	return n
}

// BackupFailureSeen reports whether a failed-backup event of node arrived through the
// webhook for a job that ended around end (the notification is sent when the job ends):
// backup_failed, which reads task history, does not alert a second time for it.
func BackupFailureSeen(ctx context.Context, kv notify.KV, node string, end time.Time) bool {
	all, err := kv.List(ctx, Bucket)
	if err != nil {
		return false
	}
	for _, b := range all {
		var r Record
		if json.Unmarshal(b, &r) != nil {
			continue
		}
		ev := r.Event
		if ev.Type() != "vzdump" || ev.Severity != "error" || !sameNode(ev.Fields["hostname"], node) {
			continue
		}
		if d := time.Unix(ev.Timestamp, 0).Sub(end); d > -10*time.Minute && d < 10*time.Minute {
			return true
		}
	}
	return false
}

// sameNode compares a hostname field (a node name, or its FQDN before pve-manager 8.2.5)
// with a node name.
func sameNode(host, node string) bool {
	h, _, _ := strings.Cut(host, ".")
	return strings.EqualFold(h, node)
}
