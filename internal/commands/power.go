package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/access"
	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// Button keys carry a one-time confirmation id: "confirm:<id>" / "cancel:<id>".
const (
	keyConfirm = "confirm:"
	keyCancel  = "cancel:"
)

// power handles start, shutdown, reboot, suspend, resume, stop and reset. The order of the
// checks is what keeps hidden guests hidden: the role first (its answer names no guest),
// then the target among the guests the user may see, then access to that guest, and only
// then facts about it (its kind, its state).
func (d *Dispatcher) power(ctx context.Context, r *req, cmd Command) []chat.Reply {
	if cmd.Selector != "" {
		return d.bulk(ctx, r, cmd)
	}
	action := cmd.Action()
	g, rep := d.writeTarget(ctx, r, cmd, action)
	if rep != nil {
		return []chat.Reply{*rep}
	}
	if g.Type == "lxc" && action == "reset" {
		return []chat.Reply{textReply(chat.SeverityWarning, r.t("ct_no_reset"))}
	}
	if g.Type == "lxc" && (action == "suspend" || action == "resume") {
		// PVE's CT suspend is an experimental CRIU checkpoint that leaves it stopped.
		return []chat.Reply{textReply(chat.SeverityWarning, r.t("ct_no_suspend"))}
	}
	st, err := d.o.Fleet.GuestStatus(ctx, g)
	if err != nil {
		return []chat.Reply{d.pveError(r, err)}
	}
	if msg, done := alreadyThere(r, st, action); done {
		d.audit(ctx, r, store.AuditEntry{Decision: "allowed", Reason: "already in state", Command: clip(r.text), Cluster: g.Cluster, VMID: g.VMID, Result: msg})
		return []chat.Reply{textReply(chat.SeverityInfo, msg)}
	}
	if matched := byPart(g, cmd); r.s.confirm[action] || matched != "" {
		return []chat.Reply{d.askConfirmation(ctx, r, st, action, matched)}
	}
	return d.execute(ctx, r, g, action, r.m.ID, "")
}

// alreadyThere answers "already running/stopped" from the state just read, so no POST is
// made for nothing; and refuses actions the state makes impossible, in words.
func alreadyThere(r *req, st pve.GuestStatus, action string) (string, bool) {
	label := guestLabel(r, st.Guest)
	running := st.Status == "running"
	paused := running && (st.QMPStatus == "paused" || st.QMPStatus == "suspended")
	switch action {
	case "start":
		if running && !paused {
			return r.t("already", label, stateWord(r.s.lang, "running")), true
		}
		if paused {
			return r.t("paused_use_resume", label), true
		}
	case "shutdown", "stop":
		if st.Status == "stopped" {
			return r.t("already", label, stateWord(r.s.lang, "stopped")), true
		}
		if action == "shutdown" && paused {
			return r.t("paused_cannot", label, actionWord(r.s.lang, action)), true
		}
	case "reboot", "reset", "suspend":
		if st.Status == "stopped" {
			return r.t("not_running", label, actionWord(r.s.lang, action)), true
		}
		if action == "reboot" && paused {
			return r.t("paused_cannot", label, actionWord(r.s.lang, action)), true
		}
		if action == "suspend" && paused {
			return r.t("already", label, stateWord(r.s.lang, "paused")), true
		}
	case "resume":
		if running && !paused {
			return r.t("already", label, stateWord(r.s.lang, "running")), true
		}
		if st.Status == "stopped" {
			return r.t("not_running", label, actionWord(r.s.lang, action)), true
		}
	}
	return "", false
}

func newID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return hex.EncodeToString(b)
}

// codeAlphabet leaves out look-alikes (0/O, 1/I/L) so a code read on a phone is typed right.
const codeAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

func newCode() string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = codeAlphabet[int(b[i])%len(codeAlphabet)]
	}
	return string(b)
}

