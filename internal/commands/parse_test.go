package commands

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	type C = Command
	tests := []struct {
		in   string
		want C
	}{
		// help
		{"help", C{Verb: VerbHelp}},
		{"HELP", C{Verb: VerbHelp}},
		{"?", C{Verb: VerbHelp}},
		{"？", C{Verb: VerbHelp}},
		{"帮助", C{Verb: VerbHelp}},
		{"help start", C{Verb: VerbHelp, Topic: "start"}},
		{"帮助 启动", C{Verb: VerbHelp, Topic: "start"}},
		{"帮助启动", C{Verb: VerbHelp, Topic: "start"}},
		{"help vm start", C{Verb: VerbHelp, Topic: "start"}},
		{"help vm", C{Verb: VerbHelp, Topic: "list"}},
		{"help 强制关机", C{Verb: VerbHelp, Topic: "stop"}},
		{"help 节点", C{Verb: VerbHelp, Topic: "node"}},
		{"? audit", C{Verb: VerbHelp, Topic: "audit"}},
		{"help status", C{Verb: VerbHelp, Topic: "status"}},
		{"帮助 概览", C{Verb: VerbHelp, Topic: "status"}},
		{"help tasks", C{Verb: VerbHelp, Topic: "task"}},
		// cluster summary
		{"status", C{Verb: VerbStatus}},
		{"概览", C{Verb: VerbStatus}},
		{"状态", C{Verb: VerbStatus}},
		{"  Status  ", C{Verb: VerbStatus}},
		{"overview", C{Verb: VerbStatus}},
		// lists
		{"vm", C{Verb: VerbList}},
		{"vm list", C{Verb: VerbList}},
		{"VM LIST", C{Verb: VerbList}},
		{"list", C{Verb: VerbList}},
		{"ls", C{Verb: VerbList}},
		{"列表", C{Verb: VerbList}},
		{"虚拟机", C{Verb: VerbList}},
		{"虚拟机 列表", C{Verb: VerbList}},
		{"虚拟机列表", C{Verb: VerbList}},
		{"vm list running", C{Verb: VerbList, Filter: "running"}},
		{"vm list tag:lab", C{Verb: VerbList, Filter: "tag:lab"}},
		{"列表 运行中", C{Verb: VerbList, Filter: "运行中"}},
		{"vm list  pve1   web", C{Verb: VerbList, Filter: "pve1 web"}},
		{"ct list", C{Verb: VerbList, Kind: KindLXC}},
		{"ct", C{Verb: VerbList, Kind: KindLXC}},
		{"容器 列表", C{Verb: VerbList, Kind: KindLXC}},
		{"容器列表", C{Verb: VerbList, Kind: KindLXC}},
		{"容器", C{Verb: VerbList, Kind: KindLXC}},
		{"ct list media", C{Verb: VerbList, Kind: KindLXC, Filter: "media"}},
		{"qemu list", C{Verb: VerbList, Kind: KindQEMU}},
		// guest status
		{"vm status 101", C{Verb: VerbGuestStatus, Target: "101"}},
		{"状态 homeassistant", C{Verb: VerbGuestStatus, Target: "homeassistant"}},
		{"状态101", C{Verb: VerbGuestStatus, Target: "101"}},
		{"status nas", C{Verb: VerbGuestStatus, Target: "nas"}},
		{"ct status 200", C{Verb: VerbGuestStatus, Kind: KindLXC, Target: "200"}},
		// power
		{"vm start 101", C{Verb: VerbStart, Target: "101"}},
		{"start 101", C{Verb: VerbStart, Target: "101"}},
		{"Start HomeAssistant", C{Verb: VerbStart, Target: "homeassistant"}},
		{"启动 101", C{Verb: VerbStart, Target: "101"}},
		{"开机 101", C{Verb: VerbStart, Target: "101"}},
		{"启动101", C{Verb: VerbStart, Target: "101"}},
		{"启动homeassistant", C{Verb: VerbStart, Target: "homeassistant"}},
		{"vm 启动 101", C{Verb: VerbStart, Target: "101"}},
		{"虚拟机 start 101", C{Verb: VerbStart, Target: "101"}},
		{"vm启动101", C{Verb: VerbStart, Target: "101"}},
		{"虚拟机启动101", C{Verb: VerbStart, Target: "101"}},
		{"ｖｍ　ｓｔａｒｔ　１０１", C{Verb: VerbStart, Target: "101"}},
		{"启动　１０１", C{Verb: VerbStart, Target: "101"}},
		{"启动\t101\n", C{Verb: VerbStart, Target: "101"}},
		{"start\u200b 101", C{Verb: VerbStart, Target: "101"}},
		{"start home/101", C{Verb: VerbStart, Target: "home/101"}},
		{"启动 home/homeassistant", C{Verb: VerbStart, Target: "home/homeassistant"}},
		{"start web-01.lab", C{Verb: VerbStart, Target: "web-01.lab"}},
		{"start my_vm", C{Verb: VerbStart, Target: "my_vm"}},
		{"vm shutdown nas", C{Verb: VerbShutdown, Target: "nas"}},
		{"shutdown nas", C{Verb: VerbShutdown, Target: "nas"}},
		{"关机 nas", C{Verb: VerbShutdown, Target: "nas"}},
		{"关机nas", C{Verb: VerbShutdown, Target: "nas"}},
		{"vm reboot 101", C{Verb: VerbReboot, Target: "101"}},
		{"restart 101", C{Verb: VerbReboot, Target: "101"}},
		{"重启 101", C{Verb: VerbReboot, Target: "101"}},
		{"vm suspend 101", C{Verb: VerbSuspend, Target: "101"}},
		{"暂停 101", C{Verb: VerbSuspend, Target: "101"}},
		{"挂起 101", C{Verb: VerbSuspend, Target: "101"}},
		{"vm resume 101", C{Verb: VerbResume, Target: "101"}},
		{"恢复 101", C{Verb: VerbResume, Target: "101"}},
		{"vm stop 101", C{Verb: VerbStop, Target: "101"}},
		{"停止 101", C{Verb: VerbStop, Target: "101"}},
		{"强制关机 101", C{Verb: VerbStop, Target: "101"}},
		{"强制关机101", C{Verb: VerbStop, Target: "101"}},
		{"vm reset 101", C{Verb: VerbReset, Target: "101"}},
		{"重置 101", C{Verb: VerbReset, Target: "101"}},
		{"ct start 200", C{Verb: VerbStart, Kind: KindLXC, Target: "200"}},
		{"容器 关机 200", C{Verb: VerbShutdown, Kind: KindLXC, Target: "200"}},
		{"ct stop pihole", C{Verb: VerbStop, Kind: KindLXC, Target: "pihole"}},
		// nodes, storage, tasks
		{"node", C{Verb: VerbNodeList}},
		{"node list", C{Verb: VerbNodeList}},
		{"nodes", C{Verb: VerbNodeList}},
		{"节点", C{Verb: VerbNodeList}},
		{"节点 列表", C{Verb: VerbNodeList}},
		{"node status pve1", C{Verb: VerbNodeStatus, Target: "pve1"}},
		{"节点 状态 pve1", C{Verb: VerbNodeStatus, Target: "pve1"}},
		{"节点状态pve1", C{Verb: VerbNodeStatus, Target: "pve1"}},
		{"node status home/pve1", C{Verb: VerbNodeStatus, Target: "home/pve1"}},
		{"storage", C{Verb: VerbStorage}},
		{"storage list", C{Verb: VerbStorage}},
		{"存储", C{Verb: VerbStorage}},
		{"存储 列表", C{Verb: VerbStorage}},
		// graphs
		{"vm graph 101", C{Verb: VerbGraph, Target: "101", Args: []string{}}},
		{"图表 101", C{Verb: VerbGraph, Target: "101", Args: []string{}}},
		{"图表101 周", C{Verb: VerbGraph, Target: "101", Args: []string{"周"}}},
		{"vm graph homeassistant month", C{Verb: VerbGraph, Target: "homeassistant", Args: []string{"month"}}},
		{"ct chart 200 hour", C{Verb: VerbGraph, Kind: KindLXC, Target: "200", Args: []string{"hour"}}},
		{"图表 101 小时", C{Verb: VerbGraph, Target: "101", Args: []string{"小时"}}},
		{"node graph pve1", C{Verb: VerbNodeGraph, Target: "pve1", Args: []string{}}},
		{"节点图表 pve1 周", C{Verb: VerbNodeGraph, Target: "pve1", Args: []string{"周"}}},
		{"节点 图表 pve1 年", C{Verb: VerbNodeGraph, Target: "pve1", Args: []string{"年"}}},
		{"storage graph local-zfs", C{Verb: VerbStorageGraph, Target: "local-zfs", Args: []string{}}},
		{"storage graph local pve2", C{Verb: VerbStorageGraph, Target: "local", Args: []string{"pve2"}}},
		{"存储图表 local", C{Verb: VerbStorageGraph, Target: "local", Args: []string{}}},
		{"task list", C{Verb: VerbTasks}},
		{"tasks", C{Verb: VerbTasks}},
		{"任务", C{Verb: VerbTasks}},
		// audit
		{"audit", C{Verb: VerbAudit}},
		{"audit 5", C{Verb: VerbAudit, N: 5}},
		{"审计 5", C{Verb: VerbAudit, N: 5}},
		{"审计5", C{Verb: VerbAudit, N: 5}},
		{"审计 ２０", C{Verb: VerbAudit, N: 20}},
		{"audit 100000", C{Verb: VerbAudit, N: MaxAuditN}},
		{"audit 99999999999999999999999", C{Verb: VerbAudit, N: MaxAuditN}},
		// confirmations
		{"确认 AB12", C{Verb: VerbConfirm, Code: "AB12"}},
		{"确认ab12", C{Verb: VerbConfirm, Code: "AB12"}},
		{"confirm ab12", C{Verb: VerbConfirm, Code: "AB12"}},
		{"ＣＯＮＦＩＲＭ　ａｂ１２", C{Verb: VerbConfirm, Code: "AB12"}},
		{"取消 AB12", C{Verb: VerbCancel, Code: "AB12"}},
		{"cancel x9-k", C{Verb: VerbCancel, Code: "X9-K"}},
	}
	if len(tests) < 80 {
		t.Fatalf("only %d cases; the contract asks for at least 80", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.in, err)
			}
			want := tt.want
			want.Raw = tt.in
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.in, got, want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	junk := strings.Repeat("x", MaxInputBytes-1)
	tests := []struct {
		name, in string
		key      string
		sugg     []string // each must be among the suggestions
	}{
		{"empty", "", "parse_empty", nil},
		{"whitespace", " \t\n　 ", "parse_empty", nil},
		{"only invisible", "\u200b\ufeff", "parse_empty", nil},
		{"too long", strings.Repeat("启动 ", MaxInputBytes), "parse_too_long", nil},
		{"one byte too long", strings.Repeat("a", MaxInputBytes+1), "parse_too_long", nil},
		{"4 KiB of junk", junk, "parse_unknown", nil},
		{"junk with spaces", strings.Repeat("zz ", MaxInputBytes/3), "parse_unknown", nil},
		{"typo after vm", "vm strat 101", "parse_unknown_verb", []string{"vm start"}},
		{"typo shortcut", "strat 101", "parse_unknown", []string{"start"}},
		{"typo shutdown", "shutdwon nas", "parse_unknown", []string{"shutdown"}},
		{"prefix", "shut nas", "parse_unknown", []string{"shutdown"}},
		{"typo chinese", "关闭 nas", "parse_unknown", []string{"关机"}},
		{"typo node", "node stauts pve1", "parse_unknown_verb", []string{"node status"}},
		{"typo help topic", "help strat", "parse_unknown_topic", []string{"help start"}},
		{"unknown word", "hello", "parse_unknown", nil},
		{"ct reset", "ct reset 101", "parse_ct_reset", nil},
		{"容器 重置", "容器 重置 101", "parse_ct_reset", nil},
		{"missing target", "vm start", "parse_missing_target", nil},
		{"missing target zh", "启动", "parse_missing_target", nil},
		{"vm status alone", "vm status", "parse_missing_target", nil},
		{"two targets", "start 101 102", "parse_too_many", nil},
		{"bad target", "start 家里", "parse_bad_target", nil},
		{"touching junk", "启动了", "parse_bad_target", nil},
		{"bad target slash", "start /101", "parse_bad_target", nil},
		{"bad target star", "start home/*", "parse_bad_target", nil},
		{"audit x", "audit x", "parse_bad_number", nil},
		{"audit 0", "audit 0", "parse_bad_number", nil},
		{"audit -1", "审计 -1", "parse_bad_number", nil},
		{"audit two args", "audit 5 6", "parse_too_many", nil},
		{"confirm no code", "确认", "parse_missing_code", nil},
		{"confirm bad code", "confirm a/b", "parse_bad_code", nil},
		{"storage extra", "storage foo", "parse_unknown_verb", nil},
		{"storage list extra", "storage list foo", "parse_too_many", nil},
		{"graph no target", "vm graph", "parse_missing_target", nil},
		{"graph too many", "vm graph 101 week x", "parse_too_many", nil},
		{"overview extra", "概览 101", "parse_too_many", nil},
		{"node status no node", "node status", "parse_missing_target", nil},
		{"node list extra", "node list x", "parse_too_many", nil},
		{"node unknown", "node pve1", "parse_unknown_verb", []string{"node status pve1"}},
		{"节点 unknown", "节点 pve1", "parse_unknown_verb", []string{"节点 状态 pve1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.in)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) = %+v, %v; want *ParseError", clipWord(tt.in), got, err)
			}
			if pe.Key != tt.key {
				t.Errorf("key: got %q, want %q (%v)", pe.Key, tt.key, err)
			}
			for _, s := range tt.sugg {
				if !slices.Contains(pe.Suggestions, s) {
					t.Errorf("suggestions: got %q, want %q among them", pe.Suggestions, s)
				}
			}
			if len(pe.Suggestions) > 3 {
				t.Errorf("suggestions: got %d, want at most 3", len(pe.Suggestions))
			}
			if len(pe.Input) > MaxInputBytes {
				t.Errorf("Input holds %d bytes, want at most %d", len(pe.Input), MaxInputBytes)
			}
			if !strings.HasPrefix(err.Error(), "commands: parse: ") {
				t.Errorf("Error() = %q, want the package prefix", err)
			}
			for _, lang := range []string{"zh", "en"} {
				if m := pe.Message(lang); m == "" || strings.Contains(m, "%!") || strings.HasPrefix(m, "parse_") {
					t.Errorf("Message(%s) = %q, want a sentence", lang, m)
				}
			}
		})
	}
}

