package commands

// Bulk power actions: a guest power verb with a selector instead of one target
// ("vm shutdown tag:lab", "启动 all"). The set is resolved among the guests the user may act
// on, without those already there, protected ones (unless admin) and templates, and shown on
// one confirmation card, always. The confirmation's params are the plan (the guests in
// order); running it journals the bulk as one entry and each guest as its own entry
// "<bulk id>#bulk#<cluster/vmid>", so a restart resumes the plan: a guest whose entry exists
// is never sent again (followed, or looked up among the tasks), the rest are sent.
//
// Order is PVE's startall/stopall order (docs/pve-features.md §8.1): start and resume by
// ascending startup order then VMID, the others the reverse; guests without an order count
// as the largest. One order group finishes before the next begins; within a group the POSTs
// leave in plan order and at most Options.BulkPerNode guests of one node run at once.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/access"
	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/selector"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// actionBulk is the journal entry of a bulk action as a whole.
const actionBulk = "bulk"

// bulkPartSep joins a bulk's journal id and a guest's reference into the guest's entry id.
const bulkPartSep = "#bulk#"

func isBulkPart(id string) bool { return strings.Contains(id, bulkPartSep) }

// allWords mean every guest the user may act on.
var allWords = []string{"all", "*", "全部", "所有"}

// bulkSelector reports whether what follows a power verb is one selector of many guests
// rather than one target, and returns it in the selector grammar ("all" becomes "*"). A
// plain VMID or name is a single target.
func bulkSelector(rest []string) (string, bool) {
	if len(rest) != 1 {
		return "", false
	}
	t := rest[0]
	cluster, what, hasCluster := strings.Cut(t, "/")
	if !hasCluster {
		cluster, what = "", t
	}
	if slices.Contains(allWords, what) {
		what = "*"
	}
	lo, hi, isRange := strings.Cut(what, "-")
	switch {
	case what == "*", strings.Contains(what, ":"):
	case isRange && isDigits(lo) && isDigits(hi):
	default:
		return "", false
	}
	if hasCluster {
		what = cluster + "/" + what
	}
	if _, err := selector.Parse(what); err != nil {
		return "", false
	}
	return what, true
}

// powerHelp is the help of a guest power row; start's also says that every power verb takes
// a selector (one line, so help stays one message).
func powerHelp(v Verb, usage Text) []HelpLine {
	h := []HelpLine{{string(v), usage}}
	if v == VerbStart {
		h = append(h, HelpLine{"bulk", Text{"vm start <selector>", "启动 <选择器>"}})
	}
	return h
}

// bulkStep is one guest of a plan.
type bulkStep struct {
	ref   string // cluster/vmid
	node  string
	order int
}

func (s bulkStep) encode() string { return s.ref + "@" + s.node + "@" + strconv.Itoa(s.order) }

func decodeStep(v string) (bulkStep, bool) {
	parts := strings.Split(v, "@")
	if len(parts) != 3 {
		return bulkStep{}, false
	}
	o, err := strconv.Atoi(parts[2])
	if err != nil {
		return bulkStep{}, false
	}
	return bulkStep{ref: parts[0], node: parts[1], order: o}, true
}

// ascending reports whether action runs in start order (else stop order).
func ascending(action string) bool { return action == "start" || action == "resume" }

// wouldSkip is why a guest of the list is left out of a bulk action, from the list's state
// ("" to keep it).
func wouldSkip(g pve.Guest, action string) string {
	switch {
	case g.Template:
		return "template"
	case g.Status != "running" && g.Status != "stopped":
		return "unknown"
	case action == "start" && g.Status == "running", (action == "shutdown" || action == "stop") && g.Status == "stopped":
		return "already"
	case action != "start" && g.Status == "stopped":
		return "not_running"
	case action == "reset" && g.Type == "lxc":
		return "ct"
	}
	return ""
}

