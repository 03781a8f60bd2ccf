package feed

import (
	"encoding/xml"
	"strings"
	"unicode/utf8"
)

// NS is the Atom 1.0 namespace (RFC 4287).
const NS = "http://www.w3.org/2005/Atom"

// Feed is an Atom feed document. The types mirror RFC 4287 closely enough
// for tests and clients to decode a feed with encoding/xml.
type Feed struct {
	XMLName   xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
	ID        string   `xml:"id"`
	Title     string   `xml:"title"`
	Subtitle  string   `xml:"subtitle,omitempty"`
	Updated   string   `xml:"updated"`
	Generator string   `xml:"generator,omitempty"`
	Links     []Link   `xml:"link"`
	Authors   []Person `xml:"author"`
	Entries   []Entry  `xml:"entry"`
}

// Entry is one event: a version published or retired.
type Entry struct {
	ID         string     `xml:"id"`
	Title      string     `xml:"title"`
	Updated    string     `xml:"updated"`
	Published  string     `xml:"published,omitempty"`
	Links      []Link     `xml:"link"`
	Summary    string     `xml:"summary,omitempty"`
	Authors    []Person   `xml:"author"`
	Categories []Category `xml:"category"`
	Rights     string     `xml:"rights,omitempty"`
}

// Link is atom:link.
type Link struct {
	Rel    string `xml:"rel,attr,omitempty"`
	Type   string `xml:"type,attr,omitempty"`
	Href   string `xml:"href,attr"`
	Length int64  `xml:"length,attr,omitempty"`
	Title  string `xml:"title,attr,omitempty"`
}

// Person is atom:author.
type Person struct {
	Name string `xml:"name"`
	URI  string `xml:"uri,omitempty"`
}

// Category is atom:category.
type Category struct {
	Term   string `xml:"term,attr"`
	Scheme string `xml:"scheme,attr,omitempty"`
	Label  string `xml:"label,attr,omitempty"`
}

// Link returns the href of the first link with the relation, or "".
func (e Entry) Link(rel string) string {
	for _, l := range e.Links {
		if l.Rel == rel {
			return l.Href
		}
	}
	return ""
}

// xmlChar reports whether r is a Char of XML 1.0 (§2.2).
func xmlChar(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD ||
		(r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
}

// clean makes s safe for an XML 1.0 text or attribute value: invalid UTF-8
// and characters XML 1.0 does not allow are dropped, then s is trimmed and
// capped at max bytes (at a rune boundary, with "…"). encoding/xml escapes
// the rest.
func clean(s string, max int) string {
	ok := utf8.ValidString(s)
	if ok {
		for _, r := range s {
			if !xmlChar(r) {
				ok = false
				break
			}
		}
	}
	if !ok {
		var b strings.Builder
		for i := 0; i < len(s); {
			r, n := utf8.DecodeRuneInString(s[i:])
			if !(r == utf8.RuneError && n == 1) && xmlChar(r) {
				b.WriteString(s[i : i+n])
			}
			i += n
		}
		s = b.String()
	}
	s = strings.TrimSpace(s)
	if max > 0 && len(s) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = strings.TrimSpace(s[:cut]) + "…"
	}
	return s
}
