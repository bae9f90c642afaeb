package commands

import (
	"slices"
	"testing"
)

func TestParseBackupCommands(t *testing.T) {
	tests := []struct {
		in     string
		verb   Verb
		target string
		args   []string
	}{
		{"backup status", VerbBackupStatus, "", nil},
		{"备份状态", VerbBackupStatus, "", nil},
		{"备份 状态", VerbBackupStatus, "", nil},
		{"vm backup status", VerbBackupStatus, "", nil},
		{"backup list 101", VerbBackupList, "101", nil},
		{"备份记录 truenas", VerbBackupList, "truenas", nil},
		{"备份记录101", VerbBackupList, "101", nil},
		{"vm backup 101", VerbBackup, "101", nil},
		{"备份 101 nas", VerbBackup, "101", []string{"nas"}},
		{"ＶＭ　ＢＡＣＫＵＰ　１０１", VerbBackup, "101", nil},
		{"ct backup 103 local", VerbBackup, "103", []string{"local"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := Parse(tt.in)
			if err != nil || c.Verb != tt.verb || c.Target != tt.target || !slices.Equal(c.Args, tt.args) {
				t.Errorf("Parse(%q) = %v %q %q, %v; want %v %q %q", tt.in, c.Verb, c.Target, c.Args, err, tt.verb, tt.target, tt.args)
			}
		})
	}
	for _, bad := range []string{"backup list", "备份记录", "备份 101 nas extra", "backup status 101"} {
		if c, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %+v, want a parse error", bad, c)
		}
	}
}
