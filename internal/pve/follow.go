package pve

// Reading the cluster's quorum and following what a node power action or an HA migration
// does after PVE answered: neither has a task that ends when the change is done
// (docs/pve-features.md §5.1, §6.3), so the bot polls the node list or the guest list.

import (
	"context"
	"strings"
)

// ClusterStatus is what /cluster/status says about quorum and membership.
type ClusterStatus struct {
	Quorate bool
	Nodes   []ClusterMember // every configured node, online or not
}

// ClusterMember is one node entry of /cluster/status.
type ClusterMember struct {
	Name   string
	Online bool
	Local  bool // the node that answered: the bot's way into the cluster
}

// KeepsQuorumWithout reports whether the cluster stays quorate once node leaves. PVE's
// /cluster/status carries no vote counts, so every node counts one vote (corosync's
// default, quorum_votes: 1): quorum is more than half of the configured nodes. A node alone
// (no cluster) never "keeps quorum": with it everything goes.
func (s ClusterStatus) KeepsQuorumWithout(node string) bool {
	online := 0
	for _, n := range s.Nodes {
		if n.Online && !strings.EqualFold(n.Name, node) {
			online++
		}
	}
	return online > len(s.Nodes)/2
}

// ClusterStatus reads GET /cluster/status (Sys.Audit on /).
func (c *Client) ClusterStatus(ctx context.Context) (ClusterStatus, error) {
	const op = "cluster status"
	body, err := c.get(ctx, "/cluster/status", nil, op)
	if err != nil {
		return ClusterStatus{}, err
	}
	type entry struct {
		Type    flexStr `json:"type"`
		Name    flexStr `json:"name"`
		Online  flexNum `json:"online"`
		Quorate flexNum `json:"quorate"`
		Local   flexNum `json:"local"`
	}
	items, _, err := decodeList[entry](body)
	if err != nil {
		return ClusterStatus{}, c.decodeErr(op, err)
	}
	out := ClusterStatus{Quorate: true} // a node without a cluster has no "cluster" entry
	for _, e := range items {
		switch e.Type {
		case "cluster":
			out.Quorate = e.Quorate.bool()
		case "node":
			out.Nodes = append(out.Nodes, ClusterMember{Name: string(e.Name), Online: e.Online.bool(), Local: e.Local.bool()})
		}
	}
	return out, nil
}

// WaitNode polls the node list every PollInterval until node's status is "online" (online
// true) or anything else (false), or ctx ends. A failed read is retried: a node going down
// may take the API with it for a moment.
func (c *Client) WaitNode(ctx context.Context, node string, online bool) error {
	for {
		if nodes, err := c.Nodes(ctx); err == nil {
			for _, n := range nodes {
				if n.Name == node && (n.Status == "online") == online {
					return nil
				}
			}
		}
		if err := sleepCtx(ctx, c.o.PollInterval); err != nil {
			return err
		}
	}
}

// WaitGuestOn polls the guest list every PollInterval until g is listed on node, or ctx
// ends: how an HA migration, whose hamigrate task only queues the move, is seen to be done.
func (c *Client) WaitGuestOn(ctx context.Context, g Guest, node string) (Guest, error) {
	for {
		c.InvalidateGuests()
		if gs, err := c.Guests(ctx); err == nil {
			for _, x := range gs {
				if x.VMID == g.VMID && x.Node == node {
					return x, nil
				}
			}
		}
		if err := sleepCtx(ctx, c.o.PollInterval); err != nil {
			return Guest{}, err
		}
	}
}

// ClusterStatus reads the quorum of one cluster (see Client.ClusterStatus).
func (f *Fleet) ClusterStatus(ctx context.Context, cluster string) (ClusterStatus, error) {
	c, err := f.clientNamed(cluster, "cluster status")
	if err != nil {
		return ClusterStatus{}, err
	}
	return c.ClusterStatus(ctx)
}

// WaitNode follows a node of a cluster to online or offline (see Client.WaitNode).
func (f *Fleet) WaitNode(ctx context.Context, cluster, node string, online bool) error {
	c, err := f.clientNamed(cluster, "wait for node")
	if err != nil {
		return err
	}
	return c.WaitNode(ctx, node, online)
}

// WaitGuestOn follows g until it is listed on node (see Client.WaitGuestOn).
func (f *Fleet) WaitGuestOn(ctx context.Context, g Guest, node string) (Guest, error) {
	c, err := f.clientFor(g, "wait for migration")
	if err != nil {
		return Guest{}, err
	}
	return c.WaitGuestOn(ctx, g, node)
}
