// Package graph draws resource history as a PNG for a chat message: stacked panels that
// share one time axis (CPU, memory, network, disk; load for a node; usage for a storage),
// and puts the picture into one line of words for the message beside it.
//
// It draws with gonum.org/v1/plot: pure Go (CGO_ENABLED=0 builds stay), kept by the gonum
// project, with aligned multi-panel layouts (plot.Align), time axes in any time zone
// and an embedded Latin font. Every text in the picture is language-neutral (numbers,
// units, times, the resource's name), so no CJK font has to be embedded; the Chinese
// words go in the message (Reading).
package graph

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// Unit says how a panel's values read.
type Unit int

// The units of a panel's values.
const (
	// Percent values are 0..100.
	Percent Unit = iota
	// Bytes are sizes (memory, disk).
	Bytes
	// BytesPerSecond are rates (network, disk IO).
	BytesPerSecond
	// Plain numbers (load average).
	Plain
)

// Kind says what a panel shows, so that Reading can find the panels it speaks of.
type Kind string

// The panel kinds.
const (
	KindCPU     Kind = "cpu"
	KindMemory  Kind = "memory"
	KindNet     Kind = "net"
	KindDisk    Kind = "disk"
	KindLoad    Kind = "load"
	KindStorage Kind = "storage"
)

// Series is one line of a panel. Values has one value per Chart.Times; NaN is unknown
// (PVE knew nothing: node down, guest stopped) and is drawn as a gap, never as zero.
type Series struct {
	Label  string // language-neutral: "in", "out", "used", "max"
	Values []float64
	Dashed bool // a limit (max memory, total size)
}

// Panel is one band of the picture.
type Panel struct {
	Kind   Kind
	Title  string // language-neutral: "CPU %", "Memory", "Net"
	Unit   Unit
	Series []Series
	// YMax fixes the top of the axis (100 for percent); 0 fits the data.
	YMax float64
}

// Chart is one picture: a title, the shared times and the panels top to bottom.
type Chart struct {
	Title  string // language-neutral: the resource's name and the period
	Times  []time.Time
	Panels []Panel
	Loc    *time.Location // the time zone of the axis; nil is UTC
}

// Picture size: about 1000×700 px, legible when a phone shows it at its width.
const (
	dpi    = 100
	width  = 10 * vg.Inch
	height = 7 * vg.Inch
)

var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
	color.RGBA{R: 0xe4, G: 0x57, B: 0x1c, A: 0xff}, // orange
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, // green
	color.RGBA{R: 0x6a, G: 0x3d, B: 0x9a, A: 0xff}, // purple
}

// ErrNoData is returned for a chart with no time or no panel.
var ErrNoData = errors.New("graph: no data to draw")