// askConfirmation stores a one-time confirmation of action on st's guest and answers with the
// card that asks for it. matched is the target the user typed when it named the guest by a
// part of its name only; the card then says which guest it matched. impact says what will
// happen; without it, the action's own sentence.
func (d *Dispatcher) askConfirmation(ctx context.Context, r *req, st pve.GuestStatus, action, matched string, impact ...string) chat.Reply {
	g := st.Guest
	c := store.Confirmation{Action: action, Cluster: g.Cluster, Node: g.Node, GuestType: g.Type, VMID: g.VMID, GuestName: g.Name}
	sub := g.Subject()
	fields := []chat.Field{
		{Label: r.t("f_node"), Value: g.Node},
		{Label: r.t("f_state"), Value: statusText(r.s.lang, st)},
	}
	if r.s.multi {
		fields = append([]chat.Field{{Label: r.t("f_cluster"), Value: g.Cluster}}, fields...)
	}
	if st.HAManaged || g.HAState != "" {
		fields = append(fields, chat.Field{Label: "HA", Value: r.t("ha_managed")})
	}
	if g.Lock != "" {
		fields = append(fields, chat.Field{Label: r.t("f_lock"), Value: g.Lock})
	}
	if r.s.policy.Protected(sub) {
		fields = append(fields, chat.Field{Label: r.t("f_protected"), Value: r.t("yes")})
	}
	lines := impact
	if len(lines) == 0 {
		lines = []string{r.t("confirm_effect_"+action, guestLabel(r, g))}
	}
	if matched != "" {
		lines = append([]string{r.t("matched_by_part", matched, guestLabel(r, g))}, lines...)
	}
	reason := ""
	if matched != "" {
		reason = " (matched by part of a name)"
	}
	return d.confirmWith(ctx, r, c, chat.Reply{
		Severity: severityFor(action),
		Title:    r.t("confirm_title", actionWord(r.s.lang, action), titleLabel(r, g)),
		Fields:   fields,
		Lines:    lines,
	}, reason)
}

// confirmWith stores c (with r's params) as a one-time confirmation of r's user and turns rep,
// which says what will happen, into the card that asks for it. note is added to the audit
// entry's reason.
func (d *Dispatcher) confirmWith(ctx context.Context, r *req, c store.Confirmation, rep chat.Reply, note string) chat.Reply {
	now := d.o.Now()
	c.ID, c.Code, c.User = newID(16), newCode(), r.user.ID
	c.Params, c.Created, c.Expires = r.params.Encode(), now, now.Add(r.s.confirmTTL)
	if err := d.o.Store.CreateConfirmation(ctx, c); err != nil {
		d.log.Error("cannot store confirmation", zap.Error(err))
		return textReply(chat.SeverityError, r.t("internal_error"))
	}
	d.audit(ctx, r, store.AuditEntry{Decision: "allowed", Reason: "confirmation requested" + note, Command: clip(r.text), Cluster: c.Cluster, VMID: c.VMID})
	mins := int(r.s.confirmTTL.Round(time.Minute) / time.Minute)
	if mins < 1 {
		mins = 1
	}
	rep.Kind = chat.ReplyConfirm
	rep.Buttons = []chat.Button{
		{Text: r.t("btn_confirm"), Key: keyConfirm + c.ID, Style: 1},
		{Text: r.t("btn_cancel"), Key: keyCancel + c.ID, Style: 2},
	}
	rep.Code = c.Code
	rep.Footer = r.t("confirm_expires", mins)
	return rep
}

func severityFor(action string) chat.Severity {
	switch action {
	case "stop", "reset":
		return chat.SeverityError
	case "start", "resume":
		return chat.SeverityInfo
	}
	return chat.SeverityWarning
}

// click handles a template card button.
func (d *Dispatcher) click(ctx context.Context, r *req) []chat.Reply {
	key := r.m.EventKey
	switch {
	case len(key) > len(keyConfirm) && key[:len(keyConfirm)] == keyConfirm:
		return d.confirmCode(ctx, r, key[len(keyConfirm):], "", r.m.ResponseCode)
	case len(key) > len(keyCancel) && key[:len(keyCancel)] == keyCancel:
		return []chat.Reply{d.cancel(ctx, r, key[len(keyCancel):], r.m.ResponseCode)}
	case len(key) > len(keyMute) && key[:len(keyMute)] == keyMute:
		return d.mute(ctx, r, key)
	case strings.HasPrefix(key, keyRun):
		return d.runPressed(ctx, r, key[len(keyRun):])
	}
	// A menu-like button carrying a command ("show status" on an alert card).
	cmd, err := Parse(key)
	if err != nil {
		return nil
	}
	r.text = key
	return d.run(ctx, r, cmd)
}