// bulk asks to run one power action on every guest a selector picks.
func (d *Dispatcher) bulk(ctx context.Context, r *req, cmd Command) []chat.Reply {
	action := cmd.Action()
	if dec := r.s.policy.Decide(r.user.ID, action, nil); dec.Reason == access.ReasonNoRole {
		d.audit(ctx, r, store.AuditEntry{Decision: "refused", Reason: string(dec.Reason), Command: clip(r.text)})
		return []chat.Reply{textReply(chat.SeverityWarning, r.refusal(dec, ""))}
	}
	sel, err := selector.Parse(cmd.Selector)
	if err != nil {
		return []chat.Reply{textReply(chat.SeverityWarning, r.t("bulk_bad_selector", cmd.Selector))}
	}
	guests, errs := d.o.Fleet.Guests(ctx)
	var steps []bulkStep
	var labels []string
	skipped := map[string]int{}
	for _, g := range guests {
		sub := g.Subject()
		if !sel.Match(sub) || (cmd.Kind != "" && g.Type != cmd.Kind) {
			continue
		}
		if r.user.Role != config.RoleAdmin && !r.s.policy.Visible(r.user.ID, sub) {
			continue // outside the scope: not mentioned, not counted
		}
		why := wouldSkip(g, action)
		dec := r.s.policy.Decide(r.user.ID, action, &sub)
		if dec.Reason == access.ReasonReadOnly {
			d.audit(ctx, r, store.AuditEntry{Decision: "refused", Reason: string(dec.Reason), Command: clip(r.text)})
			return []chat.Reply{textReply(chat.SeverityWarning, r.refusal(dec, ""))}
		}
		if why == "" && !dec.Allowed {
			why = "protected"
			if dec.Reason != access.ReasonProtected {
				continue
			}
		}
		if why != "" {
			skipped[why]++
			continue
		}
		order := math.MaxInt32
		if cfg, err := d.o.Fleet.GuestConfig(ctx, g); err == nil && cfg.Startup.Order != math.MaxInt {
			order = cfg.Startup.Order
		}
		steps = append(steps, bulkStep{ref: g.Ref(), node: g.Node, order: order})
		label := g.Name
		if label == "" {
			label = guestLabel(r, g)
		}
		if g.HAState != "" {
			label += "(HA)"
		}
		labels = append(labels, label)
	}
	idx := make([]int, len(steps))
	for i := range idx {
		idx[i] = i
	}
	up := ascending(action)
	slices.SortStableFunc(idx, func(a, b int) int {
		sa, sb := steps[a], steps[b]
		c := sa.order - sb.order
		if c == 0 {
			_, va, _ := strings.Cut(sa.ref, "/")
			_, vb, _ := strings.Cut(sb.ref, "/")
			na, _ := strconv.Atoi(va)
			nb, _ := strconv.Atoi(vb)
			c = na - nb
		}
		if !up {
			c = -c
		}
		return c
	})
	skipLine := skippedLine(r, skipped)
	if len(steps) == 0 {
		rep := textReply(chat.SeverityInfo, r.t("bulk_nothing", actionWord(r.s.lang, action), cmd.Selector))
		if skipLine != "" {
			rep.Lines = []string{skipLine}
		}
		if len(errs) > 0 {
			rep.Lines = append(rep.Lines, d.clusterErrors(r, errs)...)
		}
		return []chat.Reply{rep}
	}
	r.params = url.Values{"bulk": {"1"}, "verb": {action}, "sel": {cmd.Selector}}
	ordered := make([]string, 0, len(idx))
	for _, i := range idx {
		r.params.Add("g", steps[i].encode())
		ordered = append(ordered, labels[i])
	}
	// A WeCom card shows about 160 characters of grey text: what is left out first, then
	// the guests in order, as many as fit, and how many more.
	fields := []chat.Field{
		{Label: r.t("f_count"), Value: strconv.Itoa(len(steps))},
		{Label: r.t("f_order"), Value: r.t("bulk_order_" + map[bool]string{true: "up", false: "down"}[up])},
	}
	var lines []string
	if skipLine != "" {
		lines = append(lines, skipLine)
	}
	lines = append(lines, joinWithin(r, ordered, " → ", 110))
	if len(errs) > 0 {
		lines = append(lines, d.clusterErrors(r, errs)...)
	}
	c := store.Confirmation{Action: action, GuestName: cmd.Selector}
	out := chat.Reply{Severity: severityFor(action), Title: r.t("bulk_confirm_title", actionWord(r.s.lang, action), cmd.Selector, len(steps)), Fields: fields, Lines: lines}
	return []chat.Reply{d.confirmWith(ctx, r, c, out, "")}
}

// skippedLine says how many guests were left out and why, or "".
func skippedLine(r *req, skipped map[string]int) string {
	var parts []string
	total := 0
	for _, why := range []string{"already", "not_running", "protected", "template", "ct", "unknown"} {
		if n := skipped[why]; n > 0 {
			parts = append(parts, r.t("bulk_skip_"+why, n))
			total += n
		}
	}
	if total == 0 {
		return ""
	}
	return r.t("bulk_skipped", total, strings.Join(parts, r.t("list_sep")))
}

// plan reads the steps of a bulk from its params.
func plan(p url.Values) []bulkStep {
	var out []bulkStep
	for _, v := range p["g"] {
		if s, ok := decodeStep(v); ok {
			out = append(out, s)
		}
	}
	return out
}