// Render draws c as a PNG.
func Render(c Chart) ([]byte, error) {
	if len(c.Times) == 0 || len(c.Panels) == 0 {
		return nil, ErrNoData
	}
	loc := c.Loc
	if loc == nil {
		loc = time.UTC
	}
	xmin, xmax := float64(c.Times[0].Unix()), float64(c.Times[len(c.Times)-1].Unix())
	if xmax <= xmin {
		xmax = xmin + 60
	}
	plots := make([][]*plot.Plot, len(c.Panels))
	for i, pn := range c.Panels {
		p, err := panelPlot(pn, c.Times, step(c.Times))
		if err != nil {
			return nil, err
		}
		p.X.Min, p.X.Max = xmin, xmax
		last := i == len(c.Panels)-1
		p.X.Tick.Marker = timeTicks{loc: loc, labels: last}
		plots[i] = []*plot.Plot{p}
	}

	img := vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(dpi))
	dc := draw.New(img)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	titleH := vg.Points(30)
	sty := draw.TextStyle{Color: color.Black, Font: font.From(font.Font{Typeface: "Liberation", Variant: "Sans"}, vg.Points(17)), Handler: plot.DefaultTextHandler}
	dc.FillText(sty, vg.Point{X: vg.Points(12), Y: dc.Max.Y - vg.Points(24)}, c.Title)
	tiles := draw.Tiles{Rows: len(plots), Cols: 1, PadTop: vg.Points(2), PadBottom: vg.Points(4), PadLeft: vg.Points(6), PadRight: vg.Points(14), PadY: vg.Points(4)}
	body := draw.Crop(dc, 0, 0, 0, -titleH)
	canvases := plot.Align(plots, tiles, body)
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	rgba, ok := img.Image().(*image.RGBA)
	if !ok {
		return nil, errors.New("graph: canvas is not RGBA")
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.DefaultCompression}).Encode(&buf, paletted(rgba)); err != nil {
		return nil, fmt.Errorf("graph: encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// paletted turns the picture into 256 colours. A chart has few: white, greys, four line
// colours and their anti-aliased blends. Each colour is rounded to 5 bits a channel and
// the first 256 become the palette; a later one takes its nearest entry. An 8-bit PNG is
// a third of the size of an RGBA one and several times quicker to encode (no filters).
func paletted(src *image.RGBA) *image.Paletted {
	b := src.Bounds()
	dst := image.NewPaletted(b, nil)
	var table [1 << 15]int16
	for i := range table {
		table[i] = -1
	}
	pal := make(color.Palette, 0, 256)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := src.Pix[(y-b.Min.Y)*src.Stride:]
		out := dst.Pix[(y-b.Min.Y)*dst.Stride:]
		for x := 0; x < b.Dx(); x++ {
			r, g, bl := row[4*x], row[4*x+1], row[4*x+2]
			key := int(r>>3)<<10 | int(g>>3)<<5 | int(bl>>3)
			idx := table[key]
			if idx < 0 {
				c := color.RGBA{R: r, G: g, B: bl, A: 0xff}
				if len(pal) < 256 {
					pal = append(pal, c)
					idx = int16(len(pal) - 1)
				} else {
					idx = int16(pal.Index(c))
				}
				table[key] = idx
			}
			out[x] = uint8(idx)
		}
	}
	dst.Palette = pal
	return dst
}

// step is the usual distance between points (the median), so that a longer jump (a
// node that was down and sent nothing at all) is drawn as a gap too.
func step(ts []time.Time) time.Duration {
	if len(ts) < 2 {
		return time.Minute
	}
	ds := make([]time.Duration, 0, len(ts)-1)
	for i := 1; i < len(ts); i++ {
		ds = append(ds, ts[i].Sub(ts[i-1]))
	}
	// insertion-free median: a sample of at most 64 steps is enough
	if len(ds) > 64 {
		k := len(ds) / 64
		s := ds[:0:0]
		for i := 0; i < len(ds); i += k {
			s = append(s, ds[i])
		}
		ds = s
	}
	for i := 1; i < len(ds); i++ {
		for j := i; j > 0 && ds[j] < ds[j-1]; j-- {
			ds[j], ds[j-1] = ds[j-1], ds[j]
		}
	}
	return ds[len(ds)/2]
}

func panelPlot(pn Panel, times []time.Time, st time.Duration) (*plot.Plot, error) {
	p := plot.New()
	p.BackgroundColor = color.Transparent
	p.Title.Text = pn.Title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Title.TextStyle.XAlign = draw.XLeft
	p.Title.Padding = vg.Points(2)
	p.X.Tick.Label.Font.Size = vg.Points(12)
	p.Y.Tick.Label.Font.Size = vg.Points(12)
	p.Legend.TextStyle.Font.Size = vg.Points(12)
	for _, f := range []*font.Font{&p.Title.TextStyle.Font, &p.X.Tick.Label.Font, &p.Y.Tick.Label.Font, &p.Legend.TextStyle.Font} {
		f.Variant = "Sans"
	}
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.ThumbnailWidth = vg.Points(18)
	p.Y.Tick.Marker = unitTicks{unit: pn.Unit}
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 225}
	grid.Horizontal.Color = color.Gray{Y: 225}
	p.Add(grid)
	p.Y.Min = 0
	ymax := 0.0
	for si, s := range pn.Series {
		col := palette[si%len(palette)]
		if s.Dashed {
			col = color.Gray{Y: 110}
		}
		var legendLine *plotter.Line
		for _, seg := range segments(times, s.Values, st) {
			l, err := plotter.NewLine(seg)
			if err != nil {
				return nil, fmt.Errorf("graph: panel %s: %w", pn.Title, err)
			}
			l.Color = col
			l.Width = vg.Points(1.6)
			if s.Dashed {
				l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
				l.Width = vg.Points(1.2)
			}
			p.Add(bareLine{l})
			legendLine = l
			for _, xy := range seg {
				ymax = math.Max(ymax, xy.Y)
			}
		}
		if s.Label != "" && legendLine != nil && len(pn.Series) > 1 {
			p.Legend.Add(s.Label, legendLine)
		}
	}
	switch {
	case pn.YMax > 0:
		p.Y.Max = math.Max(pn.YMax, ymax)
	case ymax > 0:
		p.Y.Max = ymax * 1.15
	default:
		p.Y.Max = 1
	}
	return p, nil
}

