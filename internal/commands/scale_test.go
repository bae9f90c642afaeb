package commands

import (
	"context"
	"fmt"
	"iter"
	"slices"
	"strings"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
	"github.com/wecom-home-ops/wecom-home-ops/internal/wecom"
)

// bigFleet is 50 clusters of 200 guests in memory; it counts listings.
type bigFleet struct {
	Fleet    // the methods a test does not need: calling one panics
	guests   []pve.Guest
	nodes    []pve.Node
	listings int
}

func newBigFleet() *bigFleet {
	f := &bigFleet{}
	for c := range 50 {
		cl := fmt.Sprintf("c%02d", c)
		f.nodes = append(f.nodes, pve.Node{Cluster: cl, Name: "pve1", Status: "online"})
		for i := range 200 {
			f.guests = append(f.guests, pve.Guest{Cluster: cl, VMID: 100 + i, Name: fmt.Sprintf("%s-g%03d", cl, i), Node: "pve1", Type: "qemu", Status: "running"})
		}
	}
	return f
}

func (f *bigFleet) Listing(context.Context) (iter.Seq[pve.Guest], []pve.Node, map[string]error) {
	f.listings++
	return slices.Values(f.guests), append([]pve.Node(nil), f.nodes...), nil // built in cluster, VMID order
}
func (f *bigFleet) Guests(context.Context) ([]pve.Guest, map[string]error) {
	f.listings++
	return append([]pve.Guest(nil), f.guests...), nil
}
func (f *bigFleet) ClusterNames() []string { return []string{"c00"} }

// An admin's list of 10,000 guests is one listing of the fleet, sent as messages WeCom
// takes (at most five of 2,048 bytes), cut with "…还有 N 行" and ending with the count
// and how to narrow it; the narrowed list has no such hint.
func TestListOfTenThousandGuestsFitsAndSaysHowToNarrow(t *testing.T) {
	st, err := store.Open(t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.Users = []config.User{{ID: "zhangsan", Role: config.RoleAdmin}}
	f := newBigFleet()
	d := New(cfg, Options{Fleet: f, Store: st})
	reps := d.Handle(context.Background(), chat.Message{ID: "m1", User: "zhangsan", Kind: chat.KindText, Text: "vm list"})
	if len(reps) != 1 || f.listings != 1 {
		t.Fatalf("got %d replies after %d listings, want 1 and 1", len(reps), f.listings)
	}
	for _, render := range []func(chat.Reply, string, int) []string{wecom.RenderMarkdown, wecom.RenderText} {
		parts := render(reps[0], "zh", wecom.MaxTextBytes)
		if len(parts) == 0 || len(parts) > 5 {
			t.Fatalf("%d messages, want 1..5", len(parts))
		}
		for i, p := range parts {
			if len(p) > wecom.MaxTextBytes {
				t.Errorf("message %d is %d bytes, over WeCom's %d", i, len(p), wecom.MaxTextBytes)
			}
		}
		last := parts[len(parts)-1]
		for _, want := range []string{"还有", "共 10000 台", "列表 关键字"} {
			if !strings.Contains(last, want) {
				t.Errorf("last message lacks %q:\n%s", want, last)
			}
		}
		// Every guest is either a line or counted in "…还有 N 行".
		shown := 0
		for _, p := range parts {
			shown += strings.Count(p, "-g")
		}
		var more int
		if _, err := fmt.Sscanf(last[strings.Index(last, "还有 "):], "还有 %d 行", &more); err != nil || shown+more != 10000 {
			t.Errorf("%d guest lines shown + %d more (%v), want 10000", shown, more, err)
		}
	}
	reps = d.Handle(context.Background(), chat.Message{ID: "m2", User: "zhangsan", Kind: chat.KindText, Text: "vm list c07-g12"})
	parts := wecom.RenderMarkdown(reps[0], "zh", wecom.MaxTextBytes)
	if len(parts) != 1 || strings.Contains(parts[0], "列表 关键字") || !strings.Contains(parts[0], "c07-g123") {
		t.Errorf("narrowed list = %q, want one message with c07-g123 and no hint", parts)
	}
}

// BenchmarkList10000 is an admin's `vm list` over 50 clusters of 200 guests (in memory:
// the fleet's answer is given), rendered as the markdown messages WeCom gets.
func BenchmarkList10000(b *testing.B) {
	st, err := store.Open(b.TempDir(), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	cfg := config.Default()
	cfg.Users = []config.User{{ID: "zhangsan", Role: config.RoleAdmin}}
	d := New(cfg, Options{Fleet: newBigFleet(), Store: st})
	ctx := context.Background()
	b.ReportAllocs()
	for i := range b.N {
		reps := d.Handle(ctx, chat.Message{ID: fmt.Sprint("m", i), User: "zhangsan", Kind: chat.KindText, Text: "vm list"})
		if parts := wecom.RenderMarkdown(reps[0], "zh", wecom.MaxTextBytes); len(parts) != 5 {
			b.Fatalf("%d messages, want 5", len(parts))
		}
	}
}