// runBulk starts a confirmed bulk: its journal entry first, then the guests in the
// background; the answer says it began, the summary follows as a new message.
func (d *Dispatcher) runBulk(ctx context.Context, r *req, c store.Confirmation, updateCode string) []chat.Reply {
	action := c.Action
	r.text = action + " " + r.params.Get("sel")
	start := d.o.Now()
	fresh, err := d.o.Store.BeginAction(ctx, store.Action{ID: c.ID, MessageKey: r.m.ID, Source: r.m.Source, User: r.user.ID,
		Action: actionBulk, Started: start, Params: r.params.Encode()})
	if err != nil {
		d.log.Error("cannot record a bulk action", zap.Error(err))
		return []chat.Reply{textReply(chat.SeverityError, r.t("internal_error"))}
	}
	if !fresh {
		rep := textReply(chat.SeverityInfo, r.t("confirm_used"))
		rep.UpdateCode = updateCode
		return []chat.Reply{rep}
	}
	steps := plan(r.params)
	d.follow.Add(1)
	go d.bulkRun(r, c.ID, action, steps, start)
	rep := chat.Reply{Kind: chat.ReplyCard, Severity: chat.SeverityInfo, Title: r.t("bulk_started", actionWord(r.s.lang, action), len(steps))}
	rep.UpdateCode = updateCode
	return []chat.Reply{rep}
}

// resumeBulk takes up a bulk left open by a restart (see recoverOther).
func (d *Dispatcher) resumeBulk(_ context.Context, r *req, a store.Action) {
	action := r.params.Get("verb")
	d.log.Info("resuming a bulk action after the restart", zap.String("id", a.ID))
	d.follow.Add(1)
	go d.bulkRun(r, a.ID, action, plan(r.params), a.Started)
}

// bulkResult is what became of one guest.
type bulkResult struct {
	label   string
	outcome string // done | failed | skipped
	reason  string
}

// bulkRun runs the steps group by group and sends one summary.
func (d *Dispatcher) bulkRun(r *req, id, action string, steps []bulkStep, start time.Time) {
	defer d.follow.Done()
	ctx := chat.WithSource(d.bg, r.m.Source)
	results := make([]bulkResult, len(steps))
	for i := 0; i < len(steps); {
		j := i
		for j < len(steps) && steps[j].order == steps[i].order {
			j++
		}
		sems := map[string]chan struct{}{}
		var wg sync.WaitGroup
		for k := i; k < j; k++ {
			sem := sems[steps[k].node]
			if sem == nil {
				sem = make(chan struct{}, d.o.BulkPerNode)
				sems[steps[k].node] = sem
			}
			sem <- struct{}{}
			wg.Add(1)
			var once sync.Once
			posted := make(chan struct{})
			sent := func() { once.Do(func() { close(posted) }) }
			go func(k int) {
				defer wg.Done()
				defer func() { <-sem }()
				defer sent()
				results[k] = d.bulkOne(ctx, r, id, action, steps[k], sent)
			}(k)
			<-posted // POSTs leave in plan order; only the waits overlap
		}
		wg.Wait()
		if d.bg.Err() != nil {
			return // shutting down: the bulk stays open and Recover resumes it
		}
		i = j
	}
	// Failures first, with PVE's reason: a card shows little text, and they are what needs
	// attention; then what was skipped; the done ones on one line.
	counts := map[string]int{}
	var lines, done []string
	for _, outcome := range []string{"failed", "skipped"} {
		for _, res := range results {
			if res.outcome != outcome {
				continue
			}
			line := r.t("bulk_line_"+res.outcome, res.label)
			if res.reason != "" {
				line += r.t("bulk_reason", res.reason)
			}
			lines = append(lines, line)
		}
	}
	for _, res := range results {
		counts[res.outcome]++
		if res.outcome == "done" {
			done = append(done, res.label)
		}
	}
	if len(done) > 0 {
		lines = append(lines, r.t("bulk_line_done", joinWithin(r, done, r.t("list_sep"), 80)))
	}
	summary := fmt.Sprintf("done %d, failed %d, skipped %d", counts["done"], counts["failed"], counts["skipped"])
	dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	if err := d.o.Store.ActionDone(dctx, id, summary); err != nil {
		d.log.Error("cannot record bulk result", zap.Error(err))
	}
	d.audit(dctx, r, store.AuditEntry{Decision: "allowed", Command: clip("bulk " + action + " " + r.params.Get("sel")), Result: summary, Duration: d.o.Now().Sub(start)})
	cancel()
	sev := chat.SeverityOK
	if counts["failed"] > 0 {
		sev = chat.SeverityError
	}
	d.notify(ctx, r.user.ID, chat.Reply{Kind: chat.ReplyCard, Severity: sev,
		Title: r.t("bulk_summary", actionWord(r.s.lang, action), counts["done"], counts["failed"], counts["skipped"]), Lines: lines})
}

