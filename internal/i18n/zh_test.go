package i18n

import (
	"regexp"
	"sort"
	"strings"
	"testing"
)

// zhASCIIAllowed are the ASCII words a Chinese reply may carry: names PVE and people use
// as they are (VMID, CPU, HA, PVE, API...), units, and the commands and config keys users
// type. Everything else in a Chinese text is a slip into English.
var zhASCIIAllowed = map[string]bool{
	// names and abbreviations used as is in Chinese
	"VMID": true, "UserID": true, "CPU": true, "HA": true, "PVE": true, "API": true, "IP": true, "IO": true,
	// the guest agent as PVE and the package name it (qemu-guest-agent)
	"QEMU": true, "qemu": true, "guest": true, "agent": true,
	// programs and techniques named as they are: PVE's status daemon, CRIU checkpoints
	"pvestatd": true, "CRIU": true,
	// the ha-manager command lines an admin is told to run
	"ha": true, "manager": true, "set": true, "state": true, "disabled": true, "status": true,
	// storage and disk format names as PVE shows them
	"ZFS": true, "NFS": true, "raw": true,
	// the "n" of "审计 [n]"
	"n": true,
	// commands and selector words users type, and the config keys an admin is pointed at
	"vm": true, "start": true, "tag": true, "pool": true, "node": true,
	"fingerprint": true, "ca_file": true, "targets": true, "smartbot_chat": true,
}

// asciiWord finds ASCII words once format verbs (%s, %[2]d, %.0f) and PVE privilege names
// (Pool.Audit, VM.GuestAgent.Audit: what an admin grants, written as PVE writes them) are
// taken out.
var (
	formatVerb = regexp.MustCompile(`%(\[\d+\])?[-+# 0]*\d*(\.\d+)?[a-zA-Z%]|[A-Z][A-Za-z]*(\.[A-Z][A-Za-z]*)+`)
	asciiWord  = regexp.MustCompile(`[A-Za-z][A-Za-z_]*`)
)

// TestChineseHasNoEnglish walks every Chinese catalogue string and fails on an ASCII word
// outside zhASCIIAllowed: a Chinese reply must not carry an English role, action, reason
// or state.
func TestChineseHasNoEnglish(t *testing.T) {
	keys := make([]string, 0, len(catalogZH))
	for k := range catalogZH {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s := formatVerb.ReplaceAllString(catalogZH[k], " ")
		for _, w := range asciiWord.FindAllString(s, -1) {
			if !zhASCIIAllowed[w] {
				t.Errorf("%s = %q: English word %q in Chinese", k, catalogZH[k], w)
			}
		}
	}
}

// The check itself catches what it is for.
func TestChineseCheckCatches(t *testing.T) {
	for _, s := range []string{"你的角色 viewer 没有 start 权限", "等待确认 · confirmation requested"} {
		s = formatVerb.ReplaceAllString(s, " ")
		bad := false
		for _, w := range asciiWord.FindAllString(s, -1) {
			bad = bad || !zhASCIIAllowed[w]
		}
		if !bad {
			t.Errorf("%q passes the check, want it caught", s)
		}
	}
	if got := strings.Join(asciiWord.FindAllString(formatVerb.ReplaceAllString("%[2]s 的 %d 个 %.0f%%", " "), -1), ","); got != "" {
		t.Errorf("format verbs left words %q", got)
	}
}
