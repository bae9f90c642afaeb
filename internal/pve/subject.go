package pve

import "github.com/wecom-home-ops/wecom-home-ops/internal/selector"

// Subject is what guest selectors (protected, scope, alert rules) look at. Its Tags are
// the guest's own (read-only, see Guest.Tags): a scope check of 10,000 guests copies none.
func (g Guest) Subject() selector.Subject {
	return selector.Subject{Cluster: g.Cluster, VMID: g.VMID, Name: g.Name, Node: g.Node, Pool: g.Pool, PoolUnknown: g.PoolUnknown, Tags: g.Tags}
}