func (d *Dispatcher) confirmError(ctx context.Context, r *req, err error) chat.Reply {
	reason := "confirmation: " + err.Error()
	var msg string
	switch {
	case errors.Is(err, store.ErrWrongUser):
		msg = r.t("confirm_wrong_user")
	case errors.Is(err, store.ErrExpired):
		msg = r.t("confirm_expired")
	case errors.Is(err, store.ErrUsed):
		msg = r.t("confirm_used")
	case errors.Is(err, store.ErrNotFound):
		msg = r.t("confirm_not_found")
	default:
		d.log.Error("cannot read confirmation", zap.Error(err))
		return textReply(chat.SeverityError, r.t("internal_error"))
	}
	d.audit(ctx, r, store.AuditEntry{Decision: "refused", Reason: reason, Command: clip(r.text + r.m.EventKey)})
	return textReply(chat.SeverityWarning, msg)
}

// confirmCode runs a confirmed action: only its owner, only once, only before expiry, and
// only if the owner still has the right now (the config may have been reloaded). The
// action is journalled right after the confirmation is taken, so that a crash between the
// two cannot lose track of it.
func (d *Dispatcher) confirmCode(ctx context.Context, r *req, idOrCode, typed, updateCode string) []chat.Reply {
	if rep, stop := d.needsTypedName(ctx, r, idOrCode, typed); stop {
		return []chat.Reply{rep}
	}
	c, err := d.o.Store.TakeConfirmation(ctx, idOrCode, r.user.ID)
	if err != nil {
		return []chat.Reply{d.confirmError(ctx, r, err)}
	}
	r.text = c.Action + " " + c.Cluster + "/" + strconv.Itoa(c.VMID)
	r.params, _ = url.ParseQuery(c.Params)
	if reps, ok := d.confirmedOther(ctx, r, c, updateCode); ok {
		return reps
	}
	g := pve.Guest{Cluster: c.Cluster, Node: c.Node, Type: c.GuestType, VMID: c.VMID, Name: c.GuestName}
	start := d.o.Now()
	if rep, ok := d.begin(ctx, r, g, c.Action, c.ID, updateCode, start); !ok {
		return []chat.Reply{rep}
	}
	refuse := func(rep chat.Reply, reason string) []chat.Reply {
		d.finishAction(r, g, c.Action, c.ID, "", start, reason)
		rep.UpdateCode = updateCode
		return []chat.Reply{rep}
	}
	found, err := d.o.Fleet.Find(ctx, c.Cluster+"/"+strconv.Itoa(c.VMID), nil)
	if err != nil {
		return refuse(d.findError(ctx, r, strconv.Itoa(c.VMID), c.Action, err), "not sent: guest not found")
	}
	g = found
	sub := g.Subject()
	if dec := r.s.policy.Decide(r.user.ID, c.Action, &sub); !dec.Allowed {
		d.audit(ctx, r, store.AuditEntry{Decision: "refused", Reason: string(dec.Reason) + " (at confirmation)", Command: r.text, Cluster: g.Cluster, VMID: g.VMID})
		return refuse(textReply(chat.SeverityWarning, r.refusal(dec, guestLabel(r, g))), "not sent: "+string(dec.Reason))
	}
	return d.send(ctx, r, g, c.Action, c.ID, updateCode, start)
}

func (d *Dispatcher) cancel(ctx context.Context, r *req, idOrCode, updateCode string) chat.Reply {
	c, err := d.o.Store.CancelConfirmation(ctx, idOrCode, r.user.ID)
	if err != nil {
		return d.confirmError(ctx, r, err)
	}
	label := c.GuestName
	switch {
	case c.VMID == 0: // a node or a bulk's selector
	case label == "":
		label = strconv.Itoa(c.VMID)
	default:
		label = fmt.Sprintf("%s (%d)", c.GuestName, c.VMID)
	}
	d.audit(ctx, r, store.AuditEntry{Decision: "refused", Reason: store.ReasonCancelled, Command: c.Action + " " + label, Cluster: c.Cluster, VMID: c.VMID})
	rep := textReply(chat.SeverityInfo, r.t("cancelled", actionWord(r.s.lang, c.Action), label))
	rep.UpdateCode = updateCode
	return rep
}

