package chart

import (
	"encoding/xml"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// node is a parsed SVG element, enough to check a chart's structure.
type node struct {
	name     string
	attr     map[string]string
	text     string // character data directly inside
	children []*node
}

// MustParse parses out as strict XML and returns its root element, failing
// the test if it is not well-formed SVG.
func MustParse(tb testing.TB, out template.HTML) *node {
	tb.Helper()
	d := xml.NewDecoder(strings.NewReader(string(out)))
	var stack []*node
	var root *node
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatalf("not well-formed XML: %v\n%s", err, out)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: t.Name.Local, attr: map[string]string{}}
			for _, a := range t.Attr {
				n.attr[a.Name.Local] = a.Value
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else if root != nil {
				tb.Fatalf("more than one root element:\n%s", out)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		}
	}
	if root == nil || root.name != "svg" || root.attr["viewBox"] == "" || root.attr["width"] == "" || root.attr["height"] == "" {
		tb.Fatalf("root is not a sized <svg>:\n%s", out)
	}
	return root
}

// all returns the elements under n (n included) for which keep is true.
func (n *node) all(keep func(*node) bool) []*node {
	var found []*node
	if keep(n) {
		found = append(found, n)
	}
	for _, c := range n.children {
		found = append(found, c.all(keep)...)
	}
	return found
}

func (n *node) class(c string) []*node {
	return n.all(func(m *node) bool { return m.attr["class"] == c })
}

// child returns n's first direct child called name, or an empty node.
func (n *node) child(name string) *node {
	for _, c := range n.children {
		if c.name == name {
			return c
		}
	}
	return &node{attr: map[string]string{}}
}

func (n *node) num(tb testing.TB, attr string) float64 {
	tb.Helper()
	f, err := strconv.ParseFloat(n.attr[attr], 64)
	if err != nil {
		tb.Fatalf("<%s %s=%q>: %v", n.name, attr, n.attr[attr], err)
	}
	return f
}

func days(start time.Time, counts ...[2]int64) []Day {
	var ds []Day
	for i, c := range counts {
		ds = append(ds, Day{Date: start.AddDate(0, 0, i), Succeeded: c[0], Failed: c[1]})
	}
	return ds
}

var nov2 = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

func TestBarsSummarisesForScreenReadersAndHover(t *testing.T) {
	ds := make([]Day, 30)
	for i := range ds {
		ds[i] = Day{Date: nov2.AddDate(0, 0, i)}
	}
	ds[0].Succeeded, ds[29].Succeeded, ds[29].Failed = 1000, 194, 3
	ds[12] = Day{Date: ds[12].Date, Succeeded: 40, Failed: 2}
	svg := MustParse(t, Bars(ds, "Authentications"))

	if svg.attr["role"] != "img" || svg.child("title").text != "Authentications" {
		t.Errorf("role %q, title %q", svg.attr["role"], svg.child("title").text)
	}
	if got, want := svg.child("desc").text, "1,234 successful and 5 failed authentications from 2026-11-02 to 2026-12-01"; got != want {
		t.Errorf("desc = %q, want %q", got, want)
	}
	bars := svg.class("chart-bar")
	if len(bars) != 30 {
		t.Fatalf("%d bars, want 30", len(bars))
	}
	if got, want := bars[12].child("title").text, "2026-11-14: 40 successful, 2 failed"; got != want {
		t.Errorf("bar title = %q, want %q", got, want)
	}
	if got := bars[1].child("title").text; got != "2026-11-03: 0 successful, 0 failed" {
		t.Errorf("an empty day's title = %q", got)
	}
	if n := len(bars[1].class("chart-hit")); n != 1 {
		t.Errorf("an empty day has %d hover targets, want 1", n)
	}
}

