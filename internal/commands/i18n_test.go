package commands

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// verbRE finds fmt verbs, with optional explicit argument indexes (%[2]s).
var verbRE = regexp.MustCompile(`%(\[\d+\])?[-+# 0]*\d*(\.\d+)?[a-zA-Z%]`)

func verbs(s string) []string {
	var out []string
	for _, m := range verbRE.FindAllString(s, -1) {
		if m == "%%" {
			continue
		}
		out = append(out, m[len(m)-1:])
	}
	slices.Sort(out)
	return out
}

func TestCatalogComplete(t *testing.T) {
	for _, pair := range []struct {
		name     string
		from, to map[string]string
	}{{"zh->en", catalogZH, catalogEN}, {"en->zh", catalogEN, catalogZH}} {
		for k := range pair.from {
			if _, ok := pair.to[k]; !ok {
				t.Errorf("%s: key %q missing", pair.name, k)
			}
		}
	}
	for k, zh := range catalogZH {
		en := catalogEN[k]
		if got, want := verbs(zh), verbs(en); !slices.Equal(got, want) {
			t.Errorf("key %q: zh verbs %v, en verbs %v", k, got, want)
		}
		if strings.TrimSpace(zh) == "" || strings.TrimSpace(en) == "" {
			t.Errorf("key %q: empty text", k)
		}
	}
}

func TestT(t *testing.T) {
	tests := []struct {
		lang Lang
		key  string
		args []any
		want string
	}{
		{LangZH, "type_qemu", nil, "虚拟机"},
		{LangEN, "type_qemu", nil, "VM"},
		{"", "state_running", nil, "运行中"},
		{"fr", "state_stopped", nil, "已停止"},
		{LangZH, "result_ok", []any{"homeassistant (101)", "已关机", "12 秒"}, "✅ homeassistant (101) 已关机 · 12 秒"},
		{LangEN, "unknown_user", []any{"zhaoliu"}, "You may not use this bot yet. Your UserID is zhaoliu: send it to an admin to be added"},
		{LangZH, "rate_limited", []any{20, "分钟"}, "操作太频繁（每分钟最多 20 条），请稍后再试"},
		{LangEN, "rate_limited", []any{20, "minute"}, "Too many commands (at most 20 per minute); please try again shortly"},
		{LangZH, "no.such.key", nil, "no.such.key"},
	}
	for _, tt := range tests {
		t.Run(string(tt.lang)+"/"+tt.key, func(t *testing.T) {
			if got := T(tt.lang, tt.key, tt.args...); got != tt.want {
				t.Errorf("T(%q, %q) = %q, want %q", tt.lang, tt.key, got, tt.want)
			}
		})
	}
}

