package commands

import (
	"fmt"
	"strings"
)

// Lang is a reply language. Chinese is the default, as in the WeCom clients the bot serves.
type Lang string

// The reply languages.
const (
	LangZH Lang = "zh"
	LangEN Lang = "en"
)

// ParseLang maps a config or client value ("en", "en-US", "zh_CN", "") to a Lang; anything
// that is not English is Chinese.
func ParseLang(s string) Lang {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "en" || strings.HasPrefix(s, "en-") || strings.HasPrefix(s, "en_") {
		return LangEN
	}
	return LangZH
}

// T returns the catalog text for key in lang, formatted with args. Unknown languages fall
// back to Chinese; an unknown key returns the key itself so that a slip shows in a reply
// instead of an empty line (TestCatalogComplete keeps that from happening).
func T(lang Lang, key string, args ...any) string {
	cat := catalogZH
	if lang == LangEN {
		cat = catalogEN
	}
	s, ok := cat[key]
	if !ok {
		return key
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// catalogZH is the glossary and every reply text in Chinese. Terms follow the Chinese UI of
// PVE itself (虚拟机, 容器, 节点, 存储, 关机, 重启, 任务...), so that what the bot says matches
// what the user sees in the web console.
var catalogZH = map[string]string{
	// glossary: guest types, states, actions and their results
	"type_qemu":     "虚拟机",
	"type_lxc":      "容器",
	"template":      "模板",
	"mem":           "内存",
	"yes":           "是",
	"state_running": "运行中",
	"state_stopped": "已停止",
	"state_paused":  "已暂停",
	"state_unknown": "未知",
	"state_online":  "在线",
	"state_offline": "离线",
	"act_start":     "启动",
	"act_shutdown":  "关机",
	"act_reboot":    "重启",
	"act_suspend":   "暂停",
	"act_resume":    "恢复",
	"act_stop":      "停止",
	"act_reset":     "重置",
	"done_start":    "已启动",
	"done_shutdown": "已关机",
	"done_reboot":   "已重启",
	"done_suspend":  "已暂停",
	"done_resume":   "已恢复",
	"done_stop":     "已停止",
	"done_reset":    "已重置",

	// field labels and headings
	"f_cluster":     "集群",
	"f_node":        "节点",
	"f_state":       "状态",
	"f_type":        "类型",
	"f_uptime":      "运行时间",
	"f_disk":        "磁盘",
	"f_pool":        "资源池",
	"f_tags":        "标签",
	"f_lock":        "锁定",
	"f_protected":   "受保护",
	"f_reason":      "原因",
	"f_task":        "任务",
	"ha_managed":    "由 HA 管理",
	"h_nodes":       "节点",
	"h_storage":     "存储",
	"status_title":  "集群概览",
	"list_title":    "虚拟机列表",
	"ct_list_title": "容器列表",
	"tasks_title":   "最近任务",
	"audit_title":   "最近 %d 条审计记录",
	"node_title":    "节点 %s",
	"guest_counts":  "虚拟机/容器：%d 运行中，%d 已停止",
	"list_footer":   "共 %d 台，%d 台运行中",
	"n_more":        "还有 %d 项",
	"list_sep":      "、",
	"via_bot":       "%s（通过机器人）",
	"dur_s":         "%d 秒",
	"dur_m":         "%d 分钟",
	"dur_hm":        "%d 小时 %d 分钟",
	"dur_dh":        "%d 天 %d 小时",
	"per_second":    "秒",
	"per_minute":    "分钟",
	"per_hour":      "小时",

	// empty results
	"list_empty":    "没有符合条件的虚拟机或容器",
	"storage_empty": "没有存储",
	"tasks_empty":   "没有最近的任务",
	"audit_empty":   "还没有审计记录",
	"no_stats":      "无数据",

	// confirmations and results
	"btn_confirm":             "确认",
	"btn_cancel":              "取消",
	"confirm_title":           "确认%s %s？",
	"confirm_expires":         "%d 分钟内有效",
	"confirm_effect_start":    "将启动 %s",
	"confirm_effect_shutdown": "将正常关闭 %s：发送关机信号，等待系统自行关机",
	"confirm_effect_reboot":   "将重启 %s",
	"confirm_effect_suspend":  "将暂停 %s",
	"confirm_effect_resume":   "将恢复 %s",
	"confirm_effect_stop":     "将强制停止 %s，相当于拔掉电源，未保存的数据会丢失",
	"confirm_effect_reset":    "将重置 %s，相当于按复位键，未保存的数据会丢失",
	"confirm_expired":         "确认已过期，请重新发送命令",
	"confirm_used":            "这个确认已经处理过了",
	"confirm_wrong_user":      "这个确认不是你发起的",
	"confirm_not_found":       "找不到这个确认，可能已处理或已过期",
	"cancelled":               "已取消%s %s",
	"running":                 "⏳ %s 正在%s…",
	"result_ok":               "✅ %s %s · %s",
	"result_failed":           "❌ %s %s失败",
	"already":                 "%s 当前%s，无需操作",
	"not_running":             "%s 未运行，无法%s",
	"paused_use_resume":       "%s 已暂停，请用“恢复”让它继续运行",
	"recover_unknown":         "机器人在发送“%s %s”时中断，无法确定 PVE 是否已执行，请用“状态”查看",
	"wrong_kind":              "%s 是%s，与命令指定的类型不符",
	"ct_no_reset":             "容器不能重置",

	// refusals and errors
	"unknown_user":    "你还不能使用这个机器人。你的 UserID 是 %s，请把它发给管理员添加",
	"unknown_command": "无法识别的命令",
	"did_you_mean":    "你是不是想输入：%s？",
	"rate_limited":    "操作太频繁（每%[2]s最多 %[1]d 条），请稍后再试",
	"internal_error":  "内部错误，请稍后再试或联系管理员",
	"not_found":       "找不到 %s",
	"node_not_found":  "找不到节点 %s",
	"ambiguous":       "“%s”匹配多个：%s，请写得更具体",
	"cluster_failed":  "集群 %s 无法查询：%s",
	"pve_timeout":     "PVE 响应超时，请稍后再试",
	"pve_unreachable": "无法连接集群 %s",
	"pve_tls":         "集群 %s 的证书校验失败（检查 fingerprint / ca_file）",
	"pve_tls_pin":     "集群 %s 的证书与配置的指纹不符，服务器出示的是 %s。证书若是刚更新的，请管理员核对后更新 fingerprint（或改用 ca_file）",
	"pve_token":       "集群 %s 的 API 令牌无效或已过期",
	"pve_perm":        "集群 %s 的 API 令牌在 %s 上缺少 %s 权限",
	"pve_node_down":   "集群 %s 的节点离线",
	"pve_quorum":      "集群 %s 失去仲裁（quorum），暂时无法操作",
	"pve_other":       "PVE 返回错误：%s",
	"muted":           "🔕 已静音 %s 的告警 %s",
	"mute_bad":        "无法识别的静音按钮",

	// parse errors (the English twin is also the log text)
	"parse_empty":          "请输入命令，发送“帮助”查看用法",
	"parse_too_long":       "命令太长（最多 %d 字节）",
	"parse_unknown":        "无法识别的命令：%s",
	"parse_unknown_verb":   "%s 后面不能接 %s",
	"parse_unknown_topic":  "没有关于 %s 的帮助",
	"parse_missing_target": "%s 需要目标（VMID 或名称）",
	"parse_bad_target":     "无效的目标：%s",
	"parse_too_many":       "%s 的参数太多：%s",
	"parse_ct_reset":       "容器不能重置",
	"parse_bad_number":     "%s 需要一个正整数，而不是 %s",
	"parse_missing_code":   "%s 需要确认码",
	"parse_bad_code":       "无效的确认码：%s",

	// help
	"help_title":        "命令帮助",
	"help_footer":       "英文命令同样可用，例如 vm start 101。发送“帮助 <命令>”查看详情",
	"help_aliases":      "别名：%s",
	"help_target":       "目标：VMID、名称、名称中唯一的一部分，或 集群/目标",
	"help_help":         "显示帮助",
	"help_status":       "集群概览：节点、运行/停止的虚拟机、存储用量、告警",
	"help_list":         "列出虚拟机和容器，可按名称、节点、状态、标签、资源池筛选",
	"help_ct_list":      "只列出容器",
	"help_guest_status": "查看一台虚拟机或容器的状态",
	"help_start":        "启动虚拟机或容器",
	"help_shutdown":     "正常关机（需确认）",
	"help_reboot":       "重启（需确认）",
	"help_suspend":      "暂停（需确认）",
	"help_resume":       "恢复已暂停的虚拟机",
	"help_stop":         "强制停止，相当于拔电源（需确认，仅管理员）",
	"help_reset":        "重置，相当于按复位键（需确认，仅管理员，容器不支持）",
	"help_node_list":    "列出节点",
	"help_node_status":  "查看一个节点的状态",
	"help_storage":      "列出存储及用量",
	"help_task":         "最近的任务",
	"help_audit":        "最近 n 条审计记录（仅管理员）",
	"help_confirm":      "文本模式下确认操作",
	"help_cancel":       "文本模式下取消操作",
}

// catalogEN is catalogZH in English; every key exists in both (TestCatalogComplete).
var catalogEN = map[string]string{
	"type_qemu":     "VM",
	"type_lxc":      "container",
	"template":      "template",
	"mem":           "mem",
	"yes":           "yes",
	"state_running": "running",
	"state_stopped": "stopped",
	"state_paused":  "paused",
	"state_unknown": "unknown",
	"state_online":  "online",
	"state_offline": "offline",
	"act_start":     "start",
	"act_shutdown":  "shut down",
	"act_reboot":    "reboot",
	"act_suspend":   "suspend",
	"act_resume":    "resume",
	"act_stop":      "stop",
	"act_reset":     "reset",
	"done_start":    "started",
	"done_shutdown": "shut down",
	"done_reboot":   "rebooted",
	"done_suspend":  "suspended",
	"done_resume":   "resumed",
	"done_stop":     "stopped",
	"done_reset":    "reset",

	"f_cluster":     "Cluster",
	"f_node":        "Node",
	"f_state":       "Status",
	"f_type":        "Type",
	"f_uptime":      "Uptime",
	"f_disk":        "Disk",
	"f_pool":        "Pool",
	"f_tags":        "Tags",
	"f_lock":        "Lock",
	"f_protected":   "Protected",
	"f_reason":      "Reason",
	"f_task":        "Task",
	"ha_managed":    "HA managed",
	"h_nodes":       "Nodes",
	"h_storage":     "Storage",
	"status_title":  "Cluster overview",
	"list_title":    "VMs and containers",
	"ct_list_title": "Containers",
	"tasks_title":   "Recent tasks",
	"audit_title":   "Last %d audit entries",
	"node_title":    "Node %s",
	"guest_counts":  "Guests: %d running, %d stopped",
	"list_footer":   "%d guests, %d running",
	"n_more":        "%d more",
	"list_sep":      ", ",
	"via_bot":       "%s (via bot)",
	"dur_s":         "%d s",
	"dur_m":         "%d min",
	"dur_hm":        "%d h %d min",
	"dur_dh":        "%d d %d h",
	"per_second":    "second",
	"per_minute":    "minute",
	"per_hour":      "hour",

	"list_empty":    "No matching guests",
	"storage_empty": "No storage",
	"tasks_empty":   "No recent tasks",
	"audit_empty":   "No audit entries yet",
	"no_stats":      "no data",

	"btn_confirm":             "Confirm",
	"btn_cancel":              "Cancel",
	"confirm_title":           "Confirm: %s %s?",
	"confirm_expires":         "Valid for %d min",
	"confirm_effect_start":    "%s will be started",
	"confirm_effect_shutdown": "%s will be shut down cleanly: the guest OS gets the shutdown signal",
	"confirm_effect_reboot":   "%s will be rebooted",
	"confirm_effect_suspend":  "%s will be suspended",
	"confirm_effect_resume":   "%s will be resumed",
	"confirm_effect_stop":     "%s will be stopped hard, like pulling the plug; unsaved data is lost",
	"confirm_effect_reset":    "%s will be reset, like pressing the reset button; unsaved data is lost",
	"confirm_expired":         "This confirmation has expired; send the command again",
	"confirm_used":            "This confirmation was already handled",
	"confirm_wrong_user":      "This confirmation belongs to someone else",
	"confirm_not_found":       "No such confirmation; it may have been handled or have expired",
	"cancelled":               "Cancelled: %s %s",
	"running":                 "⏳ %s: %s in progress…",
	"result_ok":               "✅ %s %s · %s",
	"result_failed":           "❌ %s: %s failed",
	"already":                 "%s is already %s",
	"not_running":             "%s is not running; cannot %s",
	"paused_use_resume":       "%s is paused; use resume to continue it",
	"recover_unknown":         "The bot was interrupted while sending \"%s %s\" and cannot tell whether PVE ran it; check with status",
	"wrong_kind":              "%s is a %s, not the kind the command names",
	"ct_no_reset":             "Containers cannot be reset",

	"unknown_user":    "You may not use this bot yet. Your UserID is %s: send it to an admin to be added",
	"unknown_command": "Unknown command",
	"did_you_mean":    "Did you mean: %s?",
	"rate_limited":    "Too many commands (at most %d per %s); please try again shortly",
	"internal_error":  "Internal error; try again later or tell an admin",
	"not_found":       "No guest matches %s",
	"node_not_found":  "No node named %s",
	"ambiguous":       "\"%s\" matches several: %s; be more specific",
	"cluster_failed":  "Cluster %s could not be queried: %s",
	"pve_timeout":     "PVE did not answer in time; try again later",
	"pve_unreachable": "Cannot reach cluster %s",
	"pve_tls":         "TLS check failed for cluster %s (check fingerprint / ca_file)",
	"pve_tls_pin":     "Cluster %s presented a certificate that does not match the configured fingerprint (it presented %s). If the certificate was just renewed, an admin should check it and update fingerprint (or use ca_file)",
	"pve_token":       "The API token of cluster %s is invalid or expired",
	"pve_perm":        "The API token of cluster %s lacks, on %s, the privilege %s",
	"pve_node_down":   "A node of cluster %s is offline",
	"pve_quorum":      "Cluster %s has no quorum; try again later",
	"pve_other":       "PVE error: %s",
	"muted":           "🔕 Alerts for %s muted for %s",
	"mute_bad":        "Unrecognised mute button",

	"parse_empty":          "Empty command; send \"help\" for usage",
	"parse_too_long":       "Command too long (at most %d bytes)",
	"parse_unknown":        "Unknown command: %s",
	"parse_unknown_verb":   "%s does not take %s",
	"parse_unknown_topic":  "No help for %s",
	"parse_missing_target": "%s needs a target (VMID or name)",
	"parse_bad_target":     "Invalid target: %s",
	"parse_too_many":       "Too many arguments for %s: %s",
	"parse_ct_reset":       "Containers cannot be reset",
	"parse_bad_number":     "%s takes a positive number, not %s",
	"parse_missing_code":   "%s needs a code",
	"parse_bad_code":       "Invalid code: %s",

	"help_title":        "Commands",
	"help_footer":       "Chinese commands work too, e.g. 启动 101. Send \"help <command>\" for details",
	"help_aliases":      "Aliases: %s",
	"help_target":       "Target: a VMID, a name, a unique part of a name, or cluster/target",
	"help_help":         "show this help",
	"help_status":       "cluster overview: nodes, running/stopped guests, storage use, alerts",
	"help_list":         "list VMs and containers; filter by name, node, status, tag or pool",
	"help_ct_list":      "list containers only",
	"help_guest_status": "show one guest's state",
	"help_start":        "start a guest",
	"help_shutdown":     "clean shutdown (confirmed)",
	"help_reboot":       "reboot (confirmed)",
	"help_suspend":      "suspend (confirmed)",
	"help_resume":       "resume a suspended guest",
	"help_stop":         "hard stop, like pulling the plug (confirmed, admin only)",
	"help_reset":        "hard reset (confirmed, admin only, not for containers)",
	"help_node_list":    "list nodes",
	"help_node_status":  "show one node's state",
	"help_storage":      "list storage and its use",
	"help_task":         "recent tasks",
	"help_audit":        "last n audit entries (admin only)",
	"help_confirm":      "confirm an action in text mode",
	"help_cancel":       "cancel an action in text mode",
}

// helpTable is the one table the help text is generated from: usage in each language and
// the description key. Topic groups rows under a canonical command name ("help start").
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
		if !containsStr(out, r.topic) {
			out = append(out, r.topic)
		}
	}
	return out
}

