package pages

import (
	"net/url"

	"golang.org/x/net/html"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
)

func TestMarkdown(t *testing.T) {
	src := "# Title\n\nSome *emphasis*, **strong** and `code <b>`.\n\n- one\n- [two](https://example.org/a_b_c)\n\n1. first\n2. second\n\n```\nx < y\n```\n\n> quoted\n"
	got := string(Markdown(src))
	for _, want := range []string{
		"<h3>Title</h3>",
		"<em>emphasis</em>",
		"<strong>strong</strong>",
		"<code>code &lt;b&gt;</code>",
		"<ul>\n<li>one</li>",
		`<a href="https://example.org/a_b_c" rel="nofollow noreferrer">two</a>`,
		"<ol>\n<li>first</li>\n<li>second</li>\n</ol>",
		"<pre><code>x &lt; y\n</code></pre>",
		"<blockquote>\n<p>quoted</p>\n</blockquote>",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

// TestMarkdownHostile: raw HTML and script URLs never come through.
func TestMarkdownHostile(t *testing.T) {
	for _, src := range []string{
		`<script>alert(1)</script>`,
		`<img src=x onerror=alert(1)>`,
		`[click](javascript:alert(1))`,
		`[click](JaVaScRiPt:alert(1))`,
		`![x](javascript:alert(1))`,
		`[x](data:text/html;base64,PHNjcmlwdD4=)`,
		`[x](https://ok.example/"onmouseover="alert(1))`,
		"`a` <iframe src=//evil>",
		"**<svg onload=alert(1)>**",
		"<https://x.example/\"><script>>",
	} {
		got := string(Markdown(src))
		low := strings.ToLower(got)
		for _, bad := range []string{"<script", "<img", "<iframe", "<svg", "javascript:", "data:text", `"onmouseover`} {
			if strings.Contains(low, bad) {
				t.Errorf("%q renders %q (contains %s)", src, got, bad)
			}
		}
	}
}

func FuzzMarkdown(f *testing.F) {
	f.Add("# a\n\n*b* [c](https://d) `e`\n- f\n> g\n```\nh\n```")
	f.Add("<script>x</script>[a](javascript:b)")
	f.Fuzz(func(t *testing.T, src string) {
		got := strings.ToLower(string(Markdown(src)))
		// Every tag in the output is one Markdown makes.
		allowed := []string{"<p>", "</p>", "<h", "</h", "<em>", "</em>", "<strong>", "</strong>", "<code>", "</code>", "<pre>", "</pre>",
			"<ul>", "</ul>", "<ol>", "</ol>", "<ol start=", "<li>", "</li>", "<blockquote>", "</blockquote>", "<hr>", "<hr/>", "<br>", "<br/>",
			"<del>", "</del>", "<table>", "</table>", "<thead>", "</thead>", "<tbody>", "</tbody>", "<tr>", "</tr>", "<th", "</th>", "<td", "</td>",
			`<a href="http`, `<a href="mailto:`, `<a title=`, "</a>"}
		for i := strings.IndexByte(got, '<'); i >= 0; i = strings.IndexByte(got, '<') {
			rest := got[i:]
			ok := false
			for _, a := range allowed {
				if strings.HasPrefix(rest, a) {
					ok = true
					break
				}
			}
			if !ok {
				t.Fatalf("unexpected markup %q in %q", rest[:min(len(rest), 20)], got)
			}
			got = rest[1:]
		}
	})
}

func TestDiff(t *testing.T) {
	d := Diff("a\nb\nc\nd\n", "a\nc\nd\ne\n")
	var ops []string
	for _, l := range d {
		ops = append(ops, string(l.Op)+l.Text)
	}
	if got := strings.Join(ops, ","); got != " a,-b, c, d,+e" {
		t.Errorf("diff %q", got)
	}
	if d := Diff("", "x\ny"); len(d) != 2 || d[0].Op != '+' || d[1].Op != '+' {
		t.Errorf("first version: %v", d)
	}
	if d := Diff("same\n", "same\n"); len(d) != 1 || d[0].Op != ' ' {
		t.Errorf("equal: %v", d)
	}
}

func TestDiffLargeIsBounded(t *testing.T) {
	var a, b strings.Builder
	for i := range 5000 {
		a.WriteString("a" + itoa(i) + "\n")
		b.WriteString("b" + itoa(i) + "\n")
	}
	d := Diff(a.String(), b.String()) // 25M cells: shown as a replacement
	if len(d) != 10000 {
		t.Errorf("%d lines", len(d))
	}
}

func FuzzDiff(f *testing.F) {
	f.Add("a\nb\n", "b\nc\n")
	f.Fuzz(func(t *testing.T, a, b string) {
		d := Diff(a, b)
		// Old = ' ' and '-' lines; new = ' ' and '+' lines.
		var old, nw []string
		for _, l := range d {
			if l.Op != '+' {
				old = append(old, l.Text)
			}
			if l.Op != '-' {
				nw = append(nw, l.Text)
			}
		}
		if strings.Join(old, "\n") != strings.Join(lines(a), "\n") || strings.Join(nw, "\n") != strings.Join(lines(b), "\n") {
			t.Fatalf("diff does not rebuild its inputs")
		}
	})
}

func FuzzParseQuery(f *testing.F) {
	f.Add("q=nuclei&tag=a&tag=b&license=MIT&sort=downloads&offset=24")
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseQuery(v)
		if err != nil {
			return
		}
		n := 0
		for _, vs := range q.Filters {
			n += len(vs)
		}
		if len(q.Text) > maxQueryText || q.Offset < 0 || q.Offset > maxOffset || n > maxFilterCount || q.Limit != pageSize {
			t.Fatalf("accepted %+v", q)
		}
	})
}

