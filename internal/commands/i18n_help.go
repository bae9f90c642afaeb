package commands

import (
	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
)

// helpReply is the help of everything (overview for topic "", else one command) as a
// neutral Reply; the overview's closing hint goes to the footer so that renderers can grey it.
func helpReply(lang i18n.Lang, topic string) chat.Reply {
	return helpOf(lang, topic, everything)
}

// help is the help that r's user sees: the overview lists only what they may run (by role
// and read_only), with one example each; confirm and cancel only in text mode, where
// confirmation codes are shown.
func (r *req) help(topic string) chat.Reply {
	return helpOf(r.s.lang, topic, helpView{may: r.may, confirmed: func(s *Spec) bool { return r.s.confirm[s.Action] }, examples: true})
}

// may reports whether r's user may run s at all (the target is checked when it runs).
func (r *req) may(s *Spec) bool {
	switch {
	case s.Verb == VerbConfirm || s.Verb == VerbCancel:
		return r.s.textMode
	case s.Action == "":
		return true
	case s.Changes && r.s.policy.ReadOnly:
		return false
	}
	return r.s.policy.Allows(r.user.ID, s.Action)
}

func helpOf(lang i18n.Lang, topic string, v helpView) chat.Reply {
	lines := helpLines(lang, topic, v)
	r := chat.Reply{Kind: chat.ReplyText, Severity: chat.SeverityInfo, Title: i18n.T(lang, "help_title"), Lines: lines}
	if n := len(lines); n > 0 && lines[n-1] == i18n.T(lang, "help_footer") {
		r.Lines, r.Footer = lines[:n-1], lines[n-1]
	} else if topic != "" {
		r.Title = i18n.T(lang, "help_title_topic", topicName(lang, topic))
	}
	return r
}
