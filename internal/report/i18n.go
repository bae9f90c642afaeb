package report

import "fmt"

// The report's words. They are the same terms as internal/commands/i18n.go (节点, 虚拟机,
// 容器, 存储, 运行中, 已停止...), kept here because report must not import commands;
// TestCatalogComplete keeps both languages complete.
var catalogZH = map[string]string{
	"title_summary":  "集群概览",
	"title_guests":   "虚拟机和容器",
	"title_storage":  "存储",
	"h_nodes":        "节点",
	"h_storage":      "存储",
	"h_alerts":       "告警",
	"h_tasks":        "失败任务（24 小时）",
	"no_alerts":      "无告警",
	"no_failed":      "无失败任务",
	"no_guests":      "没有虚拟机或容器",
	"storage_empty":  "没有存储",
	"type_qemu":      "虚拟机",
	"type_lxc":       "容器",
	"state_running":  "运行中",
	"state_stopped":  "已停止",
	"state_unknown":  "未知",
	"state_offline":  "离线",
	"mem":            "内存",
	"uptime":         "运行时间",
	"no_stats":       "无数据",
	"guest_counts":   "虚拟机/容器：%d 运行中，%d 已停止",
	"node_counts":    "%d 运行中，%d 已停止",
	"n_more":         "… 还有 %d 项",
	"cluster_failed": "⚠️ 集群 %s 无法查询：%s",
	"dur_s":          "%d 秒",
	"dur_m":          "%d 分钟",
	"dur_hm":         "%d 小时 %d 分钟",
	"dur_dh":         "%d 天 %d 小时",
}

var catalogEN = map[string]string{
	"title_summary":  "Cluster overview",
	"title_guests":   "VMs and containers",
	"title_storage":  "Storage",
	"h_nodes":        "Nodes",
	"h_storage":      "Storage",
	"h_alerts":       "Alerts",
	"h_tasks":        "Failed tasks (24 h)",
	"no_alerts":      "No alerts firing",
	"no_failed":      "No failed tasks",
	"no_guests":      "No VMs or containers",
	"storage_empty":  "No storage",
	"type_qemu":      "VM",
	"type_lxc":       "CT",
	"state_running":  "running",
	"state_stopped":  "stopped",
	"state_unknown":  "unknown",
	"state_offline":  "offline",
	"mem":            "mem",
	"uptime":         "up",
	"no_stats":       "no data",
	"guest_counts":   "guests: %d running, %d stopped",
	"node_counts":    "%d running, %d stopped",
	"n_more":         "… %d more",
	"cluster_failed": "⚠️ cluster %s could not be read: %s",
	"dur_s":          "%d s",
	"dur_m":          "%d min",
	"dur_hm":         "%d h %d min",
	"dur_dh":         "%d d %d h",
}

// T returns the report text for key in lang ("en" or Chinese), formatted with args.
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