func TestBarsHeightsAreProportionalAndFailuresStackOnTop(t *testing.T) {
	svg := MustParse(t, Bars(days(nov2, [2]int64{20, 0}, [2]int64{40, 0}, [2]int64{30, 10}, [2]int64{0, 0}), "t"))
	bars := svg.class("chart-bar")
	if len(bars) != 4 {
		t.Fatalf("%d bars, want 4", len(bars))
	}
	ok := func(i int) *node { return bars[i].class("chart-ok")[0] }
	if h1, h2 := ok(0).num(t, "height"), ok(1).num(t, "height"); math.Abs(h2-2*h1) > 1 {
		t.Errorf("twice the count is %v tall, once is %v", h2, h1)
	}
	// The third day's total equals the second's, so it is as tall.
	fail := bars[2].class("chart-fail")[0]
	if total := ok(2).num(t, "height") + fail.num(t, "height"); math.Abs(total-ok(1).num(t, "height")) > 1 {
		t.Errorf("40 stacked is %v tall, 40 alone is %v", total, ok(1).num(t, "height"))
	}
	if top, bottom := fail.num(t, "y")+fail.num(t, "height"), ok(2).num(t, "y"); math.Abs(top-bottom) > 0.01 {
		t.Errorf("failed segment ends at y=%v, succeeded starts at y=%v: not stacked above", top, bottom)
	}
	if n := len(bars[3].class("chart-ok")) + len(bars[3].class("chart-fail")); n != 0 {
		t.Errorf("an empty day draws %d segments", n)
	}
	if ok(0).num(t, "x") >= ok(1).num(t, "x") {
		t.Error("bars are not drawn oldest first, left to right")
	}
}

func TestBarsAxisAndDateLabels(t *testing.T) {
	tests := []struct {
		name   string
		days   []Day
		labels []string
	}{
		{"no days shows an empty axis", nil, []string{"0", "1", "2"}},
		{"one day labels its date once", days(nov2, [2]int64{3, 0}), []string{"0", "2", "4", "2026-11-02"}},
		{"two days label both", days(nov2, [2]int64{70, 30}, [2]int64{0, 0}), []string{"0", "50", "100", "2026-11-02", "2026-11-03"}},
		{"five days label first, middle and last", days(nov2, [2]int64{1233, 1}, [2]int64{}, [2]int64{}, [2]int64{}, [2]int64{}),
			[]string{"0", "750", "1,500", "2026-11-02", "2026-11-04", "2026-11-06"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg := MustParse(t, Bars(tt.days, "t"))
			var got []string
			for _, l := range svg.class("chart-label") {
				got = append(got, l.text)
			}
			if strings.Join(got, " ") != strings.Join(tt.labels, " ") {
				t.Errorf("labels %q, want %q", got, tt.labels)
			}
			if len(svg.class("chart-axis")) != 1 {
				t.Error("no zero line")
			}
		})
	}
}

func TestBarsAllZeroAndNinetyDays(t *testing.T) {
	var ds []Day
	for i := range 90 {
		ds = append(ds, Day{Date: nov2.AddDate(0, 0, i), Succeeded: int64(i % 7 * 1000), Failed: int64(i % 3)})
	}
	for _, n := range []int{0, 1, 7, 30, 90} {
		zero := make([]Day, n)
		svg := MustParse(t, Bars(zero, "idle"))
		if len(svg.class("chart-ok"))+len(svg.class("chart-fail")) != 0 {
			t.Errorf("%d idle days draw segments", n)
		}
		svg = MustParse(t, Bars(ds[:n], "busy"))
		if got := len(svg.class("chart-bar")); got != n {
			t.Errorf("%d days draw %d bars", n, got)
		}
		for _, r := range svg.all(func(m *node) bool { return m.name == "rect" }) {
			x, w, y, h := r.num(t, "x"), r.num(t, "width"), r.num(t, "y"), r.num(t, "height")
			if x < 0 || y < 0 || w <= 0 || h <= 0 || x+w > barsW+0.01 || y+h > barsH {
				t.Errorf("%d days: rect outside the chart: x=%v y=%v w=%v h=%v", n, x, y, w, h)
			}
		}
	}
	// A single failure on a busy day is still visible.
	svg := MustParse(t, Bars(days(nov2, [2]int64{1_000_000, 1}), "t"))
	if h := svg.class("chart-fail")[0].num(t, "height"); h < 1 {
		t.Errorf("one failure among a million is %v tall", h)
	}
}

