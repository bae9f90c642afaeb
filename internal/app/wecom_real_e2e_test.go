package app_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wecom-home-ops/wecom-home-ops/internal/app/apptest"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve/pvetest"
)

// WeCom's client clips a card title at about 36 characters. A confirmation for a guest
// with a long name must still show which guest it is for: the name and VMID come first,
// and the title fits.
func TestConfirmCardTitleShowsTheGuest(t *testing.T) {
	env := apptest.NewEnv(t)
	env.PVE.AddGuest(pvetest.Guest{VMID: 200, Name: "k8s-worker-prod-000.lab.example.internal", Node: "pve1",
		Status: "running", MaxCPU: 2, MaxMem: 1 << 30})
	b := startBot(t, env, botOptions{})
	b.text(apptest.Admin, "关机 200")
	card := b.waitSent(1)[0].Card
	if card == nil {
		t.Fatal("no confirmation card")
	}
	title := card.Title
	if !strings.HasPrefix(title, "k8s-worker-prod") || !strings.Contains(title, "(200)") {
		t.Errorf("title = %q, want the guest's name and VMID first", title)
	}
	if n := utf8.RuneCountInString(title); n > 36 {
		t.Errorf("title = %q (%d characters), want at most 36", title, n)
	}
	for _, c := range card.Clipped {
		if c == "title" || c == "sub_title_text" {
			t.Errorf("the client clips the card's %s: %q", c, title)
		}
	}
	if !strings.Contains(card.SubTitle, "k8s-worker-prod-000.lab.example.internal") {
		t.Errorf("sub-title = %q, want the full name in the body", card.SubTitle)
	}
}
