package config

import (
	"strings"
	"testing"
)

func TestMenu(t *testing.T) {
	long := strings.Repeat("a", MaxMenuKeyBytes+1)
	tests := []struct {
		name, menu string
		wantKeys   []string // problem keys, empty: valid
	}{
		{"absent means default", "", nil},
		{"two levels", "menu:\n  - {name: 概览, key: status}\n  - name: 更多\n    sub_button: [{name: 帮助, key: help}]\n", nil},
		{"four buttons", "menu: [{name: a, key: a}, {name: b, key: b}, {name: c, key: c}, {name: d, key: d}]\n", []string{"menu"}},
		{"six sub buttons", "menu:\n  - name: x\n    sub_button: [{name: a, key: a}, {name: b, key: b}, {name: c, key: c}, {name: d, key: d}, {name: e, key: e}, {name: f, key: f}]\n", []string{"menu[0].sub_button"}},
		{"name too long", "menu: [{name: 一二三四五六, key: status}]\n", []string{"menu[0].name"}},
		{"key too long", "menu: [{name: a, key: " + long + "}]\n", []string{"menu[0].key"}},
		{"no key", "menu: [{name: a}]\n", []string{"menu[0].key"}},
		{"key and sub buttons", "menu:\n  - name: a\n    key: status\n    sub_button: [{name: b, key: help}]\n", []string{"menu[0].key"}},
		{"three levels", "menu:\n  - name: a\n    sub_button:\n      - name: b\n        sub_button: [{name: c, key: help}]\n", []string{"menu[0].sub_button[0].sub_button"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ps := parseWith(t, minimal+tt.menu, nil)
			var got []string
			for _, p := range ps {
				got = append(got, p.Key)
				if p.Line == 0 {
					t.Errorf("problem %q has no line", p.Key)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.wantKeys, ",") {
				t.Fatalf("problems at %v, want %v:\n%v", got, tt.wantKeys, ps)
			}
			if c != nil && tt.menu == "" {
				if got, want := len(c.MenuItems()), 3; got != want || c.MenuItems()[1].Key != "vm list" {
					t.Errorf("default menu = %+v", c.MenuItems())
				}
			}
		})
	}
}