func TestMarkdownFiles(t *testing.T) {
	files := func(ref string) string {
		if ref == "images/fig 1.png" || ref == "notes.md" {
			return "/files/m/1/" + ref
		}
		return ""
	}
	got := string(MarkdownFiles("![Figure \"1\"](images/fig%201.png) ![fig](images/fig 1.png) [notes](notes.md) [gone](missing.md) ![x](https://t.example/p.png) [abs](/etc/passwd) [s](javascript:x)", files))
	for _, want := range []string{
		`<img src="/files/m/1/images/fig%201.png" alt="Figure &#34;1&#34;">`,
		"![fig](images/fig 1.png)", // a target with a space is not a Markdown link
		`<a href="/files/m/1/notes.md" rel="nofollow">notes</a>`,
		" gone ",
		`<a href="https://t.example/p.png" rel="nofollow noreferrer">x</a>`,
		" abs ",
		" s",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in %s", want, got)
		}
	}
	if strings.Contains(got, "javascript") || strings.Contains(got, `"/etc`) {
		t.Errorf("unsafe target kept: %s", got)
	}
}

func TestCitation(t *testing.T) {
	v := &zoo.Version{ModelID: "brave-cat", Number: 2}
	d := &spec.Model{Name: "Cells", Authors: []spec.Author{{Name: "A. Author"}}, Cite: []spec.CiteEntry{{Text: "The paper", DOI: "10.1/p"}}}
	got := citation(v, d, "https://zoo.example", "")
	if !strings.Contains(got, "A. Author. Cells (version 2).") || !strings.Contains(got, "https://zoo.example/models/brave-cat/2") || !strings.Contains(got, "The paper https://doi.org/10.1/p") {
		t.Errorf("citation %q", got)
	}
	if got := citation(v, d, "https://zoo.example", "10.5/zoo.2"); !strings.Contains(got, "zoo, 1. https://doi.org/10.5/zoo.2") {
		t.Errorf("with a DOI: %q", got)
	}
}

// allowedAttrs is what rendered documentation may carry, per element.
var allowedAttrs = map[string]map[string]bool{
	"a":   {"href": true, "rel": true, "title": true},
	"img": {"src": true, "alt": true, "title": true},
	"ol":  {"start": true},
	"th":  {"align": true},
	"td":  {"align": true},
}

// checkAttrs parses rendered HTML as a browser would and fails on any
// attribute outside allowedAttrs (event handlers, style, …) and on URLs
// other than http, https, mailto and /files/ (issue 15: the old renderer
// re-scanned its own output, so documentation could inject attributes).
func checkAttrs(t testing.TB, src, got string) {
	t.Helper()
	z := html.NewTokenizer(strings.NewReader(got))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		for _, a := range tok.Attr {
			if !allowedAttrs[tok.Data][a.Key] {
				t.Fatalf("%q renders <%s %s=%q> in %s", src, tok.Data, a.Key, a.Val, got)
			}
			if a.Key == "href" || a.Key == "src" {
				v := strings.ToLower(a.Val)
				if !(strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "mailto:") || strings.HasPrefix(v, "/files/")) ||
					(a.Key == "src" && !strings.HasPrefix(v, "/files/")) {
					t.Fatalf("%q renders <%s %s=%q>", src, tok.Data, a.Key, a.Val)
				}
			}
		}
	}
}

var hostileDocs = []string{
	`![x onerror=alert(1) y](https://a.example/)`,
	`[<https://a.example/ onmouseover=alert(1)>](https://b.example/)`,
	`![<https://a.example/x" onerror="alert(1)>](https://b.example/)`,
	`![a](x.png" onerror="alert(1))`,
	`[![a](x.png)](javascript:alert(1))`,
	`![a](x.png)(https://e.example/ "t" onclick=1)`,
	"<a href=https://x.example onclick=alert(1)>x</a>",
	`<img src=/files/m/1/x.png onerror=alert(1)>`,
	`[x](https://a.example/ "title\" onmouseover=\"alert(1)")`,
	"| a | b |\n|---|---|\n| <b onclick=1>c</b> | [d](vbscript:x) |",
	"https://bare.example/?q=<script>x</script>",
	`<https://a.example/"onmouseover=x>`,
	"1. a\n\n   <div style=\"position:fixed\">x</div>",
}

func TestMarkdownAttributes(t *testing.T) {
	files := func(ref string) string { return "/files/m/1/" + ref }
	for _, src := range hostileDocs {
		checkAttrs(t, src, string(MarkdownFiles(src, files)))
		checkAttrs(t, src, string(Markdown(src)))
	}
}

func FuzzMarkdownAttributes(f *testing.F) {
	for _, s := range hostileDocs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		checkAttrs(t, src, string(MarkdownFiles(src, func(ref string) string { return "/files/m/1/" + ref })))
	})
}
