package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"net/http"
	"strings"
	"testing"

	"github.com/wecom-home-ops/wecom-home-ops/internal/console"
)

// The demo draws graphs of the simulated guests and nodes; the console shows the picture
// before its reading.
func TestDemoShowsGraphs(t *testing.T) {
	d := runDemo(t, "zh", nil)
	c := newConsoleClient(t, d.App.Addr())
	for _, cmd := range []string{"图表 102", "节点图表 pve1 周"} {
		c.send(demoViewer, cmd)
	}
	pics := 0
	c.waitFor(demoViewer, "two pictures and readings", func(console.Entry) bool {
		pics = 0
		readings := 0
		for _, e := range c.seen[demoViewer] {
			switch {
			case e.Card != nil && e.Card.Form == "image":
				pics++
			case e.From == "bot" && strings.Contains(cardText(e), "CPU"):
				readings++
			}
		}
		return pics == 2 && readings == 2
	})
	for _, e := range c.seen[demoViewer] {
		if e.Card == nil || e.Card.Form != "image" {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(e.Card.Image, "data:image/png;base64,"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
			t.Fatalf("the console's picture is not a PNG: %v", err)
		}
	}
	if n := d.PVE.Count("GET", "/nodes/pve1/rrddata"); n != 1 {
		t.Errorf("node history requests = %d, want 1", n)
	}
}

// The demo's morning report carries its chart: the picture, then the text, in the group pane.
func TestDemoReportChart(t *testing.T) {
	d := runDemo(t, "zh", nil)
	c := newConsoleClient(t, d.App.Addr())
	b, _ := json.Marshal(map[string]string{"id": "report"})
	resp, err := http.Post(c.base+"/api/action", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	group := console.GroupPrefix + demoGroup
	c.waitFor(group, "the morning report", func(e console.Entry) bool {
		return e.Card != nil && strings.Contains(strings.Join(e.Card.Lines, "\n"), "**集群概览**")
	})
	var forms []string
	for _, e := range c.seen[group] {
		forms = append(forms, e.Card.Form)
	}
	if len(forms) < 2 || !strings.Contains(strings.Join(forms, ","), "image") {
		t.Errorf("group pane = %v, want the chart with the report", forms)
	}
}
