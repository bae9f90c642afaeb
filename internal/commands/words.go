package commands

// This file puts the bot's internal names (roles, actions, audit reasons, PVE task types
// and HA states) into the user's words, so that a Chinese reply carries no English term.

import (
	"strings"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/access"
	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// actionName is a role action in words: a power action by its verb ("强制关机"), another by
// the name of its first command ("节点").
func actionName(lang i18n.Lang, action string) string {
	if i18n.Has("act_" + action) {
		return i18n.T(lang, "act_"+action)
	}
	for i := range table {
		if s := &table[i]; s.Action == action && len(s.Words) > 0 {
			return commandName(lang, s)
		}
	}
	return action
}

// commandName is s as people call it: its usage without the arguments ("启动", "节点 状态",
// "vm start").
func commandName(lang i18n.Lang, s *Spec) string {
	w := usage(lang, s.Help[0].Text)
	if i := strings.IndexAny(w, "<["); i > 0 {
		w = strings.TrimSpace(w[:i])
	}
	return w
}

// refusal is the sentence telling the user why dec refuses, naming the guest (label, may
// be "") where that helps.
func (r *req) refusal(dec access.Decision, label string) string {
	act := actionName(r.s.lang, dec.Action)
	switch dec.Reason {
	case access.ReasonOK:
		return ""
	case access.ReasonUnknownUser:
		return r.t("unknown_user", dec.User)
	case access.ReasonNoRole:
		role := dec.Role
		if role == "" {
			role = "-"
		}
		return r.t("deny_no_role", roleName(r.s.lang, role), act)
	case access.ReasonOutOfScope:
		return r.t("deny_out_of_scope")
	case access.ReasonProtected:
		if label == "" {
			label = r.t("deny_this_guest")
		}
		return r.t("deny_protected", label, act)
	case access.ReasonReadOnly:
		return r.t("deny_read_only", act)
	}
	return r.t("deny_other")
}

// auditReasons maps the stable reasons of the audit log to catalogue keys.
var auditReasons = map[string]string{
	"confirmation requested":         "reason_asked",
	store.ReasonCancelled:            "reason_cancelled",
	"guest not found":                "reason_not_found",
	"already in state":               "reason_already",
	"unknown user":                   "reason_unknown_user",
	reasonAmbiguous:                  "reason_ambiguous",
	string(access.ReasonNoRole):      "reason_no_role",
	string(access.ReasonOutOfScope):  "reason_out_of_scope",
	string(access.ReasonProtected):   "reason_protected",
	string(access.ReasonReadOnly):    "reason_read_only",
	string(access.ReasonUnknownUser): "reason_unknown_user",
	"not sent: guest not found":      "reason_not_sent_not_found",
}

// auditReason is an audit reason in words; reasons with details ("pve: …", "confirmation:
// …") keep the details after the words.
func auditReason(lang i18n.Lang, reason string) string {
	if k, ok := auditReasons[reason]; ok {
		return i18n.T(lang, k)
	}
	if base, ok := strings.CutSuffix(reason, " (at confirmation)"); ok {
		return auditReason(lang, base) + i18n.T(lang, "reason_at_confirmation")
	}
	if rest, ok := strings.CutPrefix(reason, "not sent: "); ok {
		return i18n.T(lang, "reason_not_sent") + " · " + auditReason(lang, rest)
	}
	if _, ok := strings.CutPrefix(reason, "confirmation: "); ok {
		return i18n.T(lang, "reason_confirmation")
	}
	if rest, ok := strings.CutPrefix(reason, "pve: "); ok {
		return i18n.T(lang, "reason_pve") + " · " + rest
	}
	return reason
}

// auditCommand is an audit entry's command with a leading action name in words: the bot
// writes confirmed and cancelled actions as "shutdown docker-host (104)".
func auditCommand(lang i18n.Lang, cmd string) string {
	a, rest, ok := strings.Cut(cmd, " ")
	if ok && i18n.Has("act_"+a) {
		return i18n.T(lang, "act_"+a) + " " + rest
	}
	return cmd
}

// taskTypes maps PVE task types to catalogue keys (pve-docs, "Task types").
var taskTypes = map[string]string{
	"qmstart": "act_start", "vzstart": "act_start",
	"qmshutdown": "act_shutdown", "vzshutdown": "act_shutdown",
	"qmreboot": "act_reboot", "vzreboot": "act_reboot",
	"qmsuspend": "act_suspend", "vzsuspend": "act_suspend", "qmpause": "act_suspend",
	"qmresume": "act_resume", "vzresume": "act_resume",
	"qmstop": "act_stop", "vzstop": "act_stop",
	"qmreset":  "act_reset",
	"vzdump":   "task_backup",
	"qmigrate": "task_migrate", "vzmigrate": "task_migrate",
	"qmclone": "task_clone", "vzclone": "task_clone",
	"qmcreate": "task_create", "vzcreate": "task_create",
	"qmdestroy": "task_destroy", "vzdestroy": "task_destroy",
	"qmsnapshot": "task_snapshot", "vzsnapshot": "task_snapshot",
	"qmrollback": "task_rollback", "vzrollback": "task_rollback",
	"qmdelsnapshot": "task_delsnapshot", "vzdelsnapshot": "task_delsnapshot",
	"aptupdate": "task_aptupdate",
	"startall":  "task_startall", "stopall": "task_stopall",
}

// taskType is a PVE task type in words ("qmshutdown" -> "关机"); unknown types stay as PVE
// names them.
func taskType(lang i18n.Lang, t string) string {
	if k, ok := taskTypes[t]; ok {
		return i18n.T(lang, k)
	}
	return t
}

// taskStatus is a finished task's exit status in words: "OK" -> "成功", "WARNINGS: 2" ->
// "有警告"; an error keeps PVE's text.
func taskStatus(lang i18n.Lang, s string) string {
	switch {
	case s == "OK":
		return i18n.T(lang, "task_ok")
	case strings.HasPrefix(s, "WARNINGS"):
		return i18n.T(lang, "task_warnings")
	}
	return s
}

// haStates are the HA resource states PVE reports (ha-manager: "Service States").
var haStates = []string{"started", "stopped", "disabled", "ignored", "error", "fence", "freeze", "migrate", "relocate", "request_stop", "recovery", "queued"}

// haState is an HA state in words ("started" -> "已启动"); an unknown one stays as is.
func haState(lang i18n.Lang, s string) string {
	for _, h := range haStates {
		if h == s {
			return i18n.T(lang, "hastate_"+s)
		}
	}
	return s
}

// auditResult is an audit entry's result in words: a task's exit status, a reason the
// action was not sent, or a mute's end.
func auditResult(lang i18n.Lang, zone i18n.Zone, res string) string {
	switch {
	case strings.HasPrefix(res, "not sent"):
		return auditReason(lang, res)
	case strings.HasPrefix(res, "muted until "):
		if t, err := time.Parse(time.RFC3339, strings.TrimPrefix(res, "muted until ")); err == nil {
			return i18n.T(lang, "audit_muted_until", zone.Short(t))
		}
	}
	return taskStatus(lang, res)
}
