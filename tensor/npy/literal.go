package npy

import (
	"fmt"
	"math"
	"strings"
)

// The header of an npy file is a Python dict literal, which numpy reads with
// ast.literal_eval. This file parses the subset of Python literals that can
// appear there: dicts, tuples, lists, strings, integers (with Python 2's L
// suffix), True, False and None.

type litKind int

const (
	litStr litKind = iota
	litInt
	litBool
	litNone
	litTuple
	litList
	litDict
)

func (k litKind) String() string {
	return [...]string{"a string", "an integer", "a bool", "None", "a tuple", "a list", "a dict"}[k]
}

// literal is one parsed Python value.
type literal struct {
	kind  litKind
	str   string    // litStr
	num   int64     // litInt
	truth bool      // litBool
	items []literal // litTuple, litList; litDict: key, value, key, value, …
}

// maxDepth bounds the nesting of brackets, which only structured dtypes use.
const maxDepth = 64

type syntaxError struct {
	pos int
	msg string
}

func (e *syntaxError) Error() string { return fmt.Sprintf("%s at byte %d", e.msg, e.pos) }

type parser struct {
	s     []byte
	pos   int
	depth int
}

// parseLiteral parses s as one Python literal followed only by whitespace.
func parseLiteral(s []byte) (literal, error) {
	p := &parser{s: s}
	v, err := p.value()
	if err != nil {
		return literal{}, err
	}
	p.skipSpace()
	if p.pos < len(p.s) {
		return literal{}, p.errorf("unexpected %s after the dict", p.describe())
	}
	return v, nil
}

func (p *parser) errorf(format string, args ...any) error {
	return &syntaxError{pos: p.pos, msg: fmt.Sprintf(format, args...)}
}

// describe names the byte at the current position for error messages.
func (p *parser) describe() string {
	if p.pos >= len(p.s) {
		return "end of header"
	}
	return fmt.Sprintf("%q", p.s[p.pos])
}

func (p *parser) skipSpace() {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			p.pos++
		default:
			return
		}
	}
}

func (p *parser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func (p *parser) value() (literal, error) {
	p.skipSpace()
	switch c := p.peek(); {
	case c == '{':
		return p.sequence('{', '}', litDict)
	case c == '(':
		return p.sequence('(', ')', litTuple)
	case c == '[':
		return p.sequence('[', ']', litList)
	case c == '\'' || c == '"':
		return p.str()
	case (c == 'u' || c == 'U') && p.pos+1 < len(p.s) && (p.s[p.pos+1] == '\'' || p.s[p.pos+1] == '"'):
		p.pos++ // u'…' is an ordinary string in Python 3
		return p.str()
	case c == '-' || c == '+' || isDigit(c):
		return p.integer()
	case isLetter(c):
		return p.name()
	}
	return literal{}, p.errorf("expected a value, found %s", p.describe())
}

// sequence parses a dict, tuple or list. A parenthesized single value
// without a comma, "(5)", is that value, as in Python.
func (p *parser) sequence(open, close byte, kind litKind) (literal, error) {
	if p.depth++; p.depth > maxDepth {
		return literal{}, p.errorf("brackets nested deeper than %d", maxDepth)
	}
	defer func() { p.depth-- }()
	p.pos++ // open
	v := literal{kind: kind}
	sawComma := false
	for {
		p.skipSpace()
		if p.peek() == close {
			p.pos++
			if kind == litTuple && len(v.items) == 1 && !sawComma {
				return v.items[0], nil
			}
			return v, nil
		}
		if len(v.items) > 0 && !sawComma {
			return literal{}, p.errorf("expected ',' or %q, found %s", close, p.describe())
		}
		item, err := p.value()
		if err != nil {
			return literal{}, err
		}
		v.items = append(v.items, item)
		if kind == litDict {
			p.skipSpace()
			if p.peek() != ':' {
				return literal{}, p.errorf("expected ':' after a dict key, found %s", p.describe())
			}
			p.pos++
			val, err := p.value()
			if err != nil {
				return literal{}, err
			}
			v.items = append(v.items, val)
		}
		p.skipSpace()
		sawComma = p.peek() == ','
		if sawComma {
			p.pos++
		}
	}
}

// str parses a single-line Python string in ' or " quotes.
func (p *parser) str() (literal, error) {
	quote := p.s[p.pos]
	p.pos++
	var b strings.Builder
	for {
		if p.pos >= len(p.s) || p.s[p.pos] == '\n' {
			return literal{}, p.errorf("unterminated string")
		}
		c := p.s[p.pos]
		p.pos++
		switch {
		case c == quote:
			return literal{kind: litStr, str: b.String()}, nil
		case c == '\\' && p.pos < len(p.s):
			p.escape(&b)
		default:
			b.WriteByte(c)
		}
	}
}

// escape decodes the escape sequence after a backslash. Unknown escapes keep
// the backslash, as Python does.
func (p *parser) escape(b *strings.Builder) {
	c := p.s[p.pos]
	p.pos++
	switch c {
	case '\\', '\'', '"':
		b.WriteByte(c)
	case 'n':
		b.WriteByte('\n')
	case 't':
		b.WriteByte('\t')
	case 'r':
		b.WriteByte('\r')
	case '0':
		b.WriteByte(0)
	case 'x':
		if p.pos+2 <= len(p.s) && isHex(p.s[p.pos]) && isHex(p.s[p.pos+1]) {
			b.WriteByte(unhex(p.s[p.pos])<<4 | unhex(p.s[p.pos+1]))
			p.pos += 2
			return
		}
		b.WriteString(`\x`)
	default:
		b.WriteByte('\\')
		b.WriteByte(c)
	}
}

// integer parses an optionally signed decimal integer with an optional
// Python 2 L suffix.
func (p *parser) integer() (literal, error) {
	start := p.pos
	neg := p.peek() == '-'
	if p.peek() == '-' || p.peek() == '+' {
		p.pos++
	}
	if !isDigit(p.peek()) {
		return literal{}, p.errorf("expected digits after the sign, found %s", p.describe())
	}
	var n uint64
	for isDigit(p.peek()) {
		d := uint64(p.s[p.pos] - '0')
		if n > (math.MaxInt64-d)/10 {
			return literal{}, &syntaxError{pos: start, msg: "integer too large"}
		}
		n = 10*n + d
		p.pos++
	}
	switch c := p.peek(); {
	case c == 'L' || c == 'l':
		p.pos++
	case c == '.' || c == 'e' || c == 'E' || c == 'j' || c == 'x' || c == '_' || isLetter(c):
		return literal{}, p.errorf("only decimal integers are allowed, found %s", p.describe())
	}
	v := int64(n)
	if neg {
		v = -v
	}
	return literal{kind: litInt, num: v}, nil
}

func (p *parser) name() (literal, error) {
	start := p.pos
	for isLetter(p.peek()) || isDigit(p.peek()) {
		p.pos++
	}
	switch word := string(p.s[start:p.pos]); word {
	case "True", "False":
		return literal{kind: litBool, truth: word == "True"}, nil
	case "None":
		return literal{kind: litNone}, nil
	default:
		return literal{}, &syntaxError{pos: start, msg: fmt.Sprintf("unexpected name %q (only True, False and None are allowed)", word)}
	}
}

func isDigit(c byte) bool  { return '0' <= c && c <= '9' }
func isLetter(c byte) bool { return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '_' }
func isHex(c byte) bool    { return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case isDigit(c):
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