func TestSparkline(t *testing.T) {
	flat := func(n int) []int64 { return make([]int64, n) }
	tests := []struct {
		name   string
		counts []int64
		label  string
		title  string
		area   bool
	}{
		{"sums the uses", []int64{100, 0, 200, 12}, "", "312 uses in 4 days", true},
		{"names what it counts", []int64{1234, 0}, "ci-deploy", "ci-deploy: 1,234 uses in 2 days", true},
		{"one use is singular", []int64{0, 1}, "", "1 use in 2 days", true},
		{"all zero is flat", flat(30), "", "no use in 30 days", false},
		{"one point", []int64{5}, "", "5 uses in 1 day", true},
		{"no points", nil, "", "no use in 0 days", false},
		{"ninety points", append(flat(89), 9), "", "9 uses in 90 days", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svg := MustParse(t, Sparkline(tt.counts, tt.label))
			if svg.attr["viewBox"] != "0 0 80 20" || svg.attr["role"] != "img" {
				t.Errorf("viewBox %q, role %q", svg.attr["viewBox"], svg.attr["role"])
			}
			if got := svg.child("title").text; got != tt.title {
				t.Errorf("title %q, want %q", got, tt.title)
			}
			if got := len(svg.class("spark-area")) == 1; got != tt.area {
				t.Errorf("area drawn: %v, want %v", got, tt.area)
			}
			lines := svg.class("spark-line")
			if len(lines) != 1 {
				t.Fatalf("%d lines", len(lines))
			}
			var ys []float64
			for _, p := range strings.Fields(lines[0].attr["points"]) {
				x, y, _ := strings.Cut(p, ",")
				fx, errx := strconv.ParseFloat(x, 64)
				fy, erry := strconv.ParseFloat(y, 64)
				if errx != nil || erry != nil || fx < 0 || fx > 80 || fy < 0 || fy > 20 {
					t.Fatalf("point %q outside 80×20", p)
				}
				ys = append(ys, fy)
			}
			if len(ys) < 2 {
				t.Fatalf("points %q: fewer than two", lines[0].attr["points"])
			}
			if !tt.area {
				for _, y := range ys {
					if y != sparkBase {
						t.Errorf("idle line leaves the baseline: %v", ys)
						break
					}
				}
			}
		})
	}
	// The peak reaches the top; half the peak, half-way.
	svg := MustParse(t, Sparkline([]int64{50, 100, 0}, ""))
	pts := strings.Fields(svg.class("spark-line")[0].attr["points"])
	if pts[0] != "0,10" || pts[1] != "40,1" || pts[2] != "80,19" {
		t.Errorf("points %q", pts)
	}
}

func TestOutsideTextIsEscapedAndNothingIsInline(t *testing.T) {
	hostile := `<script>alert("x")</script> & Co's key` + "\x00"
	for name, out := range map[string]template.HTML{
		"bars":      Bars(days(nov2, [2]int64{1, 2}), hostile),
		"sparkline": Sparkline([]int64{1, 2}, hostile),
	} {
		t.Run(name, func(t *testing.T) {
			s := string(out)
			for _, bad := range []string{"<script", "<style", "style=", "\x00", "& "} {
				if strings.Contains(s, bad) {
					t.Errorf("output contains %q:\n%s", bad, s)
				}
			}
			svg := MustParse(t, out)
			if got := svg.child("title").text; !strings.Contains(got, `<script>alert("x")</script> & Co's key`) {
				t.Errorf("title does not round-trip: %q", got)
			}
			if els := svg.all(func(m *node) bool { return m.name == "script" || m.name == "style" || m.attr["style"] != "" }); len(els) != 0 {
				t.Errorf("%d script, style or styled elements", len(els))
			}
		})
	}
}

func TestBarsIsDeterministic(t *testing.T) {
	ds := days(nov2, [2]int64{3, 1}, [2]int64{7, 0}, [2]int64{0, 0})
	if a, b := Bars(ds, "t"), Bars(ds, "t"); a != b {
		t.Error("two renders differ")
	}
}

func TestNiceStepAndGroup(t *testing.T) {
	for peak, want := range map[int64]int64{0: 1, 1: 1, 2: 1, 3: 2, 7: 4, 10: 5, 11: 6, 15: 8, 17: 10, 100: 50, 101: 60, 1234: 750, 1600: 800, 1601: 1000, math.MaxInt64: 5e18} {
		if got := niceStep(peak); got != want {
			t.Errorf("niceStep(%d) = %d, want %d", peak, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567"} {
		if got := group(n); got != want {
			t.Errorf("group(%d) = %q, want %q", n, got, want)
		}
	}
}
