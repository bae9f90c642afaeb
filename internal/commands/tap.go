package commands

// This file holds the answers shaped for a phone: short parse errors with the likely
// command as a button, buttons that run a command (suggestions, candidates, a guest's
// actions), and their text-mode twin, numbered replies.

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// keyRun starts the key of a button that runs a command: "run:<command as typed>". A press
// is a new message that runs the command as if typed (access check, confirmation, audit).
const keyRun = "run:"

// maxTapButtons is how many command buttons one reply offers (WeCom's card limit).
const maxTapButtons = 6

// bucketChoices holds each user's numbered choices of text mode (key: lower-case UserID).
const bucketChoices = "choices"

// runButton is a button that runs cmd (a command as the user would type it).
func runButton(label, cmd string, style int) chat.Button {
	return chat.Button{Text: clipButton(label), Key: keyRun + cmd, Style: style}
}

// clipButton keeps a button's text short enough for a phone's button row.
func clipButton(s string) string {
	const max = 24
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max-1]) + "…"
}

// inLang picks t's text in r's language.
func (r *req) inLang(t Text) string { return usage(r.s.lang, t) }

// commandFor is cmd's command written in r's language with target as its target
// ("启动 105", "vm start 105", "容器 启动 200").
func (r *req) commandFor(cmd Command, target string) string {
	i := -1
	for j := range table {
		if table[j].Verb == cmd.Verb {
			i = j
		}
	}
	if i < 0 {
		return target
	}
	return r.inLang(fixOf(entry{spec: i, noun: -1}, Text{}, cmd.Kind, []string{target}))
}

// greetings are what people say first; they get a greeting back, not an error.
var greetings = []string{"你好", "您好", "hi", "hello", "hey", "在吗", "嗨"}

// parseError answers input that is not a command in at most three lines: what was not
// understood, the closest command with the rest of the input kept (as a button too), and
// where the full help is.
func (d *Dispatcher) parseError(r *req, err error) chat.Reply {
	var pe *ParseError
	if !errors.As(err, &pe) {
		return textReply(chat.SeverityWarning, r.t("unknown_command"), r.t("parse_hint"))
	}
	if pe.Key == "parse_unknown" {
		in := strings.Trim(Normalize(pe.Input), "!！。.~～?？ ")
		for _, g := range greetings {
			if in == g {
				return textReply(chat.SeverityInfo, r.t("greeting"))
			}
		}
	}
	rep := textReply(chat.SeverityWarning, pe.Message(string(r.s.lang)))
	var fixes []string
	for _, f := range pe.Fixes {
		cmd := r.inLang(f)
		c, err := Parse(cmd)
		if s, ok := specOf(c.Verb); err == nil && ok && r.may(s) {
			fixes = append(fixes, cmd)
		}
	}
	switch s, ok := specOf(pe.Verb); {
	case len(fixes) > 0:
		rep.Lines = append(rep.Lines, r.t("did_you_mean", fixes[0]))
		for _, f := range fixes {
			rep.Buttons = append(rep.Buttons, runButton(f, f, 1))
		}
	case ok && len(s.Help) > 0:
		rep.Lines = append(rep.Lines, r.t("parse_usage", r.inLang(s.Help[0].Text), r.inLang(s.Example)))
	}
	rep.Lines = append(rep.Lines, r.t("parse_hint"))
	return rep
}

// choices is a user's numbered choices in text mode.
type choices struct {
	Commands []string  `json:"commands"`
	Until    time.Time `json:"until"`
}

// offer makes the command buttons of replies usable: in card mode a reply with buttons is
// a card; in text mode the buttons become numbered lines ("1 · 启动 101"), remembered for
// the user until the confirmation TTL passes, so that replying "1" runs the first.
// Confirmation buttons are left alone: text mode confirms with the code.
func (d *Dispatcher) offer(ctx context.Context, r *req, replies []chat.Reply) {
	for i := range replies {
		rep := &replies[i]
		if rep.Kind == chat.ReplyConfirm || len(rep.Buttons) == 0 {
			continue
		}
		if !r.s.textMode {
			rep.Kind = chat.ReplyCard
			continue
		}
		var cmds []string
		for _, b := range rep.Buttons {
			if cmd, ok := strings.CutPrefix(b.Key, keyRun); ok {
				cmds = append(cmds, cmd)
				rep.Lines = append(rep.Lines, r.t("choice_line", len(cmds), cmd))
			}
		}
		rep.Buttons = nil
		if len(cmds) == 0 {
			continue
		}
		rep.Footer = r.t("choice_hint")
		kv, ok := d.o.Store.(kvStore)
		if !ok {
			continue
		}
		b, _ := json.Marshal(choices{Commands: cmds, Until: d.o.Now().Add(r.s.confirmTTL)})
		if err := kv.Put(ctx, bucketChoices, strings.ToLower(r.user.ID), b); err != nil {
			d.log.Error("cannot store numbered choices", zap.Error(err))
		}
	}
}

// choice returns the command of numbered choice text ("1", "２") in text mode; ok is false
// when text is not a number or there are no such choices, and then it is parsed as usual.
func (d *Dispatcher) choice(ctx context.Context, r *req, text string) (cmd string, ok bool) {
	n, err := strconv.Atoi(Normalize(text))
	if !r.s.textMode || err != nil || n < 1 || n > maxTapButtons {
		return "", false
	}
	kv, ok := d.o.Store.(kvStore)
	if !ok {
		return "", false
	}
	b, found, err := kv.Get(ctx, bucketChoices, strings.ToLower(r.user.ID))
	var c choices
	if err != nil || !found || json.Unmarshal(b, &c) != nil || d.o.Now().After(c.Until) || n > len(c.Commands) {
		return "", false
	}
	return c.Commands[n-1], true
}

