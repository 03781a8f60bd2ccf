package pages

import (
	"html"
	"html/template"
	"net/url"
	"regexp"
	"strings"
)

// Markdown renders a safe subset of Markdown as HTML: headings, paragraphs,
// lists, block quotes, fenced and indented code, rules, and inline code,
// emphasis, strong emphasis and links. Everything else is text. The output
// is safe by construction: all text is escaped first, raw HTML is shown as
// text, and links keep only http, https and mailto targets (rel=nofollow);
// images become links to their target. Input beyond maxDocBytes is cut.
func Markdown(src string) template.HTML { return MarkdownFiles(src, nil) }

// MarkdownFiles is Markdown where relative link and image targets (files
// of the package) are mapped by files to a URL on this server ("" keeps
// them as text); such images are shown, other images stay links.
func MarkdownFiles(src string, files func(ref string) string) template.HTML {
	inline := func(s string) string { return inlineWith(s, files) }
	if len(src) > maxDocBytes {
		src = src[:maxDocBytes]
	}
	src = strings.ToValidUTF8(strings.NewReplacer("\r\n", "\n", "\x00", "").Replace(src), "\uFFFD")
	var b strings.Builder
	ls := strings.Split(src, "\n")
	var para []string
	flush := func() {
		if len(para) > 0 {
			b.WriteString("<p>" + inline(strings.Join(para, "\n")) + "</p>\n")
			para = nil
		}
	}
	for i := 0; i < len(ls); i++ {
		l := ls[i]
		t := strings.TrimSpace(l)
		switch {
		case t == "":
			flush()
		case strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~"):
			flush()
			fence := t[:3]
			b.WriteString("<pre><code>")
			for i++; i < len(ls) && !strings.HasPrefix(strings.TrimSpace(ls[i]), fence); i++ {
				b.WriteString(html.EscapeString(ls[i]) + "\n")
			}
			b.WriteString("</code></pre>\n")
		case strings.HasPrefix(l, "    ") && len(para) == 0:
			b.WriteString("<pre><code>")
			for ; i < len(ls) && (strings.HasPrefix(ls[i], "    ") || strings.TrimSpace(ls[i]) == ""); i++ {
				b.WriteString(html.EscapeString(strings.TrimPrefix(ls[i], "    ")) + "\n")
			}
			i--
			b.WriteString("</code></pre>\n")
		case strings.HasPrefix(t, "#"):
			flush()
			level := len(t) - len(strings.TrimLeft(t, "#"))
			if level > 6 || (len(t) > level && t[level] != ' ') {
				para = append(para, t)
				continue
			}
			// Document headings start at h3 (the page has h1, its sections h2).
			hl := min(level+2, 6)
			text := strings.TrimSpace(strings.TrimRight(t[level:], "#"))
			b.WriteString("<h" + itoa(hl) + ">" + inline(text) + "</h" + itoa(hl) + ">\n")
		case t == "---" || t == "***" || t == "___":
			flush()
			b.WriteString("<hr>\n")
		case strings.HasPrefix(t, ">"):
			flush()
			var q []string
			for ; i < len(ls) && strings.HasPrefix(strings.TrimSpace(ls[i]), ">"); i++ {
				q = append(q, strings.TrimPrefix(strings.TrimPrefix(strings.TrimSpace(ls[i]), ">"), " "))
			}
			i--
			b.WriteString("<blockquote>" + string(MarkdownFiles(strings.Join(q, "\n"), files)) + "</blockquote>\n")
		case listItem(t) != 0:
			flush()
			kind := listItem(t)
			tag := "ul"
			if kind == 'o' {
				tag = "ol"
			}
			b.WriteString("<" + tag + ">\n")
			for ; i < len(ls); i++ {
				tt := strings.TrimSpace(ls[i])
				if listItem(tt) != kind {
					if tt != "" && strings.HasPrefix(ls[i], "  ") {
						b.WriteString("<li>" + inline(tt) + "</li>\n") // continuation shown as its own item
						continue
					}
					break
				}
				b.WriteString("<li>" + inline(itemText(tt)) + "</li>\n")
			}
			i--
			b.WriteString("</" + tag + ">\n")
		default:
			para = append(para, t)
		}
	}
	flush()
	return template.HTML(b.String())
}