// execute journals and sends an unconfirmed action. journalID makes it idempotent: an
// action already begun (a redelivery, a resumed message) is never sent again.
func (d *Dispatcher) execute(ctx context.Context, r *req, g pve.Guest, action, journalID, updateCode string) []chat.Reply {
	start := d.o.Now()
	if rep, ok := d.begin(ctx, r, g, action, journalID, updateCode, start); !ok {
		return []chat.Reply{rep}
	}
	return d.send(ctx, r, g, action, journalID, updateCode, start)
}

// begin records the action as "sending" before anything goes to PVE. It returns false
// with the reply to give when the action cannot or must not be sent.
func (d *Dispatcher) begin(ctx context.Context, r *req, g pve.Guest, action, journalID, updateCode string, start time.Time) (chat.Reply, bool) {
	fresh, err := d.o.Store.BeginAction(ctx, store.Action{
		ID: journalID, MessageKey: r.m.ID, Source: r.m.Source, User: r.user.ID, Action: action,
		Cluster: g.Cluster, Node: g.Node, GuestType: g.Type, VMID: g.VMID, Started: start, Params: r.params.Encode(),
	})
	if err != nil {
		d.log.Error("cannot record action before sending it", zap.Error(err))
		return textReply(chat.SeverityError, r.t("internal_error")), false
	}
	if !fresh {
		rep := textReply(chat.SeverityInfo, r.t("confirm_used"))
		rep.UpdateCode = updateCode
		return rep, false
	}
	return chat.Reply{}, true
}

