package selector

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseCanonical(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"101", "101"},
		{" 101 ", "101"},
		{"0101", "101"},
		{"100-199", "100-199"},
		{"100 - 199", "100-199"},
		{"150-150", "150"},
		{"*", "*"},
		{"name:homeassistant", "name:homeassistant"},
		{"Name:HomeAssistant", "name:homeassistant"},
		{"name: nas ", "name:nas"},
		{"tag:lab", "tag:lab"},
		{"TAG:Lab", "tag:lab"},
		{"pool:media", "pool:media"},
		{"node:pve2", "node:pve2"},
		{"home/101", "home/101"},
		{"home/100-199", "home/100-199"},
		{"home/name:nas", "home/name:nas"},
		{"home/tag:lab", "home/tag:lab"},
		{"home/pool:media", "home/pool:media"},
		{"home/node:pve2", "home/node:pve2"},
		{"home/*", "home/*"},
		{"Home / *", "home/*"},
		{"lab_2-b/101", "lab_2-b/101"},
		{"999999999", "999999999"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q) error: %v", tt.in, err)
			}
			if got := s.String(); got != tt.want {
				t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
			}
			again, err := Parse(s.String())
			if err != nil {
				t.Fatalf("Parse(%q) (round trip) error: %v", s.String(), err)
			}
			if again != s {
				t.Errorf("round trip of %q: got %#v, want %#v", tt.in, again, s)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in, wantMsg string
	}{
		{"foo:bar", `selector "foo:bar": unknown form; use 101, 100-199, name:, tag:, pool:, node: or cluster/...`},
		{"foo", `selector "foo": unknown form`},
		{"", `selector "": empty selector`},
		{"   ", `selector "": empty selector`},
		{"199-100", `selector "199-100": reversed range; write 100-199`},
		{"100-", `unknown form`},
		{"-100", `unknown form`},
		{"1-2-3", `unknown form`},
		{"0", `VMID out of range`},
		{"1000000000", `VMID out of range`},
		{"0-5", `VMID out of range`},
		{"+101", `unknown form`},
		{"101.5", `unknown form`},
		{"name:", `empty name`},
		{"tag: ", `empty tag`},
		{"name:home*", `no wildcards`},
		{"tag:la?", `no wildcards`},
		{"name:a b", `without spaces`},
		{"tag:a;b", `without spaces`},
		{"tag:a,b", `without spaces`},
		{"name:a/b", `unknown form`},
		{"home/", `nothing after the cluster`},
		{"/101", `empty cluster`},
		{"ho me/101", `cluster name must be`},
		{"home/foo", `unknown form`},
		{"home/other/101", `unknown form`},
		{"vmid:101", `unknown form`},
		{"**", `unknown form`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = nil error, want one containing %q", tt.in, tt.wantMsg)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.in, err, tt.wantMsg)
			}
			var se *Error
			if !errors.As(err, &se) {
				t.Errorf("Parse(%q) error type %T, want *Error", tt.in, err)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	ha := Subject{Cluster: "home", VMID: 101, Name: "HomeAssistant", Node: "pve1", Pool: "Media", Tags: []string{"lab", "Infra"}}
	bare := Subject{VMID: 250}
	tests := []struct {
		sel  string
		g    Subject
		want bool
	}{
		{"*", ha, true},
		{"*", bare, true},
		{"101", ha, true},
		{"102", ha, false},
		{"100-199", ha, true},
		{"101-101", ha, true},
		{"102-199", ha, false},
		{"1-100", ha, false},
		{"name:homeassistant", ha, true},
		{"name:HOMEASSISTANT", ha, true},
		{"name:home", ha, false}, // exact, no prefix match
		{"tag:lab", ha, true},
		{"tag:infra", ha, true},
		{"tag:la", ha, false},
		{"pool:media", ha, true},
		{"pool:med", ha, false},
		{"node:pve1", ha, true},
		{"node:pve2", ha, false},
		{"home/101", ha, true},
		{"HOME/101", ha, true},
		{"work/101", ha, false},
		{"home/*", ha, true},
		{"work/*", ha, false},
		{"home/name:homeassistant", ha, true},
		{"work/name:homeassistant", ha, false},
		{"home/*", bare, false}, // unknown cluster never matches a prefix
		{"250", bare, true},
		{"name:x", bare, false},
		{"pool:x", Subject{Pool: ""}, false},
		{"tag:x", Subject{Tags: nil}, false},
	}
	for _, tt := range tests {
		t.Run(tt.sel+"/"+tt.g.Name, func(t *testing.T) {
			s, err := Parse(tt.sel)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.sel, err)
			}
			if got := s.Match(tt.g); got != tt.want {
				t.Errorf("Parse(%q).Match(%+v) = %v, want %v", tt.sel, tt.g, got, tt.want)
			}
		})
	}
}

