package wecom

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

func TestTruncate(t *testing.T) {
	zh := strings.Repeat("虚拟机", 10) // 30 runes, 90 bytes
	tests := []struct {
		name string
		in   string
		max  int
		want string
	}{
		{"fits", "hello", 5, "hello"},
		{"empty", "", 3, ""},
		{"zero max", "hello", 0, ""},
		{"ascii cut", "hello world", 8, "hello…"},
		{"rune boundary", zh, 10, "虚拟…"},    // 7 bytes left for text: two runes (6 bytes)
		{"rune boundary 11", zh, 11, "虚拟…"}, // 8 bytes: still two runes
		{"tiny max keeps whole runes", zh, 3, "虚"},
		{"tiny max too small for a rune", zh, 2, ""},
		{"line boundary preferred", "line one\nline two\nline three", 24, "line one\nline two\n…"},
		{"line boundary too early is ignored", "a\nbcdefghijklmnop", 12, "a\nbcdefgh…"},
		{"invalid utf8 does not loop", "\xff\xff\xff\xff\xff\xff\xff\xff", 5, "\xff\xff…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Truncate(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("Truncate(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
			if len(got) > max(tt.max, 0) {
				t.Errorf("len = %d, want <= %d", len(got), tt.max)
			}
			if utf8.ValidString(tt.in) && !utf8.ValidString(got) {
				t.Errorf("Truncate(%q, %d) = %q is not valid UTF-8", tt.in, tt.max, got)
			}
		})
	}
}

// listReply builds a list reply of n rows in the given language.
func listReply(n int, lang string) chat.Reply {
	rep := chat.Reply{Kind: chat.ReplyList, Title: "虚拟机列表", Footer: fmt.Sprintf("共 %d 台", n)}
	row := "%d homeassistant-%d  运行中  pve1  内存 2.0 GiB"
	if lang == "en" {
		rep.Title, rep.Footer, row = "Guests", fmt.Sprintf("%d guests", n), "%d homeassistant-%d  running  pve1  mem 2.0 GiB"
	}
	for i := range n {
		rep.Lines = append(rep.Lines, fmt.Sprintf(row, 100+i, i))
	}
	return rep
}

// checkParts asserts the invariants every split reply keeps and returns the body lines
// found in the parts (in order) and the "more" count (0 when none).
func checkParts(t *testing.T, parts []string, maxBytes int, rep chat.Reply, moreRe func(string) (int, bool)) {
	t.Helper()
	if len(parts) == 0 {
		t.Fatalf("no parts")
	}
	if len(parts) > maxReplyParts {
		t.Errorf("parts = %d, want <= %d", len(parts), maxReplyParts)
	}
	var seen []string
	more := 0
	for i, p := range parts {
		if len(p) > maxBytes {
			t.Errorf("part %d has %d bytes, want <= %d", i, len(p), maxBytes)
		}
		if !utf8.ValidString(p) {
			t.Errorf("part %d is not valid UTF-8", i)
		}
		for _, ln := range strings.Split(p, "\n") {
			if n, ok := moreRe(ln); ok {
				more = n
				continue
			}
			seen = append(seen, ln)
		}
	}
	// Every body line appears whole and in order; the ones left out are counted.
	j := 0
	for _, ln := range seen {
		if j < len(rep.Lines) && ln == rep.Lines[j] {
			j++
		}
	}
	if got, want := j+more, len(rep.Lines); got != want {
		t.Errorf("lines shown %d + counted as more %d = %d, want %d", j, more, got, want)
	}
	if rep.Footer != "" && !strings.Contains(parts[len(parts)-1], rep.Footer) {
		t.Errorf("last part lacks the footer %q", rep.Footer)
	}
}

func TestRenderSplitsOnLineBoundaries(t *testing.T) {
	for _, lang := range []string{"zh", "en"} {
		for _, n := range []int{0, 1, 10, 45, 46, 47, 100, 250, 1000} {
			for _, maxBytes := range []int{MaxTextBytes, 512} {
				rep := listReply(n, lang)
				t.Run(fmt.Sprintf("%s/%d lines/%d bytes", lang, n, maxBytes), func(t *testing.T) {
					checkParts(t, RenderMarkdown(rep, lang, maxBytes), maxBytes, rep, func(s string) (int, bool) {
						return parseMore(strings.TrimSuffix(strings.TrimPrefix(s, `<font color="comment">`), `</font>`), lang)
					})
					checkParts(t, RenderText(rep, lang, maxBytes), maxBytes, rep, func(s string) (int, bool) {
						return parseMore(s, lang)
					})
				})
			}
		}
	}
}