func TestParseErrorMessageLanguages(t *testing.T) {
	_, err := Parse("ct reset 101")
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want *ParseError", err)
	}
	for _, tt := range []struct{ lang, want string }{
		{"zh", "容器不能重置"},
		{"", "容器不能重置"},
		{"en", "Containers cannot be reset"},
		{"en-US", "Containers cannot be reset"},
	} {
		if got := pe.Message(tt.lang); got != tt.want {
			t.Errorf("Message(%q) = %q, want %q", tt.lang, got, tt.want)
		}
	}
	if got, want := pe.Msg, "Containers cannot be reset"; got != want {
		t.Errorf("Msg = %q, want %q", got, want)
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"  VM   Start\t101 ", "vm start 101"},
		{"ｖｍ　ｓｔａｒｔ　１０１", "vm start 101"},
		{"启动　１０１", "启动 101"},
		{"？", "?"},
		{"a\u200bb", "ab"},
		{"\ufeffhelp", "help"},
		{"ÄBC", "Äbc"}, // only ASCII is folded
		{"x\r\n\r\ny", "x y"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Normalize(tt.in); got != tt.want {
				t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestCommandAction(t *testing.T) {
	tests := []struct {
		in, want string
		power    bool
	}{
		{"help", "", false},
		{"status", "status", false},
		{"vm list", "list", false},
		{"ct list", "list", false},
		{"vm status 101", "list", false},
		{"start 101", "start", true},
		{"关机 101", "shutdown", true},
		{"重启 101", "reboot", true},
		{"暂停 101", "suspend", true},
		{"恢复 101", "resume", true},
		{"停止 101", "stop", true},
		{"重置 101", "reset", true},
		{"node list", "node", false},
		{"node status pve1", "node", false},
		{"storage", "storage", false},
		{"task list", "task", false},
		{"audit 5", "audit", false},
		{"确认 AB12", "", false},
		{"取消 AB12", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			c, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Action(); got != tt.want {
				t.Errorf("Action() = %q, want %q", got, tt.want)
			}
			if got := c.IsPower(); got != tt.power {
				t.Errorf("IsPower() = %v, want %v", got, tt.power)
			}
		})
	}
}

// TestVocabularyParses makes sure every word in the vocabulary reaches its command, so an
// alias cannot be added to the table and silently fail to parse.
func TestVocabularyParses(t *testing.T) {
	for _, v := range vocab {
		in := v.word
		var want Verb
		if v.noun >= 0 {
			want = table[bareOf(v.family)].Verb
		} else {
			s := table[v.spec]
			want = s.Verb
			if !standalone(s.Noun) {
				in = nouns[slices.IndexFunc(nouns, func(n noun) bool { return n.family == s.Noun })].word + " " + in
			}
			switch s.Args {
			case ArgTarget:
				in += " 101"
			case ArgTargetArgs:
				in += " 101" + strings.Repeat(" x1", s.MinArgs)
			case ArgCode:
				in += " ab12"
			}
		}
		t.Run(in, func(t *testing.T) {
			c, err := Parse(in)
			if err != nil || c.Verb != want {
				t.Errorf("Parse(%q) = %v, %v; want verb %s", in, c.Verb, err, want)
			}
		})
	}
}

func TestOSA(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"start", "start", 0},
		{"strat", "start", 1},
		{"stat", "start", 1},
		{"kitten", "sitting", 3},
		{"关闭", "关机", 1},
		{"", "abc", 3},
	}
	for _, tt := range tests {
		if got := osa([]rune(tt.a), []rune(tt.b)); got != tt.want {
			t.Errorf("osa(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"vm start 101", "启动101", "ｖｍ　ｓｔａｒｔ　１０１", "", "?", "帮助 启动",
		"audit 5", "确认 AB12", "ct reset 1", "节点状态pve1", "\xff\xfe", "vm启动"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		c, err := Parse(in)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T, want *ParseError", err)
			}
			if len(in) <= MaxInputBytes && pe.Input != in {
				t.Fatalf("ParseError.Input = %q, want %q", pe.Input, in)
			}
			return
		}
		if c.Raw != in {
			t.Fatalf("Raw = %q, want %q", c.Raw, in)
		}
		if c.Verb == "" {
			t.Fatalf("no verb for %q", in)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	for _, in := range []string{"vm start 101", "启动homeassistant", "ｖｍ　ｓｔａｒｔ　１０１", "vm strat 101"} {
		b.Run(in, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = Parse(in)
			}
		})
	}
}

