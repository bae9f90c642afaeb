package pve

import (
	"net/url"
	"strings"
	"testing"
)

// decodeWebState reads a fragment the way the PVE web UI's StateProvider.decodeHToken
// does: "v1", then one value per state key, "=" marking a URI-encoded string and a bare
// number a dictionary entry.
func decodeWebState(t *testing.T, frag string) map[string]string {
	t.Helper()
	keys := []string{"view", "rid", "ltab", "nodetab", "storagetab", "sdntab", "pooltab", "kvmtab", "lxctab", "dctab"}
	dict := map[string]string{"0": "server", "4": "tasks"}
	items := strings.Split(strings.TrimPrefix(frag, "#"), ":")
	if items[0] != "v1" || len(items) != len(keys)+1 {
		t.Fatalf("fragment %q: want v1 and %d values", frag, len(keys))
	}
	state := map[string]string{}
	for i, k := range keys {
		v := items[i+1]
		if strings.HasPrefix(v, "=") {
			s, err := url.PathUnescape(v[1:])
			if err != nil {
				t.Fatalf("fragment %q: %v", frag, err)
			}
			v = s
		} else if w, ok := dict[v]; ok {
			v = w
		}
		state[k] = v
	}
	return state
}

func TestWebURLs(t *testing.T) {
	specs := []clusterSpec{
		{Name: "home", BaseURL: "https://10.0.0.2:8006", TokenID: "chatbot@pve!bot", TokenSecret: testSecret},
		{Name: "lab", BaseURL: "https://10.0.0.3:8006", WebURL: "https://pve.lab.example/", TokenID: "chatbot@pve!bot", TokenSecret: testSecret},
	}
	f, err := newFleet(specs, testOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		got     string
		base    string
		wantRID string
	}{
		{"vm, default base_url", f.GuestWebURL(Guest{Cluster: "home", VMID: 101, Type: "qemu"}), "https://10.0.0.2:8006/", "qemu/101"},
		{"container, web_url", f.GuestWebURL(Guest{Cluster: "LAB", VMID: 103, Type: "lxc"}), "https://pve.lab.example/", "lxc/103"},
		{"node", f.NodeWebURL("home", "pve2"), "https://10.0.0.2:8006/", "node/pve2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, frag, ok := strings.Cut(tt.got, "#")
			if !ok || base != tt.base {
				t.Fatalf("url = %q, want %s#v1:…", tt.got, tt.base)
			}
			st := decodeWebState(t, "#"+frag)
			if st["view"] != "server" || st["rid"] != tt.wantRID || st["ltab"] != "tasks" {
				t.Errorf("url %q selects %v, want the server view on %s", tt.got, st, tt.wantRID)
			}
		})
	}
	if got := f.GuestWebURL(Guest{Cluster: "home", VMID: 101, Type: "qemu"}); got != "https://10.0.0.2:8006/#v1:0:=qemu%2F101:4:::::::" {
		t.Errorf("vm url = %q, want the form the PVE UI itself writes", got)
	}
	if got := f.GuestWebURL(Guest{Cluster: "gone", VMID: 101}); got != "" {
		t.Errorf("unknown cluster: url = %q, want none", got)
	}
	if got := f.NodeWebURL("home", ""); got != "" {
		t.Errorf("no node: url = %q, want none", got)
	}
}