func TestParseLang(t *testing.T) {
	for in, want := range map[string]Lang{"": LangZH, "zh": LangZH, "zh_CN": LangZH, "en": LangEN, "EN": LangEN, "en-US": LangEN, "english": LangZH} {
		if got := ParseLang(in); got != want {
			t.Errorf("ParseLang(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestHelp(t *testing.T) {
	for _, lang := range []Lang{LangZH, LangEN} {
		t.Run(string(lang), func(t *testing.T) {
			over := Help(lang, "")
			if got, want := len(over), len(helpTable)+1; got != want {
				t.Errorf("overview: got %d lines, want %d", got, want)
			}
			if got := Help(lang, "no-such-topic"); !slices.Equal(got, over) {
				t.Errorf("unknown topic: got %q, want the overview", got)
			}
			for _, topic := range HelpTopics() {
				lines := Help(lang, topic)
				if slices.Equal(lines, over) {
					t.Errorf("topic %q: got the overview", topic)
				}
				for _, l := range lines {
					if strings.Contains(l, "%!") || strings.Contains(l, "help_") {
						t.Errorf("topic %q: broken line %q", topic, l)
					}
				}
			}
		})
	}
	// every topic the parser can produce has help
	for _, in := range []string{"help start", "帮助 状态", "help node", "help 任务", "help 确认", "help ?"} {
		c, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(HelpTopics(), c.Topic) {
			t.Errorf("Parse(%q).Topic = %q, not a help topic %v", in, c.Topic, HelpTopics())
		}
	}
	for _, topic := range HelpTopics() {
		c, err := Parse("help " + topic)
		if err != nil || c.Topic != topic {
			t.Errorf("Parse(help %s) = %+v, %v; want topic %q", topic, c, err, topic)
		}
	}
	start := strings.Join(Help(LangZH, "start"), "\n")
	for _, want := range []string{"启动 <目标>", "vm start <target>", "开机", "目标："} {
		if !strings.Contains(start, want) {
			t.Errorf("help start (zh) = %q, want it to contain %q", start, want)
		}
	}
	ct := strings.Join(Help(LangEN, "list"), "\n")
	if !strings.Contains(ct, "ct list [filter]") {
		t.Errorf("help list (en) = %q, want the ct list line", ct)
	}
}

// TestCatalogCoversCode reads this package's sources and checks that every key passed to
// T or req.t exists, and that every "prefix_"+x key has at least one entry, so a typo in a
// key shows here and not as a raw key in a user's chat.
func TestCatalogCoversCode(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			c, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			idx := -1
			switch fn := c.Fun.(type) {
			case *ast.Ident:
				if fn.Name == "T" {
					idx = 1
				}
			case *ast.SelectorExpr:
				if fn.Sel.Name == "t" || fn.Sel.Name == "T" && isIdent(fn.X, "commands") {
					idx = 0
				}
			}
			if idx < 0 || len(c.Args) <= idx {
				return true
			}
			pos := fset.Position(c.Pos())
			switch a := c.Args[idx].(type) {
			case *ast.BasicLit:
				key, _ := strconv.Unquote(a.Value)
				if _, ok := catalogZH[key]; !ok {
					t.Errorf("%s: key %q not in the catalog", pos, key)
				}
			case *ast.BinaryExpr:
				if lit, ok := a.X.(*ast.BasicLit); ok {
					prefix, _ := strconv.Unquote(lit.Value)
					if !hasKeyPrefix(prefix) {
						t.Errorf("%s: no catalog key starts with %q", pos, prefix)
					}
				}
			}
			return true
		})
	}
}

func isIdent(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

func hasKeyPrefix(p string) bool {
	for k := range catalogZH {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	return false
}

// TestDynamicKeys covers the keys built from action and state names.
func TestDynamicKeys(t *testing.T) {
	for _, a := range []string{"start", "shutdown", "reboot", "suspend", "resume", "stop", "reset"} {
		for _, p := range []string{"act_", "done_", "confirm_effect_", "help_"} {
			if _, ok := catalogZH[p+a]; !ok {
				t.Errorf("key %q missing", p+a)
			}
		}
	}
	for _, s := range []string{"running", "stopped", "paused", "unknown", "online", "offline"} {
		if _, ok := catalogZH["state_"+s]; !ok {
			t.Errorf("key %q missing", "state_"+s)
		}
	}
}

func TestHelpReply(t *testing.T) {
	for _, lang := range []Lang{LangZH, LangEN} {
		over := helpReply(lang, "")
		if got, want := len(over.Lines), len(helpTable); got != want {
			t.Errorf("%s overview: got %d lines, want %d", lang, got, want)
		}
		if got, want := over.Footer, T(lang, "help_footer"); got != want {
			t.Errorf("%s overview footer: got %q, want %q", lang, got, want)
		}
		one := helpReply(lang, "start")
		if got, want := one.Title, T(lang, "help_title")+" · start"; got != want {
			t.Errorf("%s start title: got %q, want %q", lang, got, want)
		}
		if one.Footer != "" || len(one.Lines) == 0 {
			t.Errorf("%s start: got %+v, want lines and no footer", lang, one)
		}
	}
}
