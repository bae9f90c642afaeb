package report

import (
	"context"
	"errors"
	"strings"

	"github.com/wecom-home-ops/wecom-home-ops/internal/graph"
	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
)

// History is the node history a summary chart is drawn from; *pve.Fleet implements it.
type History interface {
	NodeRRD(ctx context.Context, n pve.Node, tf pve.Timeframe, cf pve.CF) (pve.RRD, error)
}

// Chart draws the summary's picture: the CPU and memory of all nodes of d together over
// the last day (one rrddata call per node). A node whose history cannot be read is left
// out; with none readable, the error of the first.
func Chart(ctx context.Context, h History, d Data) ([]byte, error) {
	var srcs []graph.Source
	var first error
	clusters := map[string]bool{}
	var names []string
	for _, n := range sortNodes(d.Nodes) {
		rrd, err := h.NodeRRD(ctx, n, pve.TimeframeDay, pve.CFAverage)
		if err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		if len(rrd.Points) == 0 {
			continue
		}
		srcs = append(srcs, rrd)
		if !clusters[n.Cluster] {
			clusters[n.Cluster] = true
			names = append(names, n.Cluster)
		}
	}
	if len(srcs) == 0 {
		if first == nil {
			first = errors.New("report: chart: no node history")
		}
		return nil, first
	}
	title := graph.Title(strings.Join(names, ", "), srcs[0].Times(), d.Loc)
	return graph.Render(graph.Summary(title, srcs, d.Loc))
}