func TestCluster(t *testing.T) {
	for in, want := range map[string]string{"101": "", "Home/101": "home", "lab/*": "lab", "*": ""} {
		s, err := Parse(in)
		if err != nil {
			t.Fatalf("Parse(%q): %v", in, err)
		}
		if got := s.Cluster(); got != want {
			t.Errorf("Parse(%q).Cluster() = %q, want %q", in, got, want)
		}
	}
}

func TestParseList(t *testing.T) {
	l, err := ParseList([]string{" 100-199", "pool:Media", "home/*"})
	if err != nil {
		t.Fatalf("ParseList: %v", err)
	}
	if got, want := l.Strings(), []string{"100-199", "pool:media", "home/*"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Strings() = %q, want %q", got, want)
	}

	_, err = ParseList([]string{"101", "tag:lab", "foo:bar", "bad"})
	if err == nil {
		t.Fatal("ParseList with a bad entry: nil error")
	}
	var le *ListError
	if !errors.As(err, &le) {
		t.Fatalf("error type %T, want *ListError", err)
	}
	if got, want := le.Index, 2; got != want {
		t.Errorf("ListError.Index = %d, want %d", got, want)
	}
	if got, want := err.Error(), `entry 2: selector "foo:bar": unknown form`; !strings.HasPrefix(got, want) {
		t.Errorf("error = %q, want prefix %q", got, want)
	}
	var se *Error
	if !errors.As(err, &se) || se.Entry != "foo:bar" {
		t.Errorf("errors.As(*Error) = %v, entry %+v; want entry foo:bar", se != nil, se)
	}

	empty, err := ParseList(nil)
	if err != nil || empty != nil {
		t.Errorf("ParseList(nil) = %v, %v; want nil, nil", empty, err)
	}
	if empty.Strings() != nil {
		t.Errorf("nil List Strings() = %q, want nil", empty.Strings())
	}
}

func TestListMatch(t *testing.T) {
	l, err := ParseList([]string{"100-199", "pool:media", "tag:lab", "node:pve2", "work/*"})
	if err != nil {
		t.Fatalf("ParseList: %v", err)
	}
	tests := []struct {
		name string
		g    Subject
		want bool
	}{
		{"in range", Subject{Cluster: "home", VMID: 150}, true},
		{"by pool", Subject{Cluster: "home", VMID: 300, Pool: "media"}, true},
		{"by tag", Subject{Cluster: "home", VMID: 300, Tags: []string{"x", "lab"}}, true},
		{"by node", Subject{Cluster: "home", VMID: 300, Node: "PVE2"}, true},
		{"by cluster", Subject{Cluster: "work", VMID: 300}, true},
		{"none", Subject{Cluster: "home", VMID: 300, Node: "pve1", Pool: "x", Tags: []string{"prod"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := l.Match(tt.g); got != tt.want {
				t.Errorf("Match(%+v) = %v, want %v", tt.g, got, tt.want)
			}
		})
	}
	var empty List
	if empty.Match(Subject{VMID: 101}) {
		t.Error("empty List matched, want false")
	}
}

func TestSplitTags(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"lab", []string{"lab"}},
		{"lab;media", []string{"lab", "media"}},
		{"lab; media;", []string{"lab", "media"}},
		{"a,b c", []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := SplitTags(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("SplitTags(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"101", "100-199", "name:x", "home/tag:lab", "*", "home/*", "a/b/c", "1-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse(in)
		if err != nil {
			return
		}
		again, err := Parse(s.String())
		if err != nil {
			t.Fatalf("Parse(%q) ok but its String %q does not parse: %v", in, s.String(), err)
		}
		if again != s {
			t.Fatalf("round trip of %q: %#v != %#v", in, again, s)
		}
	})
}

// BenchmarkListMatch measures one scope check of a typical five-entry list
// (done for every guest of a 300-guest listing).
func BenchmarkListMatch(b *testing.B) {
	l, err := ParseList([]string{"100-199", "pool:media", "tag:lab", "node:pve2", "home/name:jellyfin"})
	if err != nil {
		b.Fatal(err)
	}
	g := Subject{Cluster: "home", VMID: 250, Name: "jellyfin", Node: "pve1", Pool: "apps", Tags: []string{"prod", "web"}}
	b.ReportAllocs()
	for b.Loop() {
		if !l.Match(g) {
			b.Fatal("no match")
		}
	}
}
