package alert

import "fmt"

// Alert texts. Terms as in internal/commands/i18n.go (节点, 虚拟机, 存储, 集群...).
var catalogZH = map[string]string{
	"fire_node_offline":        "🔴 节点离线：%s",
	"fire_guest_stopped":       "🔴 虚拟机/容器未运行：%s",
	"fire_storage_usage":       "🟠 存储使用率 %[2]s：%[1]s",
	"fire_node_memory":         "🟠 节点内存使用率 %[2]s：%[1]s",
	"fire_node_cpu":            "🟠 节点 CPU 使用率 %[2]s：%[1]s",
	"fire_pve_unreachable":     "🔴 无法连接集群：%s",
	"resolved_node_offline":    "✅ 节点恢复在线：%s",
	"resolved_guest_stopped":   "✅ 已恢复运行：%s",
	"resolved_storage_usage":   "✅ 存储使用率恢复正常（%[2]s）：%[1]s",
	"resolved_node_memory":     "✅ 节点内存恢复正常（%[2]s）：%[1]s",
	"resolved_node_cpu":        "✅ 节点 CPU 恢复正常（%[2]s）：%[1]s",
	"resolved_pve_unreachable": "✅ 集群恢复连接：%s",
	"reminder":                 "⏰ 仍未恢复 · ",
	"f_cluster":                "集群",
	"f_since":                  "开始于",
	"f_lasted":                 "持续",
	"f_reason":                 "原因",
	"storage_on":               "%s（节点 %s）",
	"by_bot":                   "ℹ️ %s 已由 %s 通过机器人%s，不作为告警",
	"act_shutdown":             "关机",
	"act_stop":                 "停止",
	"btn_mute":                 "静音 1 小时",
	"btn_status":               "查看概览",
	"no_audit":                 "⚠️ 集群 %s：API 令牌缺少 %s 权限，告警规则 %s 无法检查",
}

var catalogEN = map[string]string{
	"fire_node_offline":        "🔴 Node offline: %s",
	"fire_guest_stopped":       "🔴 Guest not running: %s",
	"fire_storage_usage":       "🟠 Storage %[2]s full: %[1]s",
	"fire_node_memory":         "🟠 Node memory at %[2]s: %[1]s",
	"fire_node_cpu":            "🟠 Node CPU at %[2]s: %[1]s",
	"fire_pve_unreachable":     "🔴 Cluster unreachable: %s",
	"resolved_node_offline":    "✅ Node back online: %s",
	"resolved_guest_stopped":   "✅ Running again: %s",
	"resolved_storage_usage":   "✅ Storage usage back to normal (%[2]s): %[1]s",
	"resolved_node_memory":     "✅ Node memory back to normal (%[2]s): %[1]s",
	"resolved_node_cpu":        "✅ Node CPU back to normal (%[2]s): %[1]s",
	"resolved_pve_unreachable": "✅ Cluster reachable again: %s",
	"reminder":                 "⏰ Still firing · ",
	"f_cluster":                "Cluster",
	"f_since":                  "Since",
	"f_lasted":                 "Lasted",
	"f_reason":                 "Reason",
	"storage_on":               "%s (node %s)",
	"by_bot":                   "ℹ️ %[1]s was %[3]s by %[2]s through the bot; not an alert",
	"act_shutdown":             "shut down",
	"act_stop":                 "stopped",
	"btn_mute":                 "Mute 1 h",
	"btn_status":               "Show status",
	"no_audit":                 "⚠️ cluster %s: the API token lacks %s, so alert rule %s cannot be checked",
}

// T returns the alert text for key in lang ("en" or Chinese).
func T(lang, key string, args ...any) string {
	cat := catalogZH
	if lang == "en" {
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
