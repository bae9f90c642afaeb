package commands

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/chat"
	"github.com/wecom-home-ops/wecom-home-ops/internal/config"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
	"github.com/wecom-home-ops/wecom-home-ops/internal/selector"
	"github.com/wecom-home-ops/wecom-home-ops/internal/store"
)

// cardFleet answers what the node impact and bulk cards read: nodes, guests, quorum, configs.
type cardFleet struct {
	fakeFleet
	guests []pve.Guest
	orders map[int]int
}

func (f *cardFleet) Nodes(context.Context) ([]pve.Node, map[string]error) {
	return []pve.Node{{Cluster: "home", Name: "pve1", Status: "online"}, {Cluster: "home", Name: "pve2", Status: "online"}}, nil
}

func (f *cardFleet) Guests(context.Context) ([]pve.Guest, map[string]error) { return f.guests, nil }

func (f *cardFleet) ClusterStatus(context.Context, string) (pve.ClusterStatus, error) {
	return pve.ClusterStatus{Quorate: true, Nodes: []pve.ClusterMember{{Name: "pve1", Online: true}, {Name: "pve2", Online: true, Local: true}}}, nil
}

func (f *cardFleet) GuestConfig(_ context.Context, g pve.Guest) (pve.GuestConfig, error) {
	o, ok := f.orders[g.VMID]
	if !ok {
		o = math.MaxInt
	}
	return pve.GuestConfig{Startup: pve.Startup{Order: o}}, nil
}

// cardText is a reply as a golden file holds it: everything but the random code and ids.
func cardText(rep chat.Reply) string {
	var b strings.Builder
	b.WriteString("# " + rep.Title + "\n")
	for _, f := range rep.Fields {
		b.WriteString(f.Label + ": " + f.Value + "\n")
	}
	for _, l := range rep.Lines {
		if rep.Code != "" {
			l = strings.ReplaceAll(l, rep.Code, "<code>")
		}
		b.WriteString("- " + l + "\n")
	}
	for _, btn := range rep.Buttons {
		b.WriteString("[" + btn.Text + "]\n")
	}
	if rep.Footer != "" {
		b.WriteString(rep.Footer + "\n")
	}
	return b.String()
}

// TestNodeAndBulkCardsGolden pins the node reboot impact card and the bulk shutdown card in
// zh and en (go test ./internal/commands -run Golden -update rewrites them).
func TestNodeAndBulkCardsGolden(t *testing.T) {
	guests := []pve.Guest{
		{Cluster: "home", VMID: 103, Name: "jellyfin", Node: "pve2", Type: "lxc", Status: "running", Tags: []string{"media"}},
		{Cluster: "home", VMID: 104, Name: "docker-host", Node: "pve2", Type: "qemu", Status: "running", Tags: []string{"lab"}, HAState: "started"},
		{Cluster: "home", VMID: 105, Name: "dev-ubuntu", Node: "pve2", Type: "qemu", Status: "running", Tags: []string{"lab"}},
		{Cluster: "home", VMID: 106, Name: "dev-windows", Node: "pve1", Type: "qemu", Status: "running", Tags: []string{"lab"}},
		{Cluster: "home", VMID: 113, Name: "kali-lab", Node: "pve2", Type: "qemu", Status: "stopped", Tags: []string{"lab"}},
		{Cluster: "home", VMID: 120, Name: "wecom-bot", Node: "pve2", Type: "lxc", Status: "running", Tags: []string{"lab", "infra"}},
		{Cluster: "home", VMID: 9000, Name: "ubuntu-tmpl", Node: "pve1", Type: "qemu", Status: "stopped", Template: true, Tags: []string{"lab"}},
	}
	for _, lang := range []string{"zh", "en"} {
		cfg := config.Default()
		cfg.Language = lang
		cfg.PVE.Clusters = []config.Cluster{{Name: "home", Protected: []string{"tag:infra"}, ProtectedSel: mustList(t, "tag:infra"), BotGuest: "wecom-bot"}}
		cfg.Users = []config.User{{ID: "boss", Role: "admin"}, {ID: "op", Role: "operator"}}
		st, err := store.Open(t.TempDir(), store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		d := New(cfg, Options{Fleet: &cardFleet{guests: guests, orders: map[int]int{104: 1, 106: 2, 105: 3}}, Store: st})
		for _, tc := range []struct{ name, user, text string }{
			{"node_reboot_impact", "boss", "node reboot pve2"},
			{"bulk_shutdown", "op", "vm shutdown tag:lab"},
		} {
			reps := d.Handle(context.Background(), chat.Message{ID: tc.name + lang, User: tc.user, Kind: chat.KindText, Text: tc.text})
			if len(reps) != 1 || reps[0].Kind != chat.ReplyConfirm {
				t.Fatalf("%s %s: replies %+v, want one confirmation card", lang, tc.name, reps)
			}
			golden(t, filepath.Join("testdata", tc.name+"."+lang+".golden"), cardText(reps[0]))
		}
		st.Close()
	}
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s:\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func mustList(t *testing.T, entries ...string) selector.List {
	t.Helper()
	l, err := selector.ParseList(entries)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
