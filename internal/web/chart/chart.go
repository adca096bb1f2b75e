// Package chart draws the console's usage charts as inline SVG, on the
// server. The console's Content-Security-Policy allows no script and no
// inline style, so a chart is markup only: shapes carry CSS classes
// (chart-ok, chart-fail, chart-axis, chart-label, spark-line, …) that
// app.css colours, and the numbers behind a bar are an SVG <title>, which
// browsers show on hover and screen readers read, with no JavaScript.
package chart

import (
	"encoding/xml"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// Day is one bar: a day's counts.
type Day struct {
	Date      time.Time
	Succeeded int64
	Failed    int64
}

// The bar chart's geometry, in viewBox units. app.css lets the SVG shrink
// to its container, so these are proportions more than pixels.
const (
	barsW, barsH = 600, 180
	plotLeft     = 44.0 // room for the y-axis labels
	plotRight    = 596.0
	plotTop      = 10.0
	plotBase     = 156.0 // the zero line; the date labels sit under it
	maxBarW      = 24.0  // a few days of data should not draw slabs
)

// Bars renders a bar chart of days, oldest first, each bar stacking failed
// authentications above successful ones. The y-axis runs from 0 to a round
// number (0, 50, 100) so the scale can be read at a glance.
func Bars(days []Day, title string) template.HTML {
	var ok, failed, peak int64
	for _, d := range days {
		s, f := max(d.Succeeded, 0), max(d.Failed, 0)
		ok, failed, peak = ok+s, failed+f, max(peak, s+f)
	}
	step := niceStep(peak)
	scale := (plotBase - plotTop) / float64(2*step)

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 %d %d" width="%d" height="%d" role="img">`,
		barsW, barsH, barsW, barsH)
	b.WriteString("<title>")
	escape(&b, title)
	b.WriteString("</title><desc>")
	switch len(days) {
	case 0:
		b.WriteString("No authentications recorded.")
	case 1:
		fmt.Fprintf(&b, "%s successful and %s failed authentications on %s", group(ok), group(failed), date(days[0].Date))
	default:
		fmt.Fprintf(&b, "%s successful and %s failed authentications from %s to %s",
			group(ok), group(failed), date(days[0].Date), date(days[len(days)-1].Date))
	}
	b.WriteString("</desc>")

	for _, v := range []int64{step, 2 * step} {
		y := num(plotBase - float64(v)*scale)
		fmt.Fprintf(&b, `<line class="chart-grid" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(plotLeft), y, num(plotRight), y)
	}
	for _, v := range []int64{0, step, 2 * step} {
		fmt.Fprintf(&b, `<text class="chart-label" x="%s" y="%s" text-anchor="end">%s</text>`,
			num(plotLeft-6), num(plotBase-float64(v)*scale+4), group(v))
	}

	slot := (plotRight - plotLeft) / float64(max(len(days), 1))
	barW := min(slot*0.8, maxBarW)
	for i, d := range days {
		s, f := max(d.Succeeded, 0), max(d.Failed, 0)
		x := plotLeft + slot*float64(i) + (slot-barW)/2
		b.WriteString(`<g class="chart-bar"><title>`)
		escape(&b, fmt.Sprintf("%s: %s successful, %s failed", date(d.Date), group(s), group(f)))
		// A column-high target with no paint, so a thin or empty day can
		// still be hovered for its numbers.
		fmt.Fprintf(&b, `</title><rect class="chart-hit" x="%s" y="%s" width="%s" height="%s" fill="none" pointer-events="all"/>`,
			num(plotLeft+slot*float64(i)), num(plotTop), num(slot), num(plotBase-plotTop))
		top := plotBase
		for _, seg := range []struct {
			class string
			n     int64
		}{{"chart-ok", s}, {"chart-fail", f}} {
			if seg.n == 0 {
				continue
			}
			// At least one unit tall: a single failed sign-in on a busy
			// day is what an administrator is looking for.
			h := max(float64(seg.n)*scale, 1)
			top -= h
			fmt.Fprintf(&b, `<rect class="%s" x="%s" y="%s" width="%s" height="%s"/>`, seg.class, num(x), num(top), num(barW), num(h))
		}
		b.WriteString("</g>")
	}
	// The zero line goes over the bars so it stays crisp.
	fmt.Fprintf(&b, `<line class="chart-axis" x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(plotLeft), num(plotBase), num(plotRight), num(plotBase))

	// First, middle and last dates: enough to place any bar, few enough
	// never to overlap at 90 days. The ends are anchored inwards so
	// they are not clipped.
	var labelled []int
	if last := len(days) - 1; last >= 0 {
		labelled = append(labelled, 0)
		if last/2 > 0 {
			labelled = append(labelled, last/2)
		}
		if last > last/2 {
			labelled = append(labelled, last)
		}
	}
	for _, at := range labelled {
		x, anchor := plotLeft+slot*(float64(at)+0.5), "middle"
		switch {
		case len(days) == 1:
		case at == 0:
			x, anchor = plotLeft+(slot-barW)/2, "start"
		case at == len(days)-1:
			x, anchor = plotRight-(slot-barW)/2, "end"
		}
		fmt.Fprintf(&b, `<text class="chart-label" x="%s" y="%s" text-anchor="%s">%s</text>`,
			num(x), num(plotBase+16), anchor, date(days[at].Date))
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// The sparkline's size: it sits in a table row beside text.
const (
	sparkW, sparkH = 80, 20
	sparkTop       = 1.0 // the line's stroke is not clipped at the peak
	sparkBase      = 19.0
)

// Sparkline renders counts (one per day, oldest first) as a tiny area chart
// for a table row, scaled to its own peak. Its title, which is also its
// accessible name, gives the total: "ci-deploy: 312 uses in 30 days".
// When every count is zero the line lies flat on the baseline.
func Sparkline(counts []int64, label string) template.HTML {
	var total, peak int64
	for _, c := range counts {
		c = max(c, 0)
		total, peak = total+c, max(peak, c)
	}
	summary := "no use in " + plural(int64(len(counts)), "day")
	if total > 0 {
		summary = plural(total, "use") + " in " + plural(int64(len(counts)), "day")
	}
	if label != "" {
		summary = label + ": " + summary
	}

	// x runs edge to edge; one or no point is drawn as a level line.
	var pts []string
	y := func(c int64) string {
		return num(sparkBase - float64(max(c, 0))*(sparkBase-sparkTop)/float64(max(peak, 1)))
	}
	switch len(counts) {
	case 0:
		pts = []string{"0," + num(sparkBase), strconv.Itoa(sparkW) + "," + num(sparkBase)}
	case 1:
		pts = []string{"0," + y(counts[0]), strconv.Itoa(sparkW) + "," + y(counts[0])}
	default:
		for i, c := range counts {
			pts = append(pts, num(float64(i)*sparkW/float64(len(counts)-1))+","+y(c))
		}
	}
	line := strings.Join(pts, " ")

	class := "spark"
	if total == 0 {
		class = "spark spark-idle"
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" class="%s" viewBox="0 0 %d %d" width="%d" height="%d" role="img"><title>`,
		class, sparkW, sparkH, sparkW, sparkH)
	escape(&b, summary)
	b.WriteString("</title>")
	if total > 0 {
		fmt.Fprintf(&b, `<path class="spark-area" d="M0,%s L%s L%d,%sZ"/>`, num(sparkBase), line, sparkW, num(sparkBase))
	}
	// fill="none" as an attribute too: a polyline is otherwise filled
	// black until the stylesheet arrives.
	fmt.Fprintf(&b, `<polyline class="spark-line" points="%s" fill="none"/></svg>`, line)
	return template.HTML(b.String())
}

// niceStep returns the y-axis step: the smallest round number (1, 1.5, 2,
// 2.5, 3, 4, 5, 6, 7.5 or 8 × 10ⁿ) whose double reaches peak, so the axis
// reads 0, step, 2×step (0, 50, 100) and the tallest bar fills most of
// the height. It is at least 1, so an idle chart never divides by zero.
func niceStep(peak int64) int64 {
	half := peak/2 + peak%2 // ⌈peak/2⌉ without overflowing at MaxInt64
	for p := int64(1); ; p *= 10 {
		for _, m := range []int64{2, 3, 4, 5, 6, 8, 10, 12, 15, 16} { // the mantissas, doubled
			// m×p/2, ordered so that it cannot overflow at p = 10¹⁸.
			if s := max(m*(p/2)+m*(p%2)/2, 1); s >= half {
				return s
			}
		}
	}
}

// escape writes s as XML character data. encoding/xml's escaping also
// replaces characters XML forbids, so the chart stays well-formed SVG
// whatever a key or process is called.
func escape(b *strings.Builder, s string) {
	_ = xml.EscapeText(b, []byte(s)) // a strings.Builder never fails
}

// group formats a non-negative count with thousands separators: 1,234.
func group(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func plural(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return group(n) + " " + noun + "s"
}

// date is a day as the rest of the console shows it: UTC, ISO 8601.
func date(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// num formats a coordinate to two decimals at most, so output is stable
// and short.
func num(f float64) string {
	return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64)
}