func parseMore(s, lang string) (int, bool) {
	var pre, post string
	if lang == "en" {
		pre, post = "… ", " more"
	} else {
		pre, post = "…还有 ", " 行"
	}
	if !strings.HasPrefix(s, pre) || !strings.HasSuffix(s, post) {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(s, pre), post))
	return n, err == nil
}

func TestRenderLongLineIsCutNotDropped(t *testing.T) {
	long := strings.Repeat("长", 1000) // 3000 bytes
	rep := chat.Reply{Kind: chat.ReplyText, Title: "t", Lines: []string{"a", long, "b"}}
	parts := RenderText(rep, "zh", MaxTextBytes)
	if len(parts) != 3 {
		t.Fatalf("parts = %d (%q), want 3: a | cut long line | b", len(parts), parts)
	}
	for i, p := range parts {
		if len(p) > MaxTextBytes || !utf8.ValidString(p) {
			t.Errorf("part %d: %d bytes, valid %v", i, len(p), utf8.ValidString(p))
		}
	}
	if !strings.HasSuffix(parts[1], "…") || !strings.HasPrefix(parts[1], "t（续）\n长") {
		t.Errorf("part 1 = %.40q…, want the continued title then the cut line ending in …", parts[1])
	}
}

func TestRenderTextConfirm(t *testing.T) {
	rep := chat.Reply{Kind: chat.ReplyConfirm, Title: "关机 homeassistant (101)?",
		Fields: []chat.Field{{Label: "节点", Value: "pve1"}}, Code: "K7Q2"}
	tests := []struct {
		lang string
		want string
	}{
		{"zh", "关机 homeassistant (101)?\n节点：pve1\n回复「确认 K7Q2」执行，「取消 K7Q2」放弃。"},
		{"en", "关机 homeassistant (101)?\n节点: pve1\nReply `confirm K7Q2` to go ahead or `cancel K7Q2` to drop it."},
	}
	for _, tt := range tests {
		t.Run(tt.lang, func(t *testing.T) {
			got := RenderText(rep, tt.lang, MaxTextBytes)
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("RenderText = %q, want [%q]", got, tt.want)
			}
		})
	}
	// The confirmation hint survives even when the body must be shortened.
	big := rep
	for i := range 500 {
		big.Lines = append(big.Lines, fmt.Sprintf("row %d with some text", i))
	}
	parts := RenderText(big, "zh", MaxTextBytes)
	if last := parts[len(parts)-1]; !strings.Contains(last, "确认 K7Q2") {
		t.Errorf("last part lacks the confirmation hint: %q", last[max(0, len(last)-200):])
	}
}