func containsStr(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Help returns the help text as lines: the overview for topic "" (or an unknown topic),
// else the usage in both languages, the aliases and the description of that topic.
func Help(lang Lang, topic string) []string {
	usage := func(en, zh string) string {
		if lang == LangEN {
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
			lines = append(lines, usage(r.en, r.zh)+" — "+T(lang, "help_"+r.id))
			continue
		}
		lines = append(lines, usage(r.en, r.zh)+" · "+usage(r.zh, r.en)+" — "+T(lang, "help_"+r.id))
	}
	if len(lines) == 0 {
		return Help(lang, "")
	}
	if topic == "" {
		return append(lines, T(lang, "help_footer"))
	}
	sep := "、"
	if lang == LangEN {
		sep = ", "
	}
	lines = append(lines, T(lang, "help_aliases", strings.Join(aliases(topic), sep)))
	switch topic {
	case "status", "start", "shutdown", "reboot", "suspend", "resume", "stop", "reset":
		lines = append(lines, T(lang, "help_target"))
	}
	return lines
}

// aliases lists the command words of topic from the parser's vocabulary.
func aliases(topic string) []string {
	var out []string
	for _, v := range vocab {
		if (v.kind == wGuestVerb || v.kind == wTop) && topicOfVerb(Verb(v.val)) == topic && !containsStr(out, v.word) {
			out = append(out, v.word)
		}
	}
	return out
}
