package platform

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// A tiny SVG plotter for the pages: scatter plots over time and strip
// plots of distributions. Output is inline SVG with presentation
// attributes only (no style attributes, no script), every text escaped.

const (
	plotW, plotH               = 640, 260
	padL, padR, padT, padB     = 64, 16, 28, 44
	innerW, innerH             = plotW - padL - padR, plotH - padT - padB
	dotColor, axisColor, color = "#1f6feb", "#555", "#d1242f"
)

// point is one mark: x (seconds or index), y, a label for its tooltip.
type point struct {
	X, Y  float64
	Label string
	Hi    bool // highlighted (e.g. on the leaderboard)
}

// finiteRange returns the min and max of the finite ys and how many were
// not finite.
func finiteRange(ys []float64) (lo, hi float64, skipped int) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, y := range ys {
		if math.IsNaN(y) || math.IsInf(y, 0) {
			skipped++
			continue
		}
		lo, hi = min(lo, y), max(hi, y)
	}
	if lo > hi {
		return 0, 1, skipped
	}
	if lo == hi {
		d := math.Max(math.Abs(lo)*0.05, 0.5)
		lo, hi = lo-d, hi+d
	}
	return lo, hi, skipped
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

type svg struct{ b strings.Builder }

func (s *svg) f(format string, args ...any) { fmt.Fprintf(&s.b, format, args...) }

func (s *svg) text(x, y float64, anchor, txt string, size int) {
	s.f(`<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%d" fill="%s">%s</text>`, x, y, anchor, size, axisColor, html.EscapeString(txt))
}

// frame draws the axes with y ticks and the title; it returns y → pixel.
func (s *svg) frame(title, ylabel string, lo, hi float64) func(float64) float64 {
	s.f(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" class="plot">`,
		plotW, plotH, plotW, plotH, html.EscapeString(title))
	s.f(`<title>%s</title>`, html.EscapeString(title))
	s.f(`<rect x="0" y="0" width="%d" height="%d" fill="#fff"/>`, plotW, plotH)
	s.text(plotW/2, 18, "middle", title, 14)
	y := func(v float64) float64 { return padT + innerH - (v-lo)/(hi-lo)*innerH }
	s.f(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`, padL, padT, padL, padT+innerH, axisColor)
	s.f(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s"/>`, padL, padT+innerH, padL+innerW, padT+innerH, axisColor)
	for i := 0; i <= 4; i++ {
		v := lo + (hi-lo)*float64(i)/4
		py := y(v)
		s.f(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#eee"/>`, padL+1, py, padL+innerW, py)
		s.text(padL-6, py+4, "end", num(v), 11)
	}
	s.f(`<text x="14" y="%d" text-anchor="middle" font-size="12" fill="%s" transform="rotate(-90 14 %d)">%s</text>`,
		padT+innerH/2, axisColor, padT+innerH/2, html.EscapeString(ylabel))
	return y
}

func (s *svg) done(note string) template.HTML {
	if note != "" {
		s.text(plotW-padR, plotH-6, "end", note, 11)
	}
	s.f(`</svg>`)
	return template.HTML(s.b.String())
}

func skippedNote(n int) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d infinite value(s) (a perfect PSNR) not drawn", n)
}

// timePlot plots pts with X as Unix seconds.
func timePlot(title, ylabel string, pts []point) template.HTML {
	var s svg
	ys := make([]float64, len(pts))
	xlo, xhi := math.Inf(1), math.Inf(-1)
	for i, p := range pts {
		ys[i] = p.Y
		xlo, xhi = min(xlo, p.X), max(xhi, p.X)
	}
	lo, hi, skipped := finiteRange(ys)
	y := s.frame(title, ylabel, lo, hi)
	if len(pts) == 0 {
		return s.done("no scored submissions yet")
	}
	if xlo == xhi {
		xlo, xhi = xlo-3600, xhi+3600
	}
	x := func(v float64) float64 { return padL + 8 + (v-xlo)/(xhi-xlo)*(innerW-16) }
	for i, v := range []float64{xlo, xhi} {
		s.text(x(v), padT+innerH+16, []string{"start", "end"}[i], time.Unix(int64(v), 0).UTC().Format("2006-01-02 15:04"), 11)
	}
	s.text(padL+innerW/2, plotH-6, "middle", "submitted (UTC)", 11)
	for _, p := range pts {
		if math.IsNaN(p.Y) || math.IsInf(p.Y, 0) {
			continue
		}
		r, fill := 4, dotColor
		if p.Hi {
			r, fill = 6, color
		}
		s.f(`<circle cx="%.1f" cy="%.1f" r="%d" fill="%s" fill-opacity="0.8"><title>%s</title></circle>`, x(p.X), y(p.Y), r, fill, html.EscapeString(p.Label))
	}
	return s.done(skippedNote(skipped))
}

// group is one column of a strip plot.
type group struct {
	Name   string
	Values []float64
	Labels []string
}

// stripPlot draws each group's values as dots in a column, with the mean
// as a bar.
func stripPlot(title, ylabel string, groups []group) template.HTML {
	var s svg
	var all []float64
	for _, g := range groups {
		all = append(all, g.Values...)
	}
	lo, hi, skipped := finiteRange(all)
	y := s.frame(title, ylabel, lo, hi)
	if len(groups) == 0 {
		return s.done("nothing to show yet")
	}
	colW := float64(innerW) / float64(len(groups))
	for i, g := range groups {
		cx := padL + colW*(float64(i)+0.5)
		name := g.Name
		if len(name) > 14 {
			name = name[:13] + "…"
		}
		s.text(cx, padT+innerH+16, "middle", name, 11)
		sum, n := 0.0, 0
		for j, v := range g.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			sum += v
			n++
			jitter := (float64((j*7919)%17)/16 - 0.5) * math.Min(colW*0.5, 40)
			label := ""
			if j < len(g.Labels) {
				label = g.Labels[j]
			}
			s.f(`<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s" fill-opacity="0.6"><title>%s</title></circle>`, cx+jitter, y(v), dotColor, html.EscapeString(label+": "+num(v)))
		}
		if n > 0 {
			m := sum / float64(n)
			half := math.Min(colW*0.35, 30)
			s.f(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"><title>mean %s</title></line>`, cx-half, y(m), cx+half, y(m), color, num(m))
		}
	}
	return s.done(skippedNote(skipped))
}