func TestRenderCard(t *testing.T) {
	fields := func(n int) []chat.Field {
		var fs []chat.Field
		for i := range n {
			fs = append(fs, chat.Field{Label: fmt.Sprintf("k%d", i), Value: fmt.Sprintf("v%d", i)})
		}
		return fs
	}
	buttons := []chat.Button{{Text: "确认", Key: "confirm:abc", Style: 1}, {Text: "取消", Key: "cancel:abc", Style: 2}}
	tests := []struct {
		name  string
		rep   chat.Reply
		check func(t *testing.T, c TemplateCard)
	}{
		{"card with 8 fields", chat.Reply{Kind: chat.ReplyCard, Title: "vm", Fields: fields(8), Footer: "foot"},
			func(t *testing.T, c TemplateCard) {
				if c.CardType != CardTextNotice || c.CardAction == nil || c.CardAction.Type != 1 || c.CardAction.URL == "" {
					t.Errorf("type %q action %+v, want text_notice with a type-1 card_action", c.CardType, c.CardAction)
				}
				if got := len(c.HorizontalContentList); got != 6 {
					t.Errorf("horizontal rows = %d, want 6", got)
				}
				if want := "k6：v6\nk7：v7\nfoot"; c.SubTitleText != want {
					t.Errorf("sub_title = %q, want %q", c.SubTitleText, want)
				}
				if c.TaskID != "" {
					t.Errorf("task_id = %q on a text_notice, want none", c.TaskID)
				}
			}},
		{"confirm with buttons", chat.Reply{Kind: chat.ReplyConfirm, Title: "reboot?", Fields: fields(2), Buttons: buttons, Code: "X1"},
			func(t *testing.T, c TemplateCard) {
				if c.CardType != CardButtonInteraction || c.TaskID != "task-1" || c.CardAction != nil {
					t.Errorf("type %q task %q action %v, want button_interaction task-1 no action", c.CardType, c.TaskID, c.CardAction)
				}
				want := []CardButton{{Text: "确认", Style: 1, Key: "confirm:abc"}, {Text: "取消", Style: 2, Key: "cancel:abc"}}
				if fmt.Sprint(c.ButtonList) != fmt.Sprint(want) {
					t.Errorf("buttons = %+v, want %+v", c.ButtonList, want)
				}
				if c.Source == nil || c.Source.Desc != "待确认" {
					t.Errorf("source = %+v, want 待确认", c.Source)
				}
			}},
		{"confirm without buttons falls back to a hint", chat.Reply{Kind: chat.ReplyConfirm, Title: "reboot?", Code: "X1"},
			func(t *testing.T, c TemplateCard) {
				if c.CardType != CardTextNotice || !strings.Contains(c.SubTitleText, "确认 X1") {
					t.Errorf("type %q sub %q, want text_notice with the 确认 X1 hint", c.CardType, c.SubTitleText)
				}
			}},
		{"more than six buttons", chat.Reply{Kind: chat.ReplyConfirm, Title: "x", Buttons: append(append(append(buttons, buttons...), buttons...), buttons...)},
			func(t *testing.T, c TemplateCard) {
				if got := len(c.ButtonList); got != 6 {
					t.Errorf("buttons = %d, want 6", got)
				}
			}},
		{"no title uses the first line", chat.Reply{Kind: chat.ReplyText, Lines: []string{"done", "more"}, Severity: chat.SeverityOK},
			func(t *testing.T, c TemplateCard) {
				if c.MainTitle.Title != "done" || c.SubTitleText != "more" || c.Source.DescColor != 3 {
					t.Errorf("title %q sub %q source %+v, want done/more/green", c.MainTitle.Title, c.SubTitleText, c.Source)
				}
			}},
		{"long body shortened", listReply(100, "zh"),
			func(t *testing.T, c TemplateCard) {
				if utf8.RuneCountInString(c.SubTitleText) > cardSubTitleChars || !strings.Contains(c.SubTitleText, "…还有 ") || !strings.HasSuffix(c.SubTitleText, "共 100 台") {
					t.Errorf("sub_title (%d bytes) = …%q, want <= %d characters with a more line and the footer",
						len(c.SubTitleText), c.SubTitleText[max(0, len(c.SubTitleText)-80):], cardSubTitleChars)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, RenderCard(tt.rep, "task-1", "zh"))
		})
	}
}

func TestRenderNeverExceedsLimit(t *testing.T) {
	// Lines of awkward lengths (empty, multi-byte, longer than a message) under many limits.
	var lines []string
	for i := range 120 {
		lines = append(lines, strings.Repeat("é", (i*37)%300)+strings.Repeat("x", i%5))
	}
	rep := chat.Reply{Kind: chat.ReplyConfirm, Title: strings.Repeat("标题", 30), Lines: lines,
		Fields: []chat.Field{{Label: "k", Value: strings.Repeat("v", 500)}}, Footer: strings.Repeat("脚", 100), Code: "C0DE"}
	for maxBytes := 40; maxBytes <= 2048; maxBytes += 37 {
		for name, parts := range map[string][]string{
			"markdown": RenderMarkdown(rep, "zh", maxBytes),
			"text":     RenderText(rep, "en", maxBytes),
		} {
			if len(parts) == 0 || len(parts) > maxReplyParts {
				t.Errorf("%s/%d: %d parts, want 1..%d", name, maxBytes, len(parts), maxReplyParts)
			}
			for i, p := range parts {
				if len(p) > maxBytes || !utf8.ValidString(p) {
					t.Errorf("%s/%d: part %d has %d bytes (valid UTF-8 %v)", name, maxBytes, i, len(p), utf8.ValidString(p))
				}
			}
		}
	}
}