// runPressed runs the command of a pressed button (or a numbered reply) as a new message:
// parsed, checked and confirmed like typed text. A pressed card is greyed with the choice,
// so that it is not pressed twice by mistake.
func (d *Dispatcher) runPressed(ctx context.Context, r *req, text string) []chat.Reply {
	r.text = text
	var out []chat.Reply
	if r.m.ResponseCode != "" {
		out = append(out, chat.Reply{Kind: chat.ReplyText, Severity: chat.SeverityInfo, Title: r.t("chosen", text), UpdateCode: r.m.ResponseCode})
	}
	cmd, err := Parse(text)
	if err != nil {
		return append(out, d.parseError(r, err))
	}
	r.verb = cmd.Verb
	return append(out, d.run(ctx, r, cmd)...)
}

// auditAmbiguous records a refusal for a target that matched several guests.
func (d *Dispatcher) auditAmbiguous(ctx context.Context, r *req) {
	d.audit(ctx, r, store.AuditEntry{Decision: store.DecisionRefused, Reason: reasonAmbiguous, Command: clip(r.text)})
}

// reasonAmbiguous is the audit reason of a target that matched several guests.
const reasonAmbiguous = "ambiguous target"

// roleName is a role as people read it: the built-in ones in words, a custom one by its
// configured name.
func roleName(lang i18n.Lang, role string) string {
	switch role {
	case "admin", "operator", "viewer":
		return i18n.T(lang, "role_"+role)
	}
	return role
}

// actionButtons are the buttons of a guest's status card: one per state change of the table
// that this user may run on this guest now (start when stopped, shutdown/reboot/... when
// running), in table order. A press runs the command like typed text, so the access check
// and the confirmation happen again at that moment.
func (d *Dispatcher) actionButtons(r *req, st pve.GuestStatus) []chat.Button {
	g := st.Guest
	sub := g.Subject()
	var out []chat.Button
	for i := range table {
		s := &table[i]
		oneTarget := s.Args == ArgTarget || s.Args == ArgTargetArgs && s.MinArgs == 0 // "vm snapshot 102" needs nothing more
		if !s.Changes || s.Noun != "guest" || !oneTarget || len(s.Words) == 0 || s.QEMUOnly && g.Type == KindLXC {
			continue
		}
		if !r.may(s) || !r.s.policy.Decide(r.user.ID, s.Action, &sub).Allowed {
			continue
		}
		if _, done := alreadyThere(r, st, s.Action); done {
			continue
		}
		style := 1
		if severityFor(s.Action) == chat.SeverityError {
			style = 3
		}
		out = append(out, runButton(actionWord(r.s.lang, s.Action), r.commandFor(Command{Verb: s.Verb}, guestRef(r, g)), style))
		if len(out) == maxTapButtons {
			break
		}
	}
	return out
}

// whoami tells the user who the bot thinks they are and what they may do, in words.
func (r *req) whoami() chat.Reply {
	sep := r.t("list_sep")
	var may, confirmed []string
	for i := range table {
		s := &table[i]
		if s.Action == "" || len(s.Words) == 0 || !r.may(s) {
			continue
		}
		w := commandName(r.s.lang, s)
		if !slices.Contains(may, w) {
			may = append(may, w)
		}
		if s.Changes && r.s.confirm[s.Action] {
			confirmed = append(confirmed, w)
		}
	}
	rep := chat.Reply{Kind: chat.ReplyText, Severity: chat.SeverityInfo, Title: r.t("whoami_title"), Fields: []chat.Field{
		{Label: "UserID", Value: r.user.ID},
		{Label: r.t("f_role"), Value: roleName(r.s.lang, r.user.Role)},
		{Label: r.t("f_scope"), Value: r.scopeText()},
	}}
	if r.m.Chat != "" {
		// A smart-bot group: the chat id a schedule or alert target names to post here.
		rep.Fields = append(rep.Fields, chat.Field{Label: r.t("f_chat"), Value: r.m.Chat})
		rep.Lines = append(rep.Lines, r.t("whoami_chat", r.m.Chat))
	}
	rep.Lines = append(rep.Lines, r.t("whoami_may", strings.Join(may, sep)))
	if len(confirmed) > 0 {
		rep.Lines = append(rep.Lines, r.t("whoami_confirm", strings.Join(confirmed, sep)))
	}
	if r.s.policy.ReadOnly {
		rep.Lines = append(rep.Lines, r.t("whoami_read_only"))
	}
	return rep
}

// scopeText is the user's scope in words ("标签 lab、资源池 media"), or "every guest".
func (r *req) scopeText() string {
	if r.user.Scope == nil {
		return r.t("scope_all")
	}
	if len(r.user.Scope) == 0 {
		return r.t("scope_none")
	}
	var parts []string
	for _, sel := range r.user.Scope {
		parts = append(parts, r.selectorText(sel.String()))
	}
	return strings.Join(parts, r.t("list_sep"))
}

// selectorText is one selector in words: "tag:lab" -> "标签 lab", "100-199" -> "VMID 100-199".
func (r *req) selectorText(s string) string {
	cluster := ""
	if c, rest, ok := strings.Cut(s, "/"); ok {
		cluster, s = c+"/", rest
	}
	if s == "*" {
		return cluster + r.t("scope_all")
	}
	if kind, val, ok := strings.Cut(s, ":"); ok {
		return cluster + r.t("sel_"+kind, val)
	}
	return cluster + "VMID " + s
}
