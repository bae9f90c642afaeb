package commands

import (
	"slices"
	"strings"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
)

func TestHelp(t *testing.T) {
	for _, lang := range []i18n.Lang{i18n.LangZH, i18n.LangEN} {
		t.Run(string(lang), func(t *testing.T) {
			over := Help(lang, "")
			if got, want := len(over), helpLineCount()+1; got != want {
				t.Errorf("overview: got %d lines, want %d", got, want)
			}
			if got := Help(lang, "no-such-topic"); !slices.Equal(got, over) {
				t.Errorf("unknown topic: got %q, want the overview", got)
			}
			for _, topic := range HelpTopics() {
				lines := Help(lang, topic)
				if slices.Equal(lines, over) {
					t.Errorf("topic %q: got the overview", topic)
				}
				for _, l := range lines {
					if strings.Contains(l, "%!") || strings.Contains(l, "help_") {
						t.Errorf("topic %q: broken line %q", topic, l)
					}
				}
			}
		})
	}
	// every topic the parser can produce has help
	for _, in := range []string{"help start", "帮助 状态", "help node", "help 任务", "help 确认", "help ?"} {
		c, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(HelpTopics(), c.Topic) {
			t.Errorf("Parse(%q).Topic = %q, not a help topic %v", in, c.Topic, HelpTopics())
		}
	}
	for _, topic := range HelpTopics() {
		c, err := Parse("help " + topic)
		if err != nil || c.Topic != topic {
			t.Errorf("Parse(help %s) = %+v, %v; want topic %q", topic, c, err, topic)
		}
	}
	start := strings.Join(Help(i18n.LangZH, "start"), "\n")
	for _, want := range []string{"启动 <目标>", "vm start <target>", "开机", "目标："} {
		if !strings.Contains(start, want) {
			t.Errorf("help start (zh) = %q, want it to contain %q", start, want)
		}
	}
	ct := strings.Join(Help(i18n.LangEN, "list"), "\n")
	if !strings.Contains(ct, "ct list [filter]") {
		t.Errorf("help list (en) = %q, want the ct list line", ct)
	}
}

// TestCatalogCoversCode reads this package's sources and checks that every key passed to
// T or req.t exists, and that every "prefix_"+x key has at least one entry, so a typo in a
// key shows here and not as a raw key in a user's chat.

// TestDynamicKeys covers the keys built from action and state names.
func TestDynamicKeys(t *testing.T) {
	for _, a := range []string{"start", "shutdown", "reboot", "suspend", "resume", "stop", "reset"} {
		for _, p := range []string{"act_", "done_", "confirm_effect_", "help_"} {
			if !i18n.Has(p + a) {
				t.Errorf("key %q missing", p+a)
			}
		}
	}
	for _, s := range []string{"running", "stopped", "paused", "unknown", "online", "offline"} {
		if !i18n.Has("state_" + s) {
			t.Errorf("key %q missing", "state_"+s)
		}
	}
}

func TestHelpReply(t *testing.T) {
	for _, lang := range []i18n.Lang{i18n.LangZH, i18n.LangEN} {
		over := helpReply(lang, "")
		if got, want := len(over.Lines), helpLineCount(); got != want {
			t.Errorf("%s overview: got %d lines, want %d", lang, got, want)
		}
		if got, want := over.Footer, i18n.T(lang, "help_footer"); got != want {
			t.Errorf("%s overview footer: got %q, want %q", lang, got, want)
		}
		one := helpReply(lang, "start")
		want := map[i18n.Lang]string{i18n.LangZH: "命令帮助 · 启动", i18n.LangEN: "Commands · start"}[lang]
		if got := one.Title; got != want {
			t.Errorf("%s start title: got %q, want %q", lang, got, want)
		}
		if one.Footer != "" || len(one.Lines) == 0 {
			t.Errorf("%s start: got %+v, want lines and no footer", lang, one)
		}
	}
}

// helpLineCount is the number of lines of the help overview: one per typed command.
// helpLineCount is the overview's length for a user who may run everything: one line per
// command, and one per family with a group text (help_group_<topic>).
func helpLineCount() int {
	n := 0
	seen := map[string]bool{}
	for _, s := range table {
		if len(s.Words) == 0 {
			continue
		}
		if i18n.Has("help_group_" + s.topic()) {
			if seen[s.topic()] {
				continue
			}
			seen[s.topic()] = true
		}
		n++
	}
	return n
}

// TestHelpFitsOneMessage keeps the help overview of a user who may run everything within
// one WeCom text message (2048 bytes), in both languages: a help that arrives in two parts
// is read in the wrong order on a phone. A new row's help text must be short.
func TestHelpFitsOneMessage(t *testing.T) {
	const maxTextBytes = 2048 // WeCom's text and markdown limit (internal/wecom.MaxTextBytes)
	all := helpView{may: func(*Spec) bool { return true }, confirmed: func(s *Spec) bool { return s.Confirm }, examples: true}
	for _, lang := range []i18n.Lang{i18n.LangZH, i18n.LangEN} {
		h := helpOf(lang, "", all)
		text := h.Title + "\n" + strings.Join(h.Lines, "\n") + "\n" + h.Footer
		if len(text) > maxTextBytes {
			t.Errorf("%s help overview is %d bytes, want at most %d: shorten the help texts", lang, len(text), maxTextBytes)
		}
	}
}