// segments splits a series at unknown values and at jumps in time, so that a gap is drawn
// as a gap. A lone known point becomes a short dash.
func segments(times []time.Time, vals []float64, st time.Duration) []plotter.XYs {
	var out []plotter.XYs
	var cur plotter.XYs
	flush := func() {
		if len(cur) == 1 {
			cur = append(cur, plotter.XY{X: cur[0].X + st.Seconds()/2, Y: cur[0].Y})
		}
		if len(cur) > 0 {
			out = append(out, cur)
		}
		cur = nil
	}
	for i, t := range times {
		if i >= len(vals) {
			break
		}
		v := vals[i]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			flush()
			continue
		}
		if len(cur) > 0 && i > 0 && jump(times, i, st) {
			flush()
		}
		cur = append(cur, plotter.XY{X: float64(t.Unix()), Y: v})
	}
	flush()
	return out
}

// bareLine draws a line without offering plot its data range or glyph boxes: the axes
// are fixed by Render, and a glyph box per point (plot pads the axes by them) cost a
// third of the rendering time for no visible change.
type bareLine struct{ l *plotter.Line }

func (b bareLine) Plot(c draw.Canvas, p *plot.Plot) { b.l.Plot(c, p) }

// jump reports whether the time before point i is a gap: longer than twice the step on
// both sides of it (and than the usual step st). PVE 9 joins pre-upgrade history at its
// coarser step into one answer, so a step that changes is not a gap by itself.
func jump(times []time.Time, i int, st time.Duration) bool {
	dt := times[i].Sub(times[i-1])
	local := st
	if i >= 2 {
		local = max(local, times[i-1].Sub(times[i-2]))
	}
	if i+1 < len(times) {
		local = max(local, times[i+1].Sub(times[i]))
	}
	return dt > 2*local
}

// timeTicks puts ticks at round times in loc; only the bottom panel shows their labels.
type timeTicks struct {
	loc    *time.Location
	labels bool
}

func (tt timeTicks) Ticks(min, max float64) []plot.Tick {
	span := time.Duration(max-min) * time.Second
	var every time.Duration
	for _, d := range []time.Duration{10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour,
		2 * time.Hour, 3 * time.Hour, 4 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
		2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 30 * 24 * time.Hour, 61 * 24 * time.Hour} {
		every = d
		if span/d <= 8 {
			break
		}
	}
	start := time.Unix(int64(min), 0).In(tt.loc)
	var t time.Time
	if every >= 24*time.Hour {
		t = time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, tt.loc)
		if every >= 30*24*time.Hour {
			t = time.Date(start.Year(), start.Month(), 1, 0, 0, 0, 0, tt.loc)
		}
	} else {
		_, off := start.Zone()
		shift := time.Duration(off) * time.Second
		t = start.Add(shift).Truncate(every).Add(-shift)
	}
	var out []plot.Tick
	for ; !t.After(time.Unix(int64(max), 0)); t = nextTick(t, every) {
		if t.Unix() < int64(min) {
			continue
		}
		tk := plot.Tick{Value: float64(t.Unix())}
		if tt.labels {
			tk.Label = tickLabel(t, every)
		}
		out = append(out, tk)
	}
	return out
}

