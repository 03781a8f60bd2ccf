package platform

import (
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestMarkdown(t *testing.T) {
	got := string(markdown("# Title\n\nSome *em* and **strong** and `code <b>`.\n\n- one\n- two <script>alert(1)</script>\n\n```\n<img src=x onerror=alert(1)>\n```\n[link](javascript:alert(1))"))
	for _, want := range []string{"<h2>Title</h2>", "<em>em</em>", "<strong>strong</strong>", "<code>code &lt;b&gt;</code>",
		"<ul>\n<li>one</li>\n<li>two &lt;script&gt;", "<pre><code>&lt;img src=x onerror=alert(1)&gt;\n</code></pre>", "[link](javascript:alert(1))"} {
		if !strings.Contains(got, want) {
			t.Errorf("markdown output lacks %q:\n%s", want, got)
		}
	}
}

// allowedTag is every tag markdown may write.
var allowedTag = regexp.MustCompile(`^</?(p|h[2-6]|ul|li|pre|code|em|strong)>$`)

func FuzzMarkdown(f *testing.F) {
	f.Add("# a\n\n- *b* **c** `d`\n```\n<x>\n```")
	f.Add("<script>alert(1)</script><a href=x>")
	f.Fuzz(func(t *testing.T, src string) {
		out := string(markdown(src))
		for _, tag := range regexp.MustCompile(`<[^>]*>`).FindAllString(out, -1) {
			if !allowedTag.MatchString(tag) {
				t.Fatalf("markdown(%q) wrote the tag %q", src, tag)
			}
		}
	})
}

func TestPlots(t *testing.T) {
	p := string(timePlot(`a <b> & "c"`, "psnr", []point{{X: 0, Y: 1, Label: "<x>"}, {X: 3600, Y: math.Inf(1)}, {X: 7200, Y: 3, Hi: true}}))
	if !strings.HasPrefix(p, "<svg") || !strings.HasSuffix(p, "</svg>") || strings.Contains(p, "<b>") || strings.Contains(p, "<x>") {
		t.Errorf("plot does not escape its text: %s", p)
	}
	if n := strings.Count(p, "<circle"); n != 2 {
		t.Errorf("%d dots, want 2 (the infinite value is not drawn)", n)
	}
	if !strings.Contains(p, "1 infinite value(s)") {
		t.Error("the plot does not say a value was left out")
	}
	s := string(stripPlot("t", "y", []group{{Name: "a", Values: []float64{1, 2, 3}}, {Name: "b", Values: []float64{math.NaN()}}}))
	if strings.Count(s, "<circle") != 3 || strings.Count(s, "<line") < 2+5 {
		t.Errorf("strip plot: %s", s)
	}
	if strings.Contains(string(stripPlot("t", "y", nil)), "NaN") || strings.Contains(string(timePlot("t", "y", nil)), "NaN") {
		t.Error("an empty plot writes NaN coordinates")
	}
}