// send makes the one POST and waits a little for the task; a task still running after
// QuickWait is followed in the background and its result sent as a new message.
func (d *Dispatcher) send(ctx context.Context, r *req, g pve.Guest, action, journalID, updateCode string, start time.Time) []chat.Reply {
	upid, err := d.post(ctx, r, g, action)
	if err != nil {
		d.finishAction(r, g, action, journalID, "", start, err.Error())
		rep := d.actionFailed(r, g, action, err)
		rep.UpdateCode = updateCode
		return []chat.Reply{rep}
	}
	if err := d.o.Store.ActionSent(context.WithoutCancel(ctx), journalID, upid); err != nil {
		d.log.Error("cannot record the sent action", zap.String("upid", upid), zap.Error(err))
	}
	quick, cancel := context.WithTimeout(ctx, d.o.QuickWait)
	res, err := d.wait(quick, r, g, action, upid)
	stillRunning := errors.Is(quick.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	cancel()
	if err == nil && res.OK && res.HA && !res.Settled {
		// The HA manager has the request; the guest moves in its next rounds.
		d.follow.Add(1)
		go func() {
			defer d.follow.Done()
			if rep, ok := d.awaitHA(r, g, action, journalID, upid, start); ok {
				d.notify(chat.WithSource(d.bg, r.m.Source), r.user.ID, rep)
			}
		}()
		rep := d.haWaitingReply(r, g, action, res.FinalState)
		rep.UpdateCode = updateCode
		return []chat.Reply{rep}
	}
	if err == nil {
		rep := d.resultReply(r, g, action, journalID, upid, start, res)
		rep.UpdateCode = updateCode
		return []chat.Reply{rep}
	}
	if stillRunning {
		// Still running: say so now, follow up with the result as a new message.
		d.followUp(r, g, action, journalID, upid, start)
		rep := chat.Reply{Kind: chat.ReplyCard, Severity: chat.SeverityInfo,
			Title: r.t("running", titleLabel(r, g), actionWord(r.s.lang, action)), Fields: []chat.Field{{Label: r.t("f_node"), Value: g.Node}}}
		rep.UpdateCode, rep.FollowUp = updateCode, true
		return []chat.Reply{rep}
	}
	d.finishAction(r, g, action, journalID, upid, start, err.Error())
	rep := d.actionFailed(r, g, action, err)
	rep.UpdateCode = updateCode
	return []chat.Reply{rep}
}

func (d *Dispatcher) followUp(r *req, g pve.Guest, action, journalID, upid string, start time.Time) {
	d.follow.Add(1)
	go func() {
		defer d.follow.Done()
		// The result goes back to the chat the action came from (Recover's have none: WeCom).
		ctx, cancel := context.WithTimeout(chat.WithSource(d.bg, r.m.Source), d.o.TaskTimeout)
		defer cancel()
		var rep chat.Reply
		res, err := d.wait(ctx, r, g, action, upid)
		if err != nil {
			if d.bg.Err() != nil {
				return // shutting down: the action stays "sent" and Recover takes it up
			}
			d.finishAction(r, g, action, journalID, upid, start, err.Error())
			rep = d.actionFailed(r, g, action, err)
		} else if res.OK && res.HA && !res.Settled {
			var ok bool
			if rep, ok = d.awaitHA(r, g, action, journalID, upid, start); !ok {
				return
			}
		} else {
			rep = d.resultReply(r, g, action, journalID, upid, start, res)
		}
		if d.o.Notify != nil {
			if err := d.o.Notify.Reply(ctx, r.user.ID, rep); err != nil {
				d.log.Error("cannot send task result", zap.String("upid", upid), zap.Error(err))
			}
		}
	}()
}

// haWaitingReply says that the HA manager has the request and when to expect the result.
func (d *Dispatcher) haWaitingReply(r *req, g pve.Guest, action, state string) chat.Reply {
	bound := pve.HABound(g, pve.Action(action), d.o.HARound)
	fields := []chat.Field{{Label: r.t("f_node"), Value: g.Node}}
	if state != "" {
		fields = append(fields, chat.Field{Label: r.t("f_state"), Value: stateWord(r.s.lang, state)})
	}
	return chat.Reply{Kind: chat.ReplyCard, Severity: chat.SeverityInfo,
		Title:  r.t("ha_waiting", titleLabel(r, g), actionWord(r.s.lang, action)),
		Fields: fields,
		Lines:  []string{r.t("ha_waiting_line", int(d.o.HARound/time.Second), i18n.Duration(r.s.lang, bound))},
	}
}

// awaitHA follows an HA request, in its own context, until the guest's state shows it, the
// HA manager puts the service in error state, or the bound (HA rounds plus the guest's own
// timeout, counted from the action's start by the dispatcher's clock) has passed. It returns
// the one final answer, or false when the bot is shutting down (the action stays "sent" and
// Recover takes it up).
func (d *Dispatcher) awaitHA(r *req, g pve.Guest, action, journalID, upid string, start time.Time) (chat.Reply, bool) {
	ctx := chat.WithSource(d.bg, r.m.Source)
	want := "stopped"
	if action == "start" {
		want = "running"
	}
	bound := pve.HABound(g, pve.Action(action), d.o.HARound)
	deadline := start.Add(bound)
	last := pve.GuestStatus{Guest: g}
	for {
		st, err := d.o.Fleet.GuestStatus(ctx, g)
		if err == nil {
			last = st
			paused := st.QMPStatus == "paused" || st.QMPStatus == "suspended"
			switch {
			case st.Status == want && !(want == "running" && paused):
				return d.resultReply(r, g, action, journalID, upid, start,
					pve.TaskResult{UPID: upid, OK: true, Exit: "OK", HA: true, Settled: true, FinalState: want, Duration: d.o.Now().Sub(start)}), true
			case st.HAState == "error":
				d.finishAction(r, g, action, journalID, upid, start, "HA service in error state")
				return d.haFailedReply(r, g, action, "ha_error", st, bound), true
			}
		} else if ctx.Err() == nil {
			d.log.Info("cannot read the state of a guest the HA manager is working on", zap.String("upid", upid), zap.Error(err))
		}
		if ctx.Err() != nil {
			return chat.Reply{}, false
		}
		if !d.o.Now().Before(deadline) {
			d.finishAction(r, g, action, journalID, upid, start, "HA request not carried out within "+bound.String())
			return d.haFailedReply(r, g, action, "ha_not_done", last, bound), true
		}
		t := time.NewTimer(d.o.HAPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return chat.Reply{}, false
		case <-t.C:
		}
	}
}

// haSID is the guest's HA resource id, as ha-manager names it: vm:<id> or ct:<id>.
func haSID(g pve.Guest) string {
	if g.Type == "lxc" {
		return "ct:" + strconv.Itoa(g.VMID)
	}
	return "vm:" + strconv.Itoa(g.VMID)
}

func (d *Dispatcher) haFailedReply(r *req, g pve.Guest, action, key string, st pve.GuestStatus, bound time.Duration) chat.Reply {
	sid := haSID(g)
	fields := []chat.Field{{Label: r.t("f_node"), Value: g.Node}, {Label: r.t("f_state"), Value: stateWord(r.s.lang, st.Status)}}
	if st.HAState != "" {
		fields = append(fields, chat.Field{Label: r.t("f_ha_state"), Value: haState(r.s.lang, st.HAState)})
	}
	title := r.t("ha_not_done", titleLabel(r, g), actionWord(r.s.lang, action), i18n.Duration(r.s.lang, bound))
	lines := []string{r.t("ha_check", sid)}
	if key == "ha_error" {
		title = r.t("ha_error", titleLabel(r, g), actionWord(r.s.lang, action))
		lines = []string{r.t("ha_error_fix", sid)}
	}
	return chat.Reply{Kind: chat.ReplyCard, Severity: chat.SeverityError, Title: title, Fields: fields, Lines: lines}
}

func (d *Dispatcher) resultReply(r *req, g pve.Guest, action, journalID, upid string, start time.Time, res pve.TaskResult) chat.Reply {
	var extra []chat.Field
	if s, ok := senders[action]; ok && s.details != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		extra = s.details(ctx, d, r, g, upid, &res)
		cancel()
	}
	secs := res.Duration
	if secs <= 0 {
		secs = d.o.Now().Sub(start)
	}
	dur := i18n.Duration(r.s.lang, secs)
	if !res.OK {
		if res.Exit == "" {
			res.Exit = "unexpected status"
		}
		reason := res.Exit
		if res.Reason != "" {
			reason = res.Reason // the task log's words, not "exit code 255"
			d.finishAction(r, g, action, journalID, upid, start, res.Exit+": "+res.Reason)
		} else {
			d.finishAction(r, g, action, journalID, upid, start, res.Exit)
		}
		if rep, ok := alreadyFromPVE(r, g, action, res.Exit); ok {
			return rep
		}
		rep := chat.Reply{Kind: chat.ReplyCard, Severity: chat.SeverityError,
			Title:  r.t("result_failed", titleLabel(r, g), actionWord(r.s.lang, action)),
			Fields: append(append([]chat.Field{{Label: r.t("f_reason"), Value: explainPVE(r, reason)}, {Label: r.t("f_node"), Value: g.Node}}, paramFields(r)...), extra...),
		}
		if strings.Contains(res.Reason, "in error state") {
			rep.Lines = []string{r.t("ha_error_fix", haSID(g))}
		}
		return rep
	}
	d.finishAction(r, g, action, journalID, upid, start, "OK")
	title := r.t("result_ok", titleLabel(r, g), doneWord(r.s.lang, action), dur)
	rep := chat.Reply{Kind: chat.ReplyCard, Severity: chat.SeverityOK, Title: title,
		Fields: append(append([]chat.Field{{Label: r.t("f_node"), Value: g.Node}}, paramFields(r)...), extra...)}
	if res.Exit != "" && res.Exit != "OK" {
		rep.Fields = append(rep.Fields, chat.Field{Label: r.t("f_task"), Value: res.Exit})
	}
	if res.FinalState != "" {
		rep.Fields = append(rep.Fields, chat.Field{Label: r.t("f_state"), Value: stateWord(r.s.lang, res.FinalState)})
	}
	return rep
}