// tickLabel is a clock time for ticks within a day, the date at midnight and for daily
// ticks, the month for monthly ones.
func tickLabel(t time.Time, every time.Duration) string {
	switch {
	case every >= 30*24*time.Hour:
		return t.Format("2006-01")
	case every >= 24*time.Hour || t.Hour() == 0 && t.Minute() == 0:
		return t.Format("01-02")
	}
	return t.Format("15:04")
}

// Title is a picture's language-neutral title: the name, and the span of times in loc
// with its offset from UTC ("truenas (101)   12-01 10:00 - 12-02 10:00 UTC+8").
func Title(name string, times []time.Time, loc *time.Location) string {
	if len(times) == 0 {
		return name
	}
	if loc == nil {
		loc = time.UTC
	}
	format := "01-02 15:04"
	if times[len(times)-1].Sub(times[0]) > 40*24*time.Hour {
		format = "2006-01-02"
	}
	a, b := times[0].In(loc), times[len(times)-1].In(loc)
	_, off := b.Zone()
	zone := fmt.Sprintf("UTC%+d", off/3600)
	if off%3600 != 0 {
		zone = fmt.Sprintf("UTC%+03d:%02d", off/3600, abs(off%3600)/60)
	}
	return name + "   " + a.Format(format) + " - " + b.Format(format) + " " + zone
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func nextTick(t time.Time, every time.Duration) time.Time {
	switch {
	case every >= 61*24*time.Hour:
		return t.AddDate(0, 2, 0)
	case every >= 30*24*time.Hour:
		return t.AddDate(0, 1, 0)
	case every >= 24*time.Hour:
		return t.AddDate(0, 0, int(every/(24*time.Hour)))
	}
	return t.Add(every)
}

// unitTicks labels a value axis in its unit.
type unitTicks struct{ unit Unit }

func (u unitTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	if u.unit == Bytes || u.unit == BytesPerSecond {
		ticks = byteTicks(min, max)
	}
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = Format(u.unit, ticks[i].Value)
		}
	}
	return ticks
}

// byteTicks puts about four ticks at round binary values.
func byteTicks(min, max float64) []plot.Tick {
	if max <= min {
		return []plot.Tick{{Value: min, Label: "0"}}
	}
	scale := 1.0
	for max/scale >= 1024 {
		scale *= 1024
	}
	ticks := plot.DefaultTicks{}.Ticks(min/scale, max/scale)
	for i := range ticks {
		ticks[i].Value *= scale
	}
	return ticks
}

// Format writes v in its unit, short and language-neutral: "42%", "3.5G", "120K/s", "1.25".
func Format(u Unit, v float64) string {
	switch u {
	case Percent:
		if v != 0 && math.Abs(v) < 10 && v != math.Trunc(v) {
			return fmt.Sprintf("%.1f%%", v)
		}
		return fmt.Sprintf("%.0f%%", v)
	case Bytes, BytesPerSecond:
		s := binary(v)
		if u == BytesPerSecond {
			s += "/s"
		}
		return s
	}
	if math.Abs(v) < 10 && v != math.Trunc(v) {
		return fmt.Sprintf("%.2g", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func binary(v float64) string {
	units := []string{"B", "K", "M", "G", "T", "P"}
	i := 0
	for math.Abs(v) >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	switch {
	case v == math.Trunc(v) || math.Abs(v) >= 100:
		return fmt.Sprintf("%.0f%s", v, units[i])
	case math.Abs(v) >= 10:
		return fmt.Sprintf("%.0f%s", v, units[i])
	}
	return fmt.Sprintf("%.1f%s", v, units[i])
}