// bulkOne runs one guest of a bulk: never sent twice. A guest whose entry exists (a resumed
// bulk) is followed to its result or looked up among the tasks; a new one is checked again
// (the config or the guest may have changed), journalled, sent and followed.
func (d *Dispatcher) bulkOne(ctx context.Context, r *req, id, action string, s bulkStep, sent func()) bulkResult {
	partID := id + bulkPartSep + s.ref
	res := bulkResult{label: s.ref}
	g, err := d.o.Fleet.Find(ctx, s.ref, nil)
	if err == nil {
		res.label = guestLabel(r, g)
	} else {
		g = pve.Guest{Cluster: strings.Split(s.ref, "/")[0], Node: s.node}
		g.VMID, _ = strconv.Atoi(strings.Split(s.ref, "/")[1])
	}
	a, gerr := d.o.Store.GetAction(ctx, partID)
	switch {
	case gerr == nil && a.State == "done":
		return d.partResult(r, res, a.Result)
	case gerr == nil:
		upid := a.UPID
		if upid == "" {
			upid = d.lookupTask(ctx, a)
		}
		if upid == "" {
			d.finishAction(r, g, action, partID, "", a.Started, "unknown: interrupted before PVE answered")
			res.outcome, res.reason = "failed", r.t("bulk_unknown")
			return res
		}
		if a.UPID == "" {
			_ = d.o.Store.ActionSent(ctx, partID, upid)
		}
		sent()
		return d.bulkWait(ctx, r, res, g, action, partID, upid, a.Started)
	case !errors.Is(gerr, store.ErrNotFound):
		res.outcome, res.reason = "failed", r.t("internal_error")
		return res
	}
	if err != nil {
		res.outcome, res.reason = "skipped", r.t("bulk_gone")
		return res
	}
	sub := g.Subject()
	if dec := r.s.policy.Decide(r.user.ID, action, &sub); !dec.Allowed {
		res.outcome, res.reason = "skipped", r.refusal(dec, "")
		return res
	}
	st, err := d.o.Fleet.GuestStatus(ctx, g)
	if err != nil {
		res.outcome, res.reason = "failed", d.pveReason(r, err)
		return res
	}
	if msg, there := alreadyThere(r, st, action); there {
		res.outcome, res.reason = "skipped", msg
		return res
	}
	start := d.o.Now()
	if rep, ok := d.begin(ctx, r, g, action, partID, "", start); !ok {
		res.outcome, res.reason = "failed", rep.Title
		return res
	}
	upid, err := d.post(ctx, r, g, action)
	if err != nil {
		d.finishAction(r, g, action, partID, "", start, err.Error())
		res.outcome, res.reason = "failed", d.bulkReason(r, err)
		return res
	}
	if err := d.o.Store.ActionSent(context.WithoutCancel(ctx), partID, upid); err != nil {
		d.log.Error("cannot record the sent action", zap.String("upid", upid), zap.Error(err))
	}
	sent()
	return d.bulkWait(ctx, r, res, g, action, partID, upid, start)
}

// bulkWait follows one guest's task to its end and closes its entry.
func (d *Dispatcher) bulkWait(ctx context.Context, r *req, res bulkResult, g pve.Guest, action, partID, upid string, start time.Time) bulkResult {
	wctx, cancel := context.WithTimeout(ctx, d.o.TaskTimeout)
	defer cancel()
	tr, err := d.o.Fleet.Wait(wctx, g, upid)
	if d.bg.Err() != nil {
		return res // shutting down: the entry stays sent
	}
	if err == nil && tr.OK && tr.HA && !tr.Settled {
		// The HA manager has the request: done when the guest's state shows it (awaitHA
		// closes the entry either way).
		rep, ok := d.awaitHA(r, g, action, partID, upid, start)
		switch {
		case !ok:
		case rep.Severity == chat.SeverityOK:
			res.outcome = "done"
		default:
			res.outcome, res.reason = "failed", rep.Title
		}
		return res
	}
	result := "OK"
	switch {
	case err != nil:
		result = err.Error()
		res.outcome, res.reason = "failed", d.bulkReason(r, err)
	case !tr.OK:
		result = tr.Exit
		res.outcome, res.reason = "failed", explainPVE(r, tr.Exit)
	default:
		res.outcome = "done"
	}
	d.finishAction(r, g, action, partID, upid, start, result)
	return res
}

// bulkReason is PVE's refusal in words.
func (d *Dispatcher) bulkReason(r *req, err error) string {
	var pe *pve.Error
	if errors.As(err, &pe) && pe.Reason != "" && pe.Kind == pve.KindPVE {
		return explainPVE(r, pe.Reason)
	}
	return d.pveReason(r, err)
}

// partResult reads a finished guest's entry of a resumed bulk.
func (d *Dispatcher) partResult(r *req, res bulkResult, result string) bulkResult {
	if result == "OK" {
		res.outcome = "done"
		return res
	}
	res.outcome, res.reason = "failed", explainPVE(r, result)
	return res
}
