package i18n

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Card row labels (the f_* keys, and mem) are keynames of WeCom template cards, which
// the client shows up to 5 characters of and clips beyond.
func TestCardLabelsFitTheClient(t *testing.T) {
	for lang, cat := range map[string]map[string]string{"zh": catalogZH, "en": catalogEN} {
		for key, label := range cat {
			if !strings.HasPrefix(key, "f_") && key != "mem" {
				continue
			}
			if n := utf8.RuneCountInString(label); n > 5 {
				t.Errorf("%s %s = %q: %d characters, the card shows 5", lang, key, label, n)
			}
		}
	}
}
