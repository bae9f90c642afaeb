package report

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"testing"
	"time"

	"github.com/wecom-home-ops/wecom-home-ops/internal/pve"
)

type fakeHistory map[string]pve.RRD

func (f fakeHistory) NodeRRD(_ context.Context, n pve.Node, tf pve.Timeframe, _ pve.CF) (pve.RRD, error) {
	if tf != pve.TimeframeDay {
		return pve.RRD{}, errors.New("want day")
	}
	r, ok := f[n.Name]
	if !ok {
		return pve.RRD{}, &pve.Error{Kind: pve.KindPermission, Op: "history"}
	}
	return r, nil
}

func dayOf(cpu float64) pve.RRD {
	end := time.Date(2026, 5, 1, 1, 0, 0, 0, time.UTC)
	var r pve.RRD
	for i := range 48 {
		r.Points = append(r.Points, pve.RRDPoint{Time: end.Add(-time.Duration(47-i) * 30 * time.Minute),
			Values: map[string]float64{"cpu": cpu, "maxcpu": 4, "memused": 8 << 30, "memtotal": 16 << 30}})
	}
	return r
}

func TestChart(t *testing.T) {
	d := Data{Loc: time.UTC, Nodes: []pve.Node{{Cluster: "home", Name: "pve1"}, {Cluster: "home", Name: "pve2"}}}
	b, err := Chart(context.Background(), fakeHistory{"pve1": dayOf(0.2), "pve2": dayOf(0.4)}, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(b)); err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	// One node unreadable: the chart shows the other; none readable: the error.
	if _, err := Chart(context.Background(), fakeHistory{"pve1": dayOf(0.2)}, d); err != nil {
		t.Errorf("one node readable: %v", err)
	}
	if _, err := Chart(context.Background(), fakeHistory{}, d); !pve.IsKind(err, pve.KindPermission) {
		t.Errorf("no node readable: %v, want the permission error", err)
	}
}