// TestParseFixes checks the whole command offered for a typo: the closest command in each
// language, with what else the user typed kept.
func TestParseFixes(t *testing.T) {
	tests := []struct {
		in  string
		fix Text
	}{
		{"vm strat 101", Text{"vm start 101", "启动 101"}},
		{"strat 101", Text{"vm start 101", "启动 101"}},
		{"ct strat 200", Text{"ct start 200", "容器 启动 200"}},
		{"关闭 nas", Text{"vm shutdown nas", "关机 nas"}},
		{"node stauts pve1", Text{"node status pve1", "节点 状态 pve1"}},
		{"node pve1", Text{"node status pve1", "节点 状态 pve1"}},
		{"节点 pve1", Text{"node status pve1", "节点 状态 pve1"}},
		{"help strat", Text{"help start", "帮助 启动"}},
		{"help vm strat", Text{"help vm start", "帮助 虚拟机 启动"}},
		{"stroage", Text{"storage", "存储"}},
		{"nod", Text{"node", "节点"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			var pe *ParseError
			if !errors.As(err, &pe) || len(pe.Fixes) == 0 {
				t.Fatalf("Parse(%q) = %v, want a parse error with fixes", tt.in, err)
			}
			if pe.Fixes[0] != tt.fix {
				t.Errorf("fix = %+v, want %+v (all: %+v)", pe.Fixes[0], tt.fix, pe.Fixes)
			}
			for _, f := range []string{tt.fix.EN, tt.fix.ZH} {
				if _, err := Parse(f); err != nil {
					t.Errorf("fix %q does not parse: %v", f, err)
				}
			}
		})
	}
	// An error after the command was recognised names it, for the usage line.
	_, err := Parse("关机")
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Verb != VerbShutdown || len(pe.Fixes) != 0 {
		t.Errorf("Parse(关机) = %+v, want verb shutdown and no fixes", err)
	}
}
