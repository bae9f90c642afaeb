package commands

import (
	"slices"
	"strings"

	"github.com/wecom-home-ops/wecom-home-ops/internal/i18n"
)

var helpTable = []struct {
	topic, id string
	en, zh    string // usage
}{
	{"help", "help", "help [command]", "帮助 [命令]"},
	{"status", "status", "status", "概览"},
	{"list", "list", "vm list [filter]", "列表 [筛选]"},
	{"list", "ct_list", "ct list [filter]", "容器 列表 [筛选]"},
	{"status", "guest_status", "vm status <target>", "状态 <目标>"},
	{"start", "start", "vm start <target>", "启动 <目标>"},
	{"shutdown", "shutdown", "vm shutdown <target>", "关机 <目标>"},
	{"reboot", "reboot", "vm reboot <target>", "重启 <目标>"},
	{"suspend", "suspend", "vm suspend <target>", "暂停 <目标>"},
	{"resume", "resume", "vm resume <target>", "恢复 <目标>"},
	{"stop", "stop", "vm stop <target>", "强制关机 <目标>"},
	{"reset", "reset", "vm reset <target>", "重置 <目标>"},
	{"node", "node_list", "node list", "节点"},
	{"node", "node_status", "node status <node>", "节点 状态 <节点>"},
	{"storage", "storage", "storage list", "存储"},
	{"task", "task", "task list", "任务"},
	{"audit", "audit", "audit [n]", "审计 [n]"},
	{"confirm", "confirm", "confirm <code>", "确认 <代码>"},
	{"cancel", "cancel", "cancel <code>", "取消 <代码>"},
}

// HelpTopics lists the canonical help topics in table order ("help", "status", "list"...).
func HelpTopics() []string {
	var out []string
	for _, r := range helpTable {
		if !slices.Contains(out, r.topic) {
			out = append(out, r.topic)
		}
	}
	return out
}

// Help returns the help text as lines: the overview for topic "" (or an unknown topic),
// else the usage in both languages, the aliases and the description of that topic.
func Help(lang i18n.Lang, topic string) []string {
	usage := func(en, zh string) string {
		if lang == i18n.LangEN {
			return en
		}
		return zh
	}
	var lines []string
	for _, r := range helpTable {
		if topic != "" && r.topic != topic {
			continue
		}
		if topic == "" {
			lines = append(lines, usage(r.en, r.zh)+" — "+i18n.T(lang, "help_"+r.id))
			continue
		}
		lines = append(lines, usage(r.en, r.zh)+" · "+usage(r.zh, r.en)+" — "+i18n.T(lang, "help_"+r.id))
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
	switch topic {
	case "status", "start", "shutdown", "reboot", "suspend", "resume", "stop", "reset":
		lines = append(lines, i18n.T(lang, "help_target"))
	}
	return lines
}

// aliases lists the command words of topic from the parser's vocabulary.
func aliases(topic string) []string {
	var out []string
	for _, v := range vocab {
		if (v.kind == wGuestVerb || v.kind == wTop) && topicOfVerb(Verb(v.val)) == topic && !slices.Contains(out, v.word) {
			out = append(out, v.word)
		}
	}
	return out
}
