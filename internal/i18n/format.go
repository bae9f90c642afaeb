package i18n

import (
	"fmt"
	"strings"
	"time"
)

// Bytes prints a size in binary units ("5.1 TiB").
func Bytes(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit && exp < 4; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTP"[exp])
}

// Duration prints a duration the way people read it: 12 秒, 3 分钟, 2 小时 5 分钟, 4 天 3 小时.
func Duration(lang Lang, d time.Duration) string {
	s := int(d.Round(time.Second) / time.Second)
	switch {
	case s < 60:
		return T(lang, "dur_s", s)
	case s < 3600:
		return T(lang, "dur_m", s/60)
	case s < 86400:
		return T(lang, "dur_hm", s/3600, s%3600/60)
	}
	if s%86400/3600 == 0 {
		return T(lang, "dur_d", s/86400)
	}
	return T(lang, "dur_dh", s/86400, s%86400/3600)
}

// Bar draws a 10-cell usage bar for a share 0..1.
func Bar(f float64) string {
	n := min(max(int(f*10+0.5), 0), 10)
	return strings.Repeat("█", n) + strings.Repeat("░", 10-n)
}

// Percent prints used/total as a whole percentage, "-" when total is 0.
func Percent(used, total uint64) string {
	if total == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", float64(used)*100/float64(total))
}