// finishAction closes the journal entry and writes the audit entry of an executed action.
func (d *Dispatcher) finishAction(r *req, g pve.Guest, action, journalID, upid string, start time.Time, result string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.o.Store.ActionDone(ctx, journalID, result); err != nil {
		d.log.Error("cannot record action result", zap.Error(err))
	}
	d.audit(ctx, r, store.AuditEntry{Decision: "allowed", Command: clip(action + " " + guestLabel(r, g)), Cluster: g.Cluster, VMID: g.VMID,
		UPID: upid, Result: clip(result), Duration: d.o.Now().Sub(start)})
}

func (d *Dispatcher) actionFailed(r *req, g pve.Guest, action string, err error) chat.Reply {
	var pe *pve.Error
	if errors.As(err, &pe) {
		if rep, ok := alreadyFromPVE(r, g, action, pe.Reason); ok {
			return rep
		}
		if strings.Contains(pe.Reason, "VM is paused - cannot shutdown") {
			return textReply(chat.SeverityWarning, r.t("paused_cannot", guestLabel(r, g), actionWord(r.s.lang, action)))
		}
	}
	return chat.Reply{Kind: chat.ReplyCard, Severity: chat.SeverityError,
		Title:  r.t("result_failed", titleLabel(r, g), actionWord(r.s.lang, action)),
		Fields: []chat.Field{{Label: r.t("f_reason"), Value: d.pveReason(r, err)}, {Label: r.t("f_node"), Value: g.Node}},
	}
}

