package search

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of the query text. Longer texts and terms are cut, never refused:
// a search box should not fail on a pasted paragraph.
const (
	MaxTextBytes = 1024 // bytes of Query.Text looked at
	MaxTerms     = 16   // words kept
	MaxTermRunes = 64   // runes kept of one word
)

// Terms splits a query text into the words searched for: runs of letters
// and numbers (with the combining marks that follow them), lower-cased, at
// most MaxTerms of at most MaxTermRunes runes each, duplicates dropped.
// Everything else — quotes, operators, '*', ':', parentheses, invalid
// UTF-8 — separates words and is never passed to a backend's query syntax,
// so `NEAR(a b)` searches for the words "near", "a" and "b". Both backends
// tokenise documents the same way (letters and numbers), so a term is
// always a whole word of the document index. prefix reports whether the
// text ends inside its last word (a search box's word being typed): the
// backends then match that word as a prefix. A text longer than
// MaxTextBytes is cut before its last whole word within the limit.
func Terms(text string) (terms []string, prefix bool) {
	if len(text) > MaxTextBytes {
		text = text[:MaxTextBytes]
		if i := strings.LastIndexFunc(text, func(r rune) bool { return !isWord(r) }); i >= 0 {
			text = text[:i]
		}
	}
	seen := map[string]bool{}
	var b strings.Builder
	n := 0
	flush := func() {
		if b.Len() > 0 && len(terms) < MaxTerms {
			t := b.String()
			if !seen[t] {
				seen[t] = true
				terms = append(terms, t)
			}
		}
		b.Reset()
		n = 0
	}
	last := false
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		last = false
		switch {
		case r == utf8.RuneError && size <= 1, !isWord(r):
			flush()
			continue
		case unicode.IsMark(r) && b.Len() == 0:
			continue // a mark belongs to the letter before it
		}
		last = true
		if n < MaxTermRunes {
			b.WriteRune(unicode.ToLower(r))
			n++
		}
	}
	flush()
	return terms, last && len(terms) > 0
}

func isWord(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsMark(r) }

// clean makes a stored string safe for every backend: valid UTF-8 without
// NUL bytes (PostgreSQL refuses both), at most max bytes (0: no limit).
func clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if max > 0 && len(s) > max {
		s = s[:max]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
	}
	return s
}
