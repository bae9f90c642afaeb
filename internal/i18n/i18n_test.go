package i18n

import (
	"fmt"
	"regexp"
	"slices"
	"testing"
	"time"
)

var verbRE = regexp.MustCompile(`%(\[\d+\])?[-+# 0-9.]*[a-zA-Z%]`)

// Every key exists in both languages with the same format verbs, so a reply never shows
// a key name or a %!d(MISSING).
func TestCatalogComplete(t *testing.T) {
	for k, zh := range catalogZH {
		en, ok := catalogEN[k]
		if !ok {
			t.Errorf("%q has no English text", k)
			continue
		}
		zv, ev := verbs(zh), verbs(en)
		if !slices.Equal(zv, ev) {
			t.Errorf("%q: verbs %v in zh, %v in en", k, zv, ev)
		}
		if zh == "" || en == "" {
			t.Errorf("%q is empty", k)
		}
	}
	for k := range catalogEN {
		if _, ok := catalogZH[k]; !ok {
			t.Errorf("%q has no Chinese text", k)
		}
	}
}

// verbs lists a format's verbs by argument position ("1:d", "2:s"), whether the format
// numbers them (%[2]s) or not.
func verbs(format string) []string {
	var out []string
	next := 1
	for _, m := range verbRE.FindAllStringSubmatch(format, -1) {
		v := m[0]
		if v == "%%" {
			continue
		}
		pos := next
		if m[1] != "" {
			fmt.Sscanf(m[1], "[%d]", &pos)
		}
		next = pos + 1
		out = append(out, fmt.Sprintf("%d:%c", pos, v[len(v)-1]))
	}
	slices.Sort(out)
	return out
}

func TestTAndParse(t *testing.T) {
	if got := T(Parse("en-US"), "dur_s", 12); got != "12 s" {
		t.Errorf("en dur_s = %q", got)
	}
	if got := T(Parse(""), "dur_s", 12); got != "12 秒" {
		t.Errorf("zh dur_s = %q", got)
	}
	if got := T(LangZH, "no such key"); got != "no such key" {
		t.Errorf("unknown key = %q, want the key", got)
	}
	if Has("no such key") || !Has("dur_s") {
		t.Error("Has is wrong")
	}
}

func TestFormatters(t *testing.T) {
	cases := []struct{ got, want string }{
		{Bytes(512), "512 B"},
		{Bytes(1536), "1.5 KiB"},
		{Bytes(5200 << 30), "5.1 TiB"},
		{Duration(LangZH, 12*time.Second), "12 秒"},
		{Duration(LangEN, 3*time.Minute+10*time.Second), "3 min"},
		{Duration(LangZH, 2*time.Hour+5*time.Minute), "2 小时 5 分钟"},
		{Duration(LangEN, 50*time.Hour), "2 d 2 h"},
		{Bar(0), "░░░░░░░░░░"},
		{Bar(0.72), "███████░░░"},
		{Bar(1.5), "██████████"},
		{Percent(1, 3), "33%"},
		{Percent(1, 0), "-"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