// alreadyFromPVE turns PVE's "already running" / "not running" answer to a start, resume,
// shutdown or stop into "already running/stopped": the guest changed state between the
// bot's read and its POST, and the user's wish is fulfilled, not failed.
func alreadyFromPVE(r *req, g pve.Guest, action, text string) (chat.Reply, bool) {
	var state string
	switch {
	case (action == "start" || action == "resume") && strings.Contains(text, "already running"):
		state = "running"
	case (action == "shutdown" || action == "stop") && strings.Contains(text, "not running"):
		state = "stopped"
	default:
		return chat.Reply{}, false
	}
	return textReply(chat.SeverityInfo, r.t("already", guestLabel(r, g), stateWord(r.s.lang, state))), true
}

// Recover settles actions left open by a crash or restart: one whose POST was recorded
// as sent is followed to its result; one still "sending" may or may not have reached PVE,
// so it is looked up among the node's recent tasks, and never sent again. The owner is
// told either way.
func (d *Dispatcher) Recover(ctx context.Context) {
	acts, err := d.o.Store.OpenActions(ctx)
	if err != nil {
		d.log.Error("cannot read open actions", zap.Error(err))
		return
	}
	s := d.cur.Load()
	for _, a := range acts {
		r := &req{s: s, m: chat.Message{ID: a.MessageKey, User: a.User, Source: a.Source}, user: access.User{ID: a.User}, text: a.Action}
		r.params, _ = url.ParseQuery(a.Params)
		if d.recoverOther(ctx, r, a) {
			continue
		}
		g := pve.Guest{Cluster: a.Cluster, Node: a.Node, Type: a.GuestType, VMID: a.VMID}
		if found, err := d.o.Fleet.Find(ctx, a.Cluster+"/"+strconv.Itoa(a.VMID), nil); err == nil {
			g = found
		}
		upid := a.UPID
		if upid == "" {
			upid = d.lookupTask(ctx, a)
		}
		if upid == "" {
			d.finishAction(r, g, a.Action, a.ID, "", a.Started, "unknown: interrupted before PVE answered")
			d.notify(chat.WithSource(ctx, a.Source), a.User, textReply(chat.SeverityWarning, r.t("recover_unknown", actionWord(s.lang, a.Action), guestLabel(r, g))))
			continue
		}
		if a.UPID == "" {
			_ = d.o.Store.ActionSent(ctx, a.ID, upid)
		}
		d.log.Info("following an action sent before the restart", zap.String("upid", upid))
		d.followUp(r, g, a.Action, a.ID, upid, a.Started)
	}
}

// lookupTask finds the task an interrupted POST may have started: same node, guest and
// kind, started no earlier than the journal entry.
func (d *Dispatcher) lookupTask(ctx context.Context, a store.Action) string {
	tasks, _ := d.o.Fleet.Tasks(ctx, 50)
	for _, t := range tasks {
		if t.Node == a.Node && t.ID == strconv.Itoa(a.VMID) && taskMatches(a.Action, t.Type) && !t.Start.Before(a.Started.Add(-2*time.Second)) {
			return t.UPID
		}
	}
	return ""
}

func taskMatches(action, typ string) bool {
	want := map[string][]string{
		"start": {"qmstart", "vzstart", "hastart"}, "stop": {"qmstop", "vzstop", "hastop"},
		"shutdown": {"qmshutdown", "vzshutdown", "hastop"}, "reboot": {"qmreboot", "vzreboot"},
		"reset": {"qmreset"}, "suspend": {"qmsuspend", "qmpause", "vzsuspend"}, "resume": {"qmresume", "vzresume"},
	}
	if s, ok := senders[action]; ok {
		return slices.Contains(s.tasks, typ)
	}
	return slices.Contains(want[action], typ)
}

func (d *Dispatcher) notify(ctx context.Context, user string, rep chat.Reply) {
	if d.o.Notify == nil {
		return
	}
	if err := d.o.Notify.Reply(ctx, user, rep); err != nil {
		d.log.Error("cannot notify user", zap.Error(err))
	}
}
