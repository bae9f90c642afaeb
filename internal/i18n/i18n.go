// Package i18n is the bot's one glossary and the texts of every reply, report and alert,
// in Chinese (the default) and English, plus the few formatters that put numbers into
// words. Chinese terms follow the Chinese UI of PVE itself (虚拟机, 容器, 节点, 存储, 关机,
// 重启, 任务...), so what the bot says matches what users see in the PVE web console.
package i18n

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

// Parse maps a config or client value ("en", "en-US", "zh_CN", "") to a Lang; anything
// that is not English is Chinese.
func Parse(s string) Lang {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "en" || strings.HasPrefix(s, "en-") || strings.HasPrefix(s, "en_") {
		return LangEN
	}
	return LangZH
}

// T returns the catalog text for key in lang, formatted with args. Unknown languages fall
// back to Chinese; an unknown key returns the key itself so that a slip shows in a reply
// instead of an empty line (the catalog tests keep that from happening).
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

// Has reports whether key is in the catalog (tests check the keys code uses).
func Has(key string) bool {
	_, ok := catalogZH[key]
	return ok
}
