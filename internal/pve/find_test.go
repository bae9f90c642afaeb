package pve

import (
	"context"
	"errors"
	"testing"
)

// A number that is no VMID must not fall through to a name containing it: "402" with no
// VMID 402 would otherwise pick web-4021 and power it (reality.md 3.7).
func TestFindDigitsAreVMIDsOnly(t *testing.T) {
	f := testFleet(t, map[string]reply{"home": resources("web-4021", "db-100x", "105")})
	for _, target := range []string{"402", "home/402", "4021", "0", "99999999999999999999"} {
		t.Run(target, func(t *testing.T) {
			g, err := f.Find(context.Background(), target, nil)
			var nf *NotFoundError
			if !errors.As(err, &nf) {
				t.Fatalf("Find(%q) = %s %v, want not found", target, g.Ref(), err)
			}
			if len(nf.Close) > 0 {
				t.Errorf("Find(%q) suggests %v; a VMID has no close names", target, nf.Close)
			}
		})
	}
	// Digits are still a VMID: 100 is web-4021, not db-100x; and a guest named "105" is
	// reached by its VMID (102), while "105" means VMID 105.
	if g, err := f.Find(context.Background(), "100", nil); err != nil || g.Name != "web-4021" {
		t.Errorf("Find(100) = %s %v, want web-4021", g.Label(), err)
	}
	if g, err := f.Find(context.Background(), "0100", nil); err != nil || g.VMID != 100 {
		t.Errorf("Find(0100) = %s %v, want VMID 100", g.Label(), err)
	}
	if _, err := f.Find(context.Background(), "105", nil); !errors.As(err, new(*NotFoundError)) {
		t.Errorf("Find(105) = %v, want not found (no VMID 105)", err)
	}
}

// Hidden guests change no answer: not the match, not an ambiguity, not the close names
// (reality.md 3.3).
func TestFindAmongVisibleOnly(t *testing.T) {
	// 100 truenas, 101 nextcloud, 102 ubuntu-cloud, 103 pihole, 104 pihole-lab
	f := testFleet(t, map[string]reply{"home": resources("truenas", "nextcloud", "ubuntu-cloud", "pihole", "pihole-lab")})
	hidden := map[int]bool{100: true, 101: true, 103: true}
	visible := func(g Guest) bool { return !hidden[g.VMID] }
	tests := []struct {
		target  string
		wantRef string // "" for not found
	}{
		{"truenas", ""}, // exists, hidden: the same answer as a missing guest
		{"truen", ""},
		{"100", ""},
		{"home/100", ""},
		{"zzqq", ""},
		{"cloud", "home/102"},  // a hidden nextcloud does not make it ambiguous
		{"pihole", "home/104"}, // the hidden exact name does not win: pihole-lab by prefix
		{"102", "home/102"},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			g, err := f.Find(context.Background(), tt.target, visible)
			if tt.wantRef != "" {
				if err != nil || g.Ref() != tt.wantRef {
					t.Errorf("got %s %v, want %s", g.Ref(), err, tt.wantRef)
				}
				return
			}
			var nf *NotFoundError
			if !errors.As(err, &nf) {
				t.Fatalf("got %s %v, want not found", g.Ref(), err)
			}
			for _, c := range nf.Close {
				if hidden[c.VMID] {
					t.Errorf("close names list hidden %s", c.Label())
				}
			}
		})
	}
	// Without a filter the same targets answer precisely (admins).
	if g, err := f.Find(context.Background(), "truen", nil); err != nil || g.VMID != 100 {
		t.Errorf("unfiltered Find(truen) = %s %v, want truenas", g.Label(), err)
	}
	var amb *AmbiguousError
	if _, err := f.Find(context.Background(), "cloud", nil); !errors.As(err, &amb) || len(amb.Matches) != 2 {
		t.Errorf("unfiltered Find(cloud) = %v, want ambiguous between two", err)
	}
}

func TestNamedExactly(t *testing.T) {
	g := Guest{Cluster: "home", VMID: 105, Name: "web-4021"}
	tests := []struct {
		target string
		want   bool
	}{
		{"105", true},
		{"home/105", true},
		{"0105", true},
		{"web-4021", true},
		{"WEB-4021", true},
		{" home/web-4021 ", true},
		{"web", false},
		{"4021", false},
		{"home/web-40", false},
		{"eb-4021", false},
	}
	for _, tt := range tests {
		if got := NamedExactly(g, tt.target); got != tt.want {
			t.Errorf("NamedExactly(%s, %q) = %v, want %v", g.Label(), tt.target, got, tt.want)
		}
	}
	if NamedExactly(Guest{VMID: 7}, "") {
		t.Error(`NamedExactly(unnamed, "") = true`)
	}
}