// listItem returns 'u' for a bullet item, 'o' for a numbered one, else 0.
func listItem(t string) byte {
	if len(t) >= 2 && (t[0] == '-' || t[0] == '*' || t[0] == '+') && t[1] == ' ' {
		return 'u'
	}
	j := 0
	for j < len(t) && j < 9 && t[j] >= '0' && t[j] <= '9' {
		j++
	}
	if j > 0 && j+1 < len(t) && (t[j] == '.' || t[j] == ')') && t[j+1] == ' ' {
		return 'o'
	}
	return 0
}

func itemText(t string) string {
	if listItem(t) == 'u' {
		return t[2:]
	}
	_, rest, _ := strings.Cut(t, " ")
	return rest
}

var (
	reImage  = regexp.MustCompile(`!\[([^\]]*)\]\(([^)\s]+)(?:\s+&#34;[^)]*&#34;)?\)`)
	reLink   = regexp.MustCompile(`\[([^\]]+)\]\(([^)\s]+)(?:\s+&#34;[^)]*&#34;)?\)`)
	reAuto   = regexp.MustCompile(`&lt;(https?://[^\s&]+)&gt;`)
	reStrong = regexp.MustCompile(`\*\*([^*\n]+)\*\*|__([^_\n]+)__`)
	reTag    = regexp.MustCompile(`<[^>]*>`)
	reEm     = regexp.MustCompile(`\*([^*\n]+)\*|\b_([^_\n]+)_\b`)
)

// safeURL returns the escaped URL if its scheme is allowed, else "".
func safeURL(escaped string) string {
	u := strings.ToLower(html.UnescapeString(escaped))
	if strings.HasPrefix(u, "https://") || strings.HasPrefix(u, "http://") || strings.HasPrefix(u, "mailto:") {
		return escaped
	}
	return ""
}

// localRef reports whether an (unescaped) link target is a relative path.
func localRef(u string) bool {
	if u == "" || strings.HasPrefix(u, "/") || strings.HasPrefix(u, "#") || strings.Contains(u, "\\") {
		return false
	}
	if i := strings.IndexAny(u, ":/?#"); i >= 0 && u[i] == ':' {
		return false // has a scheme
	}
	return true
}

// inlineWith renders inline markup of one block. Code spans are escaped and
// kept away from the other rules.
func inlineWith(s string, files func(string) string) string {
	var b strings.Builder
	parts := strings.Split(s, "`")
	for i, p := range parts {
		if i%2 == 1 && i < len(parts)-1 {
			b.WriteString("<code>" + html.EscapeString(p) + "</code>")
			continue
		}
		if i%2 == 1 {
			b.WriteString("`")
		}
		e := html.EscapeString(p)
		local := func(target string) string {
			raw := html.UnescapeString(target)
			if files == nil || !localRef(raw) {
				return ""
			}
			if dec, err := url.PathUnescape(raw); err == nil {
				raw = dec
			}
			return html.EscapeString(files(raw))
		}
		link := func(text, target string) string {
			if u := safeURL(target); u != "" {
				return `<a href="` + u + `" rel="nofollow noopener">` + text + `</a>`
			}
			if u := local(target); u != "" {
				return `<a href="` + u + `">` + text + `</a>`
			}
			return text
		}
		e = reImage.ReplaceAllStringFunc(e, func(m string) string {
			sm := reImage.FindStringSubmatch(m)
			alt := sm[1]
			if u := local(sm[2]); u != "" {
				return `<img src="` + u + `" alt="` + alt + `" loading="lazy">`
			}
			if alt == "" {
				alt = "image"
			}
			return link("["+alt+"]", sm[2])
		})
		e = reLink.ReplaceAllStringFunc(e, func(m string) string {
			sm := reLink.FindStringSubmatch(m)
			return link(sm[1], sm[2])
		})
		e = reAuto.ReplaceAllStringFunc(e, func(m string) string {
			sm := reAuto.FindStringSubmatch(m)
			return link(sm[1], sm[1])
		})
		// Emphasis only outside the tags made above (every '<' in e is ours).
		e = reTag.ReplaceAllStringFunc(e, func(m string) string { return "\x00" + m + "\x00" })
		segs := strings.Split(e, "\x00")
		for k, seg := range segs {
			if !strings.HasPrefix(seg, "<") {
				seg = reStrong.ReplaceAllString(seg, "<strong>$1$2</strong>")
				segs[k] = reEm.ReplaceAllString(seg, "<em>$1$2</em>")
			}
		}
		b.WriteString(strings.Join(segs, ""))
	}
	return b.String()
}