func TestRenderTextNeverSendsMarkdownBold(t *testing.T) {
	rep := chat.Reply{Kind: chat.ReplyList, Title: "**概览**", Lines: []string{"**节点**", "🟢 pve1 · **2** 台运行中"},
		Fields: []chat.Field{{Label: "**状态**", Value: "正常"}}, Footer: "**更新于** 12:00"}
	for _, part := range RenderText(rep, "zh", MaxTextBytes) {
		if strings.Contains(part, "**") {
			t.Errorf("text part %q contains **", part)
		}
		if !strings.Contains(part, "节点") {
			t.Errorf("text part %q lost the heading's words", part)
		}
	}
	card := RenderCard(chat.Reply{Kind: chat.ReplyCard, Title: "x", Lines: []string{"**节点**"}}, "", "zh")
	if strings.Contains(card.SubTitleText, "**") {
		t.Errorf("card sub-title %q contains **", card.SubTitleText)
	}
	if md := strings.Join(RenderMarkdown(rep, "zh", MaxTextBytes), "\n"); !strings.Contains(md, "**节点**") {
		t.Errorf("markdown %q lost its bold heading", md)
	}
}

func TestRenderLink(t *testing.T) {
	const u = "https://pve.example.lan:8006/#v1:0:=lxc%2F103:4:::::::"
	long := "https://pve.example.lan/" + strings.Repeat("a", maxLinkURLBytes)
	tests := []struct {
		name string
		link chat.Link
		want bool // the link shows
	}{
		{"https", chat.Link{Text: "在 PVE 中打开", URL: u}, true},
		{"http", chat.Link{Text: "在 PVE 中打开", URL: "http://192.168.1.10:8006/"}, true},
		{"no scheme", chat.Link{Text: "在 PVE 中打开", URL: "pve.lan:8006"}, false},
		{"javascript", chat.Link{Text: "x", URL: "javascript:alert(1)"}, false},
		{"too long", chat.Link{Text: "x", URL: long}, false},
		{"none", chat.Link{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := chat.Reply{Kind: chat.ReplyCard, Title: "ct (103)", Link: tt.link}
			card := RenderCard(rep, "t1", "zh")
			gotCard := card.CardAction != nil && card.CardAction.URL == tt.link.URL && len(card.JumpList) == 1
			if gotCard != tt.want {
				t.Errorf("card link shown = %v, want %v (%+v %+v)", gotCard, tt.want, card.CardAction, card.JumpList)
			}
			if !tt.want && card.CardAction.URL != harmlessCardURL {
				t.Errorf("card_action = %q, want the harmless default", card.CardAction.URL)
			}
			text := strings.Join(RenderText(rep, "zh", MaxTextBytes), "\n")
			if got := tt.link.URL != "" && strings.Contains(text, tt.link.URL); got != tt.want {
				t.Errorf("text shows link = %v, want %v: %q", got, tt.want, text)
			}
			md := strings.Join(RenderMarkdown(rep, "zh", MaxTextBytes), "\n")
			if got := strings.Contains(md, "]("+tt.link.URL+")"); got != tt.want {
				t.Errorf("markdown shows link = %v, want %v: %q", got, tt.want, md)
			}
		})
	}
	// A long label is cut to WeCom's jump_list title limit; a confirmation card carries the
	// link as its tap only (button_interaction documents no jump_list).
	card := RenderCard(chat.Reply{Kind: chat.ReplyCard, Title: "t", Link: chat.Link{Text: strings.Repeat("长", 30), URL: u}}, "", "zh")
	if n := utf8.RuneCountInString(card.JumpList[0].Title); n > jumpTitleRunes {
		t.Errorf("jump title has %d characters, want <= %d", n, jumpTitleRunes)
	}
	confirm := RenderCard(chat.Reply{Kind: chat.ReplyConfirm, Title: "t", Buttons: []chat.Button{{Text: "ok", Key: "k"}},
		Link: chat.Link{Text: "在 PVE 中打开", URL: u}}, "t2", "zh")
	if confirm.CardAction == nil || confirm.CardAction.URL != u || len(confirm.JumpList) != 0 {
		t.Errorf("confirm card: action %+v, jumps %+v; want the link as card_action only", confirm.CardAction, confirm.JumpList)
	}
}
