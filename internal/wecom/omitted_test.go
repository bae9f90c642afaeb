package wecom

import (
	"strconv"
	"strings"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
)

// Lines a list left out (Reply.Omitted) are counted in "N more" by every renderer, whether
// the lines given fit or are cut further.
func TestOmittedLinesAreCounted(t *testing.T) {
	few := chat.Reply{Kind: chat.ReplyList, Title: "虚拟机列表", Lines: []string{"a", "b"}, Omitted: 98, Footer: "共 100 台"}
	row := strings.Repeat("x", 60)
	long := few
	long.Lines = nil
	for range 400 {
		long.Lines = append(long.Lines, row)
	}
	long.Omitted = 600
	cut := strings.Join(RenderMarkdown(long, "zh", MaxTextBytes), "\n")
	for _, tt := range []struct {
		name string
		out  string
		want int
	}{
		{"markdown, all given fit", strings.Join(RenderMarkdown(few, "zh", MaxTextBytes), "\n"), 98},
		{"text, all given fit", strings.Join(RenderText(few, "zh", MaxTextBytes), "\n"), 98},
		{"card, all given fit", RenderCard(few, "t", "zh").SubTitleText, 98},
		{"markdown, cut further", cut, 1000 - strings.Count(cut, row)},
	} {
		if want := "还有 " + strconv.Itoa(tt.want) + " 行"; !strings.Contains(tt.out, want) {
			t.Errorf("%s: no %q in ...%q", tt.name, want, tt.out[max(0, len(tt.out)-300):])
		}
	}
}
