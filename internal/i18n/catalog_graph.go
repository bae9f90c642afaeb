package i18n

// The texts of resource graphs (internal/graph and the graph commands), kept apart from
// catalog.go so that the feature's strings sit together; init adds them to the catalogs.
var graphZH = map[string]string{
	"graph_period_hour":   "1 小时内",
	"graph_period_day":    "24 小时内",
	"graph_period_week":   "7 天内",
	"graph_period_month":  "30 天内",
	"graph_period_year":   "一年内",
	"graph_cpu":           "CPU",
	"graph_mem":           "内存",
	"graph_storage":       "存储",
	"graph_rose":          "%s %s从 %s 升到 %s",
	"graph_fell":          "%s %s从 %s 降到 %s",
	"graph_steady":        "%s %s保持在 %s 左右",
	"graph_cpu_peak":      "CPU 平均 %s，峰值 %s（%s）",
	"graph_gap":           "其间 %s 没有数据",
	"graph_no_data":       "%s没有数据（已停止或节点离线）",
	"graph_sep":           "，",
	"graph_title_guest":   "%s 资源图（%s）",
	"graph_title_node":    "节点 %s 资源图（%s）",
	"graph_title_store":   "存储 %s 用量图（%s）",
	"graph_title_sum":     "集群 CPU 与内存（24 小时）",
	"graph_upload_failed": "图片未能发送，以下是文字说明。",
	"graph_no_storage":    "没有叫 %s 的存储。",
	"graph_storage_many":  "存储 %s 在多个节点上（%s），请写上节点：存储图表 %s <节点>",
	"graph_failed":        "读取历史数据失败：%s",
	"graph_tf_hour":       "1 小时",
	"graph_tf_day":        "24 小时",
	"graph_tf_week":       "7 天",
	"graph_tf_month":      "30 天",
	"graph_tf_year":       "一年",
	"graph_unavailable":   "这个机器人没有接上资源历史，无法画图。",
	"parse_bad_graph_arg": "%s 不认识「%s」：时间范围写 小时/天/周/月/年，存储图表可以再写一个节点名",
	"help_graph":          "虚拟机或容器的资源图（CPU、内存、网络、磁盘），默认 24 小时",
	"help_node_graph":     "节点的资源图（CPU 与 IO 等待、内存、网络、负载）",
	"help_storage_graph":  "存储 30 天的用量图",
}

var graphEN = map[string]string{
	"graph_period_hour":   " in the last hour",
	"graph_period_day":    " in 24 hours",
	"graph_period_week":   " in 7 days",
	"graph_period_month":  " in 30 days",
	"graph_period_year":   " in a year",
	"graph_cpu":           "CPU",
	"graph_mem":           "Memory",
	"graph_storage":       "Storage",
	"graph_rose":          "%[1]s rose from %[3]s to %[4]s%[2]s",
	"graph_fell":          "%[1]s fell from %[3]s to %[4]s%[2]s",
	"graph_steady":        "%[1]s stayed around %[3]s%[2]s",
	"graph_cpu_peak":      "CPU averaged %s, peak %s (%s)",
	"graph_gap":           "no data for %s in between",
	"graph_no_data":       "no data%s (stopped or node offline)",
	"graph_sep":           "; ",
	"graph_title_guest":   "%s resources (%s)",
	"graph_title_node":    "Node %s resources (%s)",
	"graph_title_store":   "Storage %s usage (%s)",
	"graph_title_sum":     "Cluster CPU and memory (24 h)",
	"graph_upload_failed": "The picture could not be sent; here is the reading.",
	"graph_no_storage":    "No storage is called %s.",
	"graph_storage_many":  "Storage %s is on several nodes (%s); name one: storage graph %s <node>",
	"graph_failed":        "Reading the history failed: %s",
	"graph_tf_hour":       "1 hour",
	"graph_tf_day":        "24 h",
	"graph_tf_week":       "7 days",
	"graph_tf_month":      "30 days",
	"graph_tf_year":       "1 year",
	"graph_unavailable":   "This bot has no resource history connected; it cannot draw graphs.",
	"parse_bad_graph_arg": "%s does not know \"%s\": the period is hour/day/week/month/year; a storage graph may name a node",
	"help_graph":          "a guest's resource graph (CPU, memory, network, disk), 24 h unless told",
	"help_node_graph":     "a node's resource graph (CPU and IO wait, memory, network, load)",
	"help_storage_graph":  "a storage's usage over 30 days",
}

func init() {
	for k, v := range graphZH {
		catalogZH[k] = v
	}
	for k, v := range graphEN {
		catalogEN[k] = v
	}
}
