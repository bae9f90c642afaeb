package pve

import (
	"slices"

	"github.com/wecom-home-ops/wecom-home-ops/internal/selector"
)

// Subject is what guest selectors (protected, scope, alert rules) look at.
func (g Guest) Subject() selector.Subject {
	return selector.Subject{Cluster: g.Cluster, VMID: g.VMID, Name: g.Name, Node: g.Node, Pool: g.Pool, PoolUnknown: g.PoolUnknown, Tags: slices.Clone(g.Tags)}
}
