package commands

import (
	"slices"
	"strings"

	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
)

// HelpTopics lists the help topics in table order ("help", "status", "list"...).
func HelpTopics() []string {
	var out []string
	for i := range table {
		if s := &table[i]; len(s.Words) > 0 && !slices.Contains(out, s.topic()) {
			out = append(out, s.topic())
		}
	}
	return out
}

// usage is u in lang.
func usage(lang i18n.Lang, u Text) string {
	if lang == i18n.LangEN {
		return u.EN
	}
	return u.ZH
}

// other is the language that lang is not, for "help <command>", which shows both.
func other(lang i18n.Lang) i18n.Lang {
	if lang == i18n.LangEN {
		return i18n.LangZH
	}
	return i18n.LangEN
}

// helpView says which rows a help shows and how: may is whether the user may run the row,
// confirmed whether its action asks for confirmation.
type helpView struct {
	may       func(s *Spec) bool
	confirmed func(s *Spec) bool
	examples  bool
}

// everything is the help of the whole table with the default confirmations (tests, docs).
var everything = helpView{may: func(*Spec) bool { return true }, confirmed: func(s *Spec) bool { return s.Confirm }}

// Help returns the help text of the whole table as lines: the overview for topic "" (or
// an unknown topic), else the usage in both languages, the aliases and the description of
// that topic.
func Help(lang i18n.Lang, topic string) []string { return helpLines(lang, topic, everything) }

// helpGroup is one overview line that stands for the commands of a family.
type helpGroup struct {
	topic     string
	line      int // its index in the overview
	examples  []string
	confirmed bool // some of them are confirmed
}

func helpLines(lang i18n.Lang, topic string, v helpView) []string {
	var lines []string
	var groups []helpGroup
	target, allowed := false, false
	for i := range table {
		s := &table[i]
		if len(s.Words) == 0 || topic != "" && s.topic() != topic {
			continue
		}
		may := v.may(s)
		allowed = allowed || may
		if topic == "" && !may {
			continue
		}
		target = target || s.Args == ArgTarget && s.Noun == "guest"
		if topic == "" {
			// the overview: one line per command, its example (what to type) and what it
			// does; the usage with its arguments is in "help <command>". The commands of a
			// family with a group text (help_group_<topic>: snapshots, nodes…) share one line.
			if g := "help_group_" + s.topic(); i18n.Has(g) {
				if n := len(groups); n > 0 && groups[n-1].topic == s.topic() {
					groups[n-1].examples = append(groups[n-1].examples, usage(lang, s.Example))
					groups[n-1].confirmed = groups[n-1].confirmed || s.Changes && v.confirmed(s)
					continue
				}
				groups = append(groups, helpGroup{topic: s.topic(), line: len(lines), examples: []string{usage(lang, s.Example)},
					confirmed: s.Changes && v.confirmed(s)})
				lines = append(lines, "")
				continue
			}
			line := usage(lang, s.Example) + " — " + i18n.T(lang, "help_"+s.Help[0].ID)
			if s.Changes && v.confirmed(s) {
				line += i18n.T(lang, "help_confirmed")
			}
			lines = append(lines, line)
			continue
		}
		for j, h := range s.Help {
			line := usage(lang, h.Text) + " · " + usage(other(lang), h.Text) + " — " + i18n.T(lang, "help_"+h.ID)
			if s.Changes && v.confirmed(s) {
				line += i18n.T(lang, "help_confirmed")
			}
			if v.examples && j == 0 {
				line += i18n.T(lang, "help_example", usage(lang, s.Example))
			}
			lines = append(lines, line)
		}
	}
	if len(lines) == 0 {
		return helpLines(lang, "", v)
	}
	if topic == "" {
		for _, g := range groups {
			line := strings.Join(g.examples, " · ") + " — " + i18n.T(lang, "help_group_"+g.topic)
			if g.confirmed {
				line += i18n.T(lang, "help_some_confirmed")
			}
			lines[g.line] = line
		}
		return append(lines, i18n.T(lang, "help_footer"))
	}
	sep := "、"
	if lang == i18n.LangEN {
		sep = ", "
	}
	lines = append(lines, i18n.T(lang, "help_aliases", strings.Join(aliases(topic), sep)))
	if target {
		lines = append(lines, i18n.T(lang, "help_target"))
	}
	if !allowed {
		lines = append(lines, i18n.T(lang, "help_not_allowed"))
	}
	return lines
}

// topicName is how a help title names topic: its first row's canonical word in lang.
func topicName(lang i18n.Lang, topic string) string {
	for i := range table {
		if s := &table[i]; s.topic() == topic && len(s.Words) > 0 {
			if !standalone(s.Noun) {
				return nounWord(s.Noun, "", lang != i18n.LangEN)
			}
			like := "中"
			if lang == i18n.LangEN {
				like = "a"
			}
			return canonical(s.Words, like)
		}
	}
	return topic
}

// aliases lists the words of topic: the words of its rows, or for a family whose words
// need their noun ("node status"), the nouns.
func aliases(topic string) []string {
	var out []string
	add := func(w string) {
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	for i := range table {
		s := &table[i]
		if s.topic() != topic {
			continue
		}
		if standalone(s.Noun) {
			for _, w := range s.Words {
				add(w)
			}
			continue
		}
		for _, n := range nouns {
			if n.family == s.Noun {
				add(n.word)
			}
		}
	}
	return out
}
