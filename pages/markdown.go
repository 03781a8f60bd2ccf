package pages

import (
	"bytes"
	"html/template"
	"net/url"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/text"
)

// Markdown renders a model's documentation (CommonMark with GitHub's
// tables, strikethrough and bare-URL links) as HTML that is safe to put
// in a page. Raw HTML in the source is dropped; links keep only http,
// https and mailto targets (rel=nofollow); images from elsewhere become
// links to their target. The rendered HTML then passes an HTML sanitiser
// with an allow-list of elements and attributes (no event handlers, no
// style, no other URLs), so safety does not rest on the renderer alone.
// Input beyond maxDocBytes is cut.
func Markdown(src string) template.HTML { return MarkdownFiles(src, nil) }

// MarkdownFiles is Markdown where relative link and image targets (files
// of the package) are mapped by files to a URL on this server under
// /files/ ("" keeps them as text); such images are shown.
func MarkdownFiles(src string, files func(ref string) string) template.HTML {
	if len(src) > maxDocBytes {
		src = src[:maxDocBytes]
	}
	b := []byte(strings.ToValidUTF8(strings.ReplaceAll(src, "\x00", ""), "\uFFFD"))
	doc := markdownEngine.Parser().Parse(text.NewReader(b))
	rewrite(doc, b, files)
	var out bytes.Buffer
	if err := markdownEngine.Renderer().Render(&out, b, doc); err != nil {
		return ""
	}
	return template.HTML(docPolicy.SanitizeBytes(out.Bytes()))
}

// markdownEngine parses and renders; without goldmark's html.WithUnsafe it
// never passes raw HTML or dangerous URLs through (belt), and docPolicy
// sanitises what it wrote (braces).
var markdownEngine = goldmark.New(goldmark.WithExtensions(extension.Table, extension.Strikethrough, extension.Linkify))

// docPolicy is the allow-list of the rendered documentation.
var docPolicy = func() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "h3", "h4", "h5", "h6", "em", "strong", "del", "code", "pre", "ul", "ol", "li",
		"blockquote", "hr", "br", "table", "thead", "tbody", "tr", "th", "td")
	p.AllowAttrs("start").Matching(regexp.MustCompile(`^[0-9]{1,9}$`)).OnElements("ol")
	p.AllowAttrs("align").Matching(regexp.MustCompile(`^(left|right|center)$`)).OnElements("th", "td")
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("http", "https", "mailto")
	p.AllowRelativeURLs(true) // only /files/… survive rewrite
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnFullyQualifiedLinks(true)
	// Images only from this server's package files.
	p.AllowAttrs("src").Matching(regexp.MustCompile(`^/files/[^"<>\s]*$`)).OnElements("img")
	p.AllowAttrs("alt", "title").OnElements("img", "a")
	return p
}()

// rewrite shifts headings below the page's own (h1 is the model, h2 its
// sections), maps package-relative targets through files, turns remote
// images into links and unlinks anything not http, https, mailto or a
// package file.
func rewrite(doc ast.Node, src []byte, files func(string) string) {
	var unlink []ast.Node
	var images []*ast.Image
	ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		if !entering {
			return ast.WalkContinue, nil
		}
		switch n := n.(type) {
		case *ast.Heading:
			n.Level = min(n.Level+2, 6)
		case *ast.Link:
			if u := target(string(n.Destination), files); u != "" {
				n.Destination = []byte(u)
			} else {
				unlink = append(unlink, n)
			}
		case *ast.AutoLink:
			if u := string(n.URL(src)); safeScheme(u) == "" && !(n.AutoLinkType == ast.AutoLinkEmail) {
				unlink = append(unlink, n)
			}
		case *ast.Image:
			dest := string(n.Destination)
			if localRef(dest) && files != nil {
				if u := fileURL(dest, files); u != "" {
					n.Destination = []byte(u)
					return ast.WalkSkipChildren, nil
				}
			}
			images = append(images, n) // not a package file: becomes a link, after the walk
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	// (The tree changes only now: ast.Walk stops at a node removed under it.)
	for _, n := range images {
		l := ast.NewLink()
		l.Destination = []byte(target(string(n.Destination), files))
		l.Title = n.Title
		for c := n.FirstChild(); c != nil; {
			next := c.NextSibling()
			l.AppendChild(l, c)
			c = next
		}
		if !l.HasChildren() {
			l.AppendChild(l, ast.NewString([]byte("image")))
		}
		n.Parent().ReplaceChild(n.Parent(), n, l)
		if len(l.Destination) == 0 {
			unlink = append(unlink, l)
		}
	}
	for _, n := range unlink {
		p := n.Parent()
		if p == nil {
			continue
		}
		if al, ok := n.(*ast.AutoLink); ok {
			p.ReplaceChild(p, n, ast.NewString(al.URL(src)))
			continue
		}
		for c := n.FirstChild(); c != nil; {
			next := c.NextSibling()
			p.InsertBefore(p, n, c)
			c = next
		}
		p.RemoveChild(p, n)
	}
}

// target is a link's URL on the page: http, https and mailto as they are,
// a package-relative path mapped through files, else "".
func target(dest string, files func(string) string) string {
	if u := safeScheme(dest); u != "" {
		return u
	}
	if files != nil && localRef(dest) {
		return fileURL(dest, files)
	}
	return ""
}

// fileURL maps a relative reference through files, accepting only URLs
// under /files/.
func fileURL(dest string, files func(string) string) string {
	raw := dest
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i]
	}
	if dec, err := url.PathUnescape(raw); err == nil {
		raw = dec
	}
	if u := files(raw); strings.HasPrefix(u, "/files/") {
		return u
	}
	return ""
}

// safeScheme returns u if it is an http or https URL with a host, or a
// mailto URL with an address, else "".
func safeScheme(u string) string {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil {
		return ""
	}
	switch strings.ToLower(p.Scheme) {
	case "http", "https":
		if p.Host != "" {
			return u
		}
	case "mailto":
		if p.Opaque != "" {
			return u
		}
	}
	return ""
}

// localRef reports whether a link target is a relative path.
func localRef(u string) bool {
	if u == "" || strings.HasPrefix(u, "/") || strings.HasPrefix(u, "#") || strings.Contains(u, "\\") {
		return false
	}
	if i := strings.IndexAny(u, ":/?#"); i >= 0 && u[i] == ':' {
		return false // has a scheme
	}
	return true
}
