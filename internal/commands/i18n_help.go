package commands

import (
	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
)

// helpReply is the help (overview for topic "", else one command) as a neutral Reply; the
// overview's closing hint goes to the footer so that renderers can grey it.
func helpReply(lang i18n.Lang, topic string) chat.Reply {
	lines := Help(lang, topic)
	r := chat.Reply{Kind: chat.ReplyText, Severity: chat.SeverityInfo, Title: i18n.T(lang, "help_title"), Lines: lines}
	if n := len(lines); n > 0 && lines[n-1] == i18n.T(lang, "help_footer") {
		r.Lines, r.Footer = lines[:n-1], lines[n-1]
	} else if topic != "" {
		r.Title += " · " + topic
	}
	return r
}
