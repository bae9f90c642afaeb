package i18n

// The backup texts: PVE's notifications as cards (pvewebhook), the backup commands, the
// backups report and the backup alert rules (docs/pve-features.md §1, §2).

var backupZH = map[string]string{
	"f_time":               "时间",
	"f_job":                "备份任务",
	"f_took":               "用时",
	"f_result":             "结果",
	"hook_backup_failed":   "❌ 备份失败：节点 %s",
	"hook_backup_counts":   "%d 台失败，%d 台成功",
	"hook_reason_unknown":  "原因见 PVE 任务日志",
	"hook_job_error":       "任务出错：%s",
	"hook_see_tasks":       "详情请在 PVE 的任务历史中查看",
	"hook_btn_retry":       "重新备份失败的虚拟机",
	"hook_btn_retry_one":   "重新备份 %d",
	"hook_retry_footer":    "重新备份需要确认；只有有备份权限的成员可以操作",
	"hook_backup_ok":       "✅ 备份完成：节点 %s，%s",
	"hook_backup_ok_count": "，%d 台",
	"hook_took":            "，用时 %s",
	"hook_job_manual":      "手动备份",
	"hook_fencing_try":     "🚨 HA 正在隔离（fencing）节点 %s",
	"hook_fencing_done":    "🚨 HA 已隔离（fencing）节点 %s，其上的 HA 虚拟机将在其他节点恢复",
	"hook_fencing_line":    "节点失联后被 HA 隔离：请尽快检查该节点的电源和网络",
	"hook_updates":         "📦 节点 %s 有 %d 个软件包可更新",
	"hook_updates_some":    "📦 节点 %s 有软件包可更新",
	"hook_updates_line":    "在 PVE 界面「更新」中查看并安装",
	"hook_generic":         "PVE 通知",
	"hook_more_in_pve":     "更多内容请在 PVE 中查看",
}

var backupEN = map[string]string{
	"f_time":               "Time",
	"f_job":                "Backup job",
	"f_took":               "Took",
	"f_result":             "Result",
	"hook_backup_failed":   "❌ Backup failed: node %s",
	"hook_backup_counts":   "%d failed, %d ok",
	"hook_reason_unknown":  "reason in the PVE task log",
	"hook_job_error":       "Job error: %s",
	"hook_see_tasks":       "See the task history in PVE for details",
	"hook_btn_retry":       "Back up the failed guests again",
	"hook_btn_retry_one":   "Back up %d again",
	"hook_retry_footer":    "Backing up again asks for confirmation; only members allowed to run backups may",
	"hook_backup_ok":       "✅ Backup done: node %s, %s",
	"hook_backup_ok_count": ", %d guests",
	"hook_took":            ", took %s",
	"hook_job_manual":      "manual backup",
	"hook_fencing_try":     "🚨 HA is fencing node %s",
	"hook_fencing_done":    "🚨 HA fenced node %s; its HA guests are recovered on other nodes",
	"hook_fencing_line":    "The node was lost and fenced by HA: check its power and network soon",
	"hook_updates":         "📦 Node %s has %d package updates",
	"hook_updates_some":    "📦 Node %s has package updates",
	"hook_updates_line":    "See and install them under Updates in the PVE web UI",
	"hook_generic":         "PVE notification",
	"hook_more_in_pve":     "More in PVE",
}

func init() {
	for k, v := range backupZH {
		catalogZH[k] = v
	}
	for k, v := range backupEN {
		catalogEN[k] = v
	}
}
