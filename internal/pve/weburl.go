package pve

import (
	"net/url"
	"strconv"
	"strings"
)

// The PVE web UI keeps its place in the URL fragment (www/manager6/StateProvider.js in
// pve-manager): "v1", then the values of view, rid, ltab and seven per-type tabs, each as a
// number from a fixed dictionary (server = 0, tasks = 4), as "=" plus the URI-encoded
// string, or empty for the default. rid is the resource tree id: qemu/101, lxc/103,
// node/pve1. So #v1:0:=qemu%2F101:4::::::: opens VM 101 in the server view.
const webStateTail = ":4:::::::"

// webState returns the fragment that selects the resource tree item rid.
func webState(rid string) string {
	return "#v1:0:=" + url.PathEscape(rid) + webStateTail
}

// guestURL is the page of a guest in the web UI at base (no trailing slash).
func guestURL(base string, g Guest) string {
	if base == "" || g.VMID <= 0 {
		return ""
	}
	typ := "qemu"
	if g.Type == "lxc" {
		typ = "lxc"
	}
	return base + "/" + webState(typ+"/"+strconv.Itoa(g.VMID))
}

// nodeURL is the page of a node in the web UI at base.
func nodeURL(base, node string) string {
	if base == "" || node == "" {
		return ""
	}
	return base + "/" + webState("node/"+node)
}

// GuestWebURL returns the PVE web UI page of g (pve.clusters[].web_url, default base_url),
// or "" when g's cluster is not configured.
func (f *Fleet) GuestWebURL(g Guest) string {
	c, ok := f.Client(g.Cluster)
	if !ok {
		return ""
	}
	return guestURL(c.webURL, g)
}

// NodeWebURL returns the PVE web UI page of node in cluster, or "" when the cluster is
// not configured.
func (f *Fleet) NodeWebURL(cluster, node string) string {
	c, ok := f.Client(cluster)
	if !ok {
		return ""
	}
	return nodeURL(c.webURL, strings.TrimSpace(node))
}
