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

// Help returns the help text as lines: the overview for topic "" (or an unknown topic),
// else the usage in both languages, the aliases and the description of that topic.
func Help(lang i18n.Lang, topic string) []string {
	var lines []string
	target := false
	for i := range table {
		s := &table[i]
		if len(s.Words) == 0 || topic != "" && s.topic() != topic {
			continue
		}
		target = target || s.Args == ArgTarget && s.Noun == "guest"
		for _, h := range s.Help {
			u := usage(lang, h.Text)
			if topic != "" {
				u += " · " + usage(other(lang), h.Text)
			}
			lines = append(lines, u+" — "+i18n.T(lang, "help_"+h.ID))
		}
	}
	if len(lines) == 0 {
		return Help(lang, "")
	}
	if topic == "" {
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
	return lines
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
