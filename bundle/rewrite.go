package bundle

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// This file edits the description text in place — a file reference
// replaced, a sha256 filled in — so that comments, order and quoting of
// everything else survive. Every edit first checks that the text at its
// position holds the value the validator saw there; a reference it cannot
// find on one line (a multi-line or block scalar) is refused rather than
// guessed.

// textEdit is one change of the description text.
type textEdit struct {
	line, col int    // 1-based; col counts characters (as the YAML parser does)
	old       string // the scalar value at line:col (replace)
	text      string // the new value (replace), or the line to add after line (insert)
	insert    bool
	isNull    bool   // replace a null value (null, ~ or nothing) with text
	after     string // append after the token, which must be followed by ',' or '}' (flow mapping)
}

// applyEdits returns text with edits applied, or an error naming the line
// of an edit that does not match the text.
func applyEdits(text []byte, edits []textEdit) ([]byte, error) {
	lines := strings.SplitAfter(string(text), "\n")
	sort.SliceStable(edits, func(i, j int) bool {
		if edits[i].line != edits[j].line {
			return edits[i].line > edits[j].line
		}
		return edits[i].col > edits[j].col
	})
	done := map[[2]int]textEdit{}
	// Replacements first, right to left, then insertions after their line:
	// appending to a line never moves a position still to be edited.
	for _, e := range edits {
		if e.insert {
			continue
		}
		key := [2]int{e.line, e.col}
		if prev, ok := done[key]; ok {
			if prev.text != e.text || prev.after != e.after { // one value (an anchor) asked to become two
				return nil, fmt.Errorf("line %d: one value (an anchor?) names files packaged differently (%s, %s); write the value out at each use", e.line, prev.text, e.text)
			}
			continue
		}
		done[key] = e
		if e.line < 1 || e.line > len(lines) {
			return nil, fmt.Errorf("line %d is not in the text", e.line)
		}
		l := lines[e.line-1]
		start := 0
		if e.line == 1 && strings.HasPrefix(l, "\ufeff") {
			start = len("\ufeff") // the parser does not count a byte order mark
		}
		off, ok := charOffset(l, start, e.col)
		if !ok {
			return nil, fmt.Errorf("line %d has no column %d", e.line, e.col)
		}
		n, text, ok := tokenAt(l[off:], e)
		if !ok {
			return nil, fmt.Errorf("line %d, column %d: cannot edit %q there (write it as a one-line value in a block mapping)", e.line, e.col, e.old)
		}
		lines[e.line-1] = l[:off] + text + l[off+n:]
	}
	inserted := map[int]bool{}
	for _, e := range edits {
		if !e.insert || inserted[e.line] {
			continue
		}
		inserted[e.line] = true
		if e.line < 1 || e.line > len(lines) {
			return nil, fmt.Errorf("line %d is not in the text", e.line)
		}
		l := lines[e.line-1]
		eol := "\n"
		if strings.HasSuffix(l, "\r\n") {
			eol = "\r\n"
		} else if !strings.HasSuffix(l, "\n") {
			l += eol
		}
		lines[e.line-1] = l + e.text + eol
	}
	return []byte(strings.Join(lines, "")), nil
}

// charOffset returns the byte offset of 1-based character column col in l,
// starting from byte start.
func charOffset(l string, start, col int) (int, bool) {
	off := start
	for c := 1; c < col; c++ {
		if off >= len(l) {
			return 0, false
		}
		_, size := utf8.DecodeRuneInString(l[off:])
		off += size
	}
	return off, off <= len(l)
}

// tokenAt measures the scalar token at the start of rest and checks it holds
// e.old (or a null); it returns the token's length and its replacement.
func tokenAt(rest string, e textEdit) (int, string, bool) {
	if e.isNull {
		for _, w := range []string{"null", "Null", "NULL", "~"} {
			if strings.HasPrefix(rest, w) && endsToken(rest[len(w):]) {
				return len(w), e.text, true
			}
		}
		if t := strings.TrimSpace(strings.TrimRight(rest, "\r\n")); t == "" || t[0] == '#' {
			return 0, " " + e.text, true // "sha256:" with nothing after
		}
		return 0, "", false
	}
	n := 0
	switch {
	case strings.HasPrefix(rest, `"`):
		for i := 1; i < len(rest) && rest[i] != '\n'; i++ {
			if rest[i] == '\\' {
				i++
			} else if rest[i] == '"' {
				n = i + 1
				break
			}
		}
	case strings.HasPrefix(rest, "'"):
		for i := 1; i < len(rest) && rest[i] != '\n'; i++ {
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					i++
					continue
				}
				n = i + 1
				break
			}
		}
	case strings.HasPrefix(rest, e.old) && endsToken(rest[len(e.old):]):
		n = len(e.old)
	}
	if n == 0 {
		return 0, "", false
	}
	var got string
	if err := yaml.Unmarshal([]byte(rest[:n]), &got); err != nil || got != e.old {
		return 0, "", false
	}
	var text string
	switch {
	case e.text == e.old:
		text = rest[:n] // unchanged, only checked
	case rest[0] == '"' || rest[0] == '\'':
		text = quoted(e.text) // keep the author's choice to quote
	default:
		text = scalar(e.text)
	}
	if e.after != "" {
		next := strings.TrimLeft(rest[n:], " \t")
		if !strings.HasPrefix(next, ",") && !strings.HasPrefix(next, "}") {
			return 0, "", false
		}
		text += e.after
	}
	return n, text, true
}

// endsToken reports whether s can follow a plain scalar in block or flow
// context.
func endsToken(s string) bool {
	return s == "" || strings.ContainsRune(" \t\r\n,]}#", rune(s[0]))
}

// safePlain matches names that read back as the same string when written
// without quotes, in block and flow context alike (one inner ':' allowed,
// for format 0.4's "conda:env.yaml" and "unet.py:UNet").
var safePlain = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.+-]*(:[A-Za-z0-9_.+-]+)?$`)

// scalar writes s as a YAML scalar: plain when it reads back as itself,
// else double-quoted.
func scalar(s string) string {
	var got any
	if safePlain.MatchString(s) && yaml.Unmarshal([]byte(s), &got) == nil && got == s {
		return s
	}
	return quoted(s)
}

// quoted writes s double-quoted; JSON escapes are valid in YAML.
func quoted(s string) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(buf.String(), "\n")
}
