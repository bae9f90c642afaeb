package pvewebhook

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
	"github.com/wecom-home-ops/wecom-home-ops/internal/notify"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
)

// maxRetryButtons bounds the "back up again" buttons of a failed-backup card.
const maxRetryButtons = 4

// maxGenericLines bounds the message lines shown for an event of a type the bot does not know.
const maxGenericLines = 8

// inert keeps PVE's texts (guest names, log lines) from acting as markup.
var inert = strings.NewReplacer("[", "［", "]", "］", "<", "＜", ">", "＞", "*", "＊", "`", "｀", "#", "＃").Replace

// Render is the push of one event: a card per event type (docs/pve-features.md §1.6), in
// markdown for group chats.
func Render(r Record, lang i18n.Lang, loc *time.Location) notify.Message {
	rep := Reply(r, lang, loc)
	at := time.Unix(r.Event.Timestamp, 0)
	if r.Event.Timestamp == 0 {
		at = r.Received
	}
	return notify.Message{Time: at, Card: &rep, Markdown: func(limit int) string {
		parts := wecom.RenderMarkdown(rep, string(lang), limit)
		if len(parts) == 0 {
			return ""
		}
		return parts[0]
	}}
}

// Reply is the neutral reply of one event.
func Reply(r Record, lang i18n.Lang, loc *time.Location) chat.Reply {
	ev := r.Event
	t := func(k string, a ...any) string { return i18n.T(lang, k, a...) }
	host := ev.Fields["hostname"]
	switch {
	case ev.Type() == "vzdump" && ev.Severity == "error":
		return failedBackup(r, lang)
	case ev.Type() == "vzdump":
		title := t("hook_backup_ok", inert(host), jobName(r, lang))
		if r.OK > 0 {
			title += t("hook_backup_ok_count", r.OK)
		}
		if r.Took != "" {
			title += t("hook_took", r.Took)
		}
		return chat.Reply{Kind: chat.ReplyText, Severity: chat.SeverityOK, Title: title}
	case ev.Type() == "fencing":
		key := "hook_fencing_try"
		if strings.HasPrefix(ev.Title, "Successfully") {
			key = "hook_fencing_done"
		}
		return chat.Reply{Kind: chat.ReplyCard, Severity: chat.SeverityError, Title: t(key, inert(host)),
			Fields: []chat.Field{{Label: t("f_node"), Value: inert(host)}, {Label: t("f_time"), Value: i18n.NewZone(loc).DateTime(time.Unix(ev.Timestamp, 0))}},
			Lines:  []string{t("hook_fencing_line")}}
	case ev.Type() == "package-updates":
		title := t("hook_updates", inert(host), r.Packages)
		if r.Packages == 0 {
			title = t("hook_updates_some", inert(host))
		}
		return chat.Reply{Kind: chat.ReplyCard, Severity: chat.SeverityInfo, Title: title,
			Fields: []chat.Field{{Label: t("f_node"), Value: inert(host)}}, Lines: []string{t("hook_updates_line")}}
	}
	return generic(r, lang)
}

func jobName(r Record, lang i18n.Lang) string {
	if id := r.Event.Fields["job-id"]; id != "" {
		return inert(id)
	}
	return i18n.T(lang, "hook_job_manual")
}

// failedBackup names the job, the node, the guests that failed with PVE's reason and how
// long the job ran, with a button per failed guest to back it up again (the button runs
// `vm backup <vmid>`, which a click always confirms and which checks the clicker's rights).
func failedBackup(r Record, lang i18n.Lang) chat.Reply {
	t := func(k string, a ...any) string { return i18n.T(lang, k, a...) }
	host := r.Event.Fields["hostname"]
	rep := chat.Reply{Kind: chat.ReplyCard, Severity: chat.SeverityError, Title: t("hook_backup_failed", inert(host)),
		Fields: []chat.Field{{Label: t("f_job"), Value: jobName(r, lang)}, {Label: t("f_node"), Value: inert(host)}}}
	if r.Took != "" {
		rep.Fields = append(rep.Fields, chat.Field{Label: t("f_took"), Value: r.Took})
	}
	if len(r.Failed) > 0 || r.OK > 0 {
		rep.Fields = append(rep.Fields, chat.Field{Label: t("f_result"), Value: t("hook_backup_counts", len(r.Failed), r.OK)})
	}
	for _, g := range r.Failed {
		name := strconv.Itoa(g.VMID)
		if n := r.Names[g.VMID]; n != "" && n != "VM "+name {
			name = fmt.Sprintf("%s (%d)", inert(n), g.VMID)
		}
		reason := g.Reason
		if reason == "" {
			reason = t("hook_reason_unknown")
		}
		rep.Lines = append(rep.Lines, "• "+name+"："+inert(reason))
	}
	if r.JobError != "" {
		rep.Lines = append(rep.Lines, t("hook_job_error", inert(r.JobError)))
	} else if len(r.Failed) == 0 {
		// The admin's own template, or a job error in the title only.
		if _, after, ok := strings.Cut(r.Event.Title, "backup failed:"); ok {
			rep.Lines = append(rep.Lines, t("hook_job_error", inert(strings.TrimSpace(after))))
		} else {
			rep.Lines = append(rep.Lines, t("hook_see_tasks"))
		}
	}
	for i, g := range r.Failed {
		if i == maxRetryButtons {
			break
		}
		text := t("hook_btn_retry")
		if len(r.Failed) > 1 {
			text = t("hook_btn_retry_one", g.VMID)
		}
		rep.Buttons = append(rep.Buttons, chat.Button{Text: text, Key: "vm backup " + strconv.Itoa(g.VMID), Style: 1})
	}
	if len(rep.Buttons) > 0 {
		rep.Kind = chat.ReplyConfirm
		rep.Footer = t("hook_retry_footer")
	}
	return rep
}

// generic shows an event of a type the bot has no card for (replication, system mail, a
// test, a type of a later PVE): its title, severity and the first lines of its message.
func generic(r Record, lang i18n.Lang) chat.Reply {
	ev := r.Event
	t := func(k string, a ...any) string { return i18n.T(lang, k, a...) }
	sev := chat.SeverityInfo
	switch ev.Severity {
	case "error":
		sev = chat.SeverityError
	case "warning":
		sev = chat.SeverityWarning
	}
	title := strings.TrimSpace(ev.Title)
	if title == "" {
		title = t("hook_generic")
	}
	rep := chat.Reply{Kind: chat.ReplyCard, Severity: sev, Title: "PVE · " + inert(title)}
	if typ := ev.Type(); typ != "" {
		rep.Fields = append(rep.Fields, chat.Field{Label: t("f_type"), Value: inert(typ)})
	}
	if h := ev.Fields["hostname"]; h != "" {
		rep.Fields = append(rep.Fields, chat.Field{Label: t("f_node"), Value: inert(h)})
	}
	if id := ev.Fields["job-id"]; id != "" {
		rep.Fields = append(rep.Fields, chat.Field{Label: t("f_job"), Value: inert(id)})
	}
	for _, l := range strings.Split(ev.Message, "\n") {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		if len(rep.Lines) == maxGenericLines {
			rep.Footer = t("hook_more_in_pve")
			break
		}
		rep.Lines = append(rep.Lines, inert(l))
	}
	return rep
}
