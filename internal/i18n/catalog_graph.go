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
	"graph_bad_period":    "时间范围只能是 小时/天/周/月/年（hour/day/week/month/year）。",
	"graph_no_node":       "没有叫 %s 的节点。",
	"graph_no_storage":    "没有叫 %s 的存储。",
	"graph_storage_many":  "存储 %s 在多个节点上（%s），请写上节点：storage graph %s <节点>",
	"graph_failed":        "读取历史数据失败：%s",
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
	"graph_bad_period":    "The period is one of hour/day/week/month/year (小时/天/周/月/年).",
	"graph_no_node":       "No node is called %s.",
	"graph_no_storage":    "No storage is called %s.",
	"graph_storage_many":  "Storage %s is on several nodes (%s); name one: storage graph %s <node>",
	"graph_failed":        "Reading the history failed: %s",
}

func init() {
	for k, v := range graphZH {
		catalogZH[k] = v
	}
	for k, v := range graphEN {
		catalogEN[k] = v
	}
}
