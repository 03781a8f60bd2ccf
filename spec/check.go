package spec

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// checker collects every problem of one description in one pass. Field
// checks may normalise the nodes they accept (e.g. "512" → 512, axis id "b"
// → "batch"), so that after a successful validation the tree is canonical and
// decodes into the typed structs.
type checker struct {
	rep   *Report
	opts  *Options
	last  *yaml.Node     // nearest node with a position, for problems without one
	files []*fileRefInfo // file references met so far, for the file checks
}

func (c *checker) pos(n *yaml.Node) (int, int) {
	if n != nil && n.Line > 0 {
		return n.Line, n.Column
	}
	if c.last != nil {
		return c.last.Line, c.last.Column
	}
	return 0, 0
}

func (c *checker) errorf(n *yaml.Node, p path, format string, args ...any) {
	line, col := c.pos(n)
	c.rep.Errors = append(c.rep.Errors, Problem{Loc: p.String(), Msg: fmt.Sprintf(format, args...), Severity: Error, Line: line, Column: col})
}

func (c *checker) warnf(sev Severity, n *yaml.Node, p path, format string, args ...any) {
	line, col := c.pos(n)
	pr := Problem{Loc: p.String(), Msg: fmt.Sprintf(format, args...), Severity: sev, Line: line, Column: col}
	if c.opts.WarningLevel > 0 && sev >= c.opts.WarningLevel {
		pr.Severity = Error
		c.rep.Errors = append(c.rep.Errors, pr)
		return
	}
	c.rep.Warnings = append(c.rep.Warnings, pr)
}

// check is a value rule: it inspects (and may normalise) n at p.
type check func(c *checker, n *yaml.Node, p path)

// field describes one key of a mapping.
type field struct {
	key      string
	required bool
	fair     bool // optional, but missing or empty raises an ALERT
	check    check
	// missing, if set, is the severity of a "missing" warning raised when
	// the key is absent or null (format 0.2 style, see genericBase02).
	missing Severity
}

const fairMsg = "Needs to be filled for FAIR compliance"

// object checks mapping n against fields. Unknown keys are errors unless
// allowExtra. It returns the mapping's values by key (nil if n is not a
// mapping).
func (c *checker) object(n *yaml.Node, p path, fields []field, allowExtra bool) map[string]*yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		c.errorf(n, p, "expected a mapping (key: value pairs), found %s", kindName(n))
		return nil
	}
	prev := c.last
	c.last = n
	defer func() { c.last = prev }()
	vals := make(map[string]*yaml.Node, len(n.Content)/2)
	known := make(map[string]bool, len(fields))
	for _, f := range fields {
		known[f.key] = true
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode {
			c.errorf(k, p, "keys must be strings, found %s", kindName(k))
			continue
		}
		if _, dup := vals[k.Value]; dup {
			c.errorf(k, p.k(k.Value), "duplicate key %q", k.Value)
		}
		vals[k.Value] = n.Content[i+1]
		if !known[k.Value] && !allowExtra {
			c.errorf(k, p.k(k.Value), "unknown field %q%s", k.Value, suggest(k.Value, fields))
		}
	}
	for _, f := range fields {
		v, ok := vals[f.key]
		switch {
		case !ok && f.required:
			c.errorf(n, p.k(f.key), "missing required field %q", f.key)
		case !ok || isNull(v):
			if f.fair {
				c.warnf(Alert, n, p.k(f.key), fairMsg)
			}
			if f.missing > 0 {
				c.warnf(f.missing, n, p.k(f.key), "missing")
			}
			if ok && f.check != nil && f.required {
				f.check(c, v, p.k(f.key))
			}
		default:
			if f.fair && isEmpty(v) {
				c.warnf(Alert, v, p.k(f.key), fairMsg)
			}
			if f.check != nil {
				f.check(c, v, p.k(f.key))
			}
		}
	}
	return vals
}

// suggest proposes a known key close to an unknown one.
func suggest(key string, fields []field) string {
	best, bestD := "", 3
	for _, f := range fields {
		if abs(len(key)-len(f.key)) >= bestD {
			continue // the distance is at least the difference in length
		}
		if d := editDistance(key, f.key); d < bestD {
			best, bestD = f.key, d
		}
	}
	if best != "" {
		return fmt.Sprintf("; did you mean %q?", best)
	}
	return ""
}

func editDistance(a, b string) int {
	if len(a) > 40 || len(b) > 40 {
		return 99
	}
	var prevBuf, curBuf [41]int // on the stack: suggest runs once per unknown key
	prev, cur := prevBuf[:len(b)+1], curBuf[:len(b)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func isEmpty(n *yaml.Node) bool {
	if isNull(n) {
		return true
	}
	switch n.Kind {
	case yaml.SequenceNode, yaml.MappingNode:
		return len(n.Content) == 0
	case yaml.ScalarNode:
		return n.Tag == "!!str" && n.Value == ""
	}
	return false
}

// --- scalar access with the reference's lax coercions ------------------------

// str returns n as a string. Numbers are not strings (as in the reference).
func (c *checker) str(n *yaml.Node, p path) (string, bool) {
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		return n.Value, true
	}
	c.errorf(n, p, "expected a string, found %s", kindName(n))
	return "", false
}

// integer returns n as an int64; integral floats and numeric strings are
// accepted and normalised.
func (c *checker) integer(n *yaml.Node, p path) (int64, bool) {
	if v, ok := asInt(n); ok {
		n.Tag, n.Value, n.Style = "!!int", strconv.FormatInt(v, 10), 0
		return v, true
	}
	c.errorf(n, p, "expected an integer, found %s", kindName(n))
	return 0, false
}

func asInt(n *yaml.Node) (int64, bool) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return 0, false
	}
	switch n.Tag {
	case "!!int":
		var v int64
		if err := n.Decode(&v); err == nil {
			return v, true
		}
	case "!!float", "!!str":
		s := strings.TrimSpace(n.Value)
		if v, err := strconv.ParseInt(s, 10, 64); err == nil {
			return v, true
		}
		if n.Tag == "!!float" || looksNumeric(s) {
			f, err := strconv.ParseFloat(s, 64)
			if err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
				return int64(f), true
			}
		}
	}
	return 0, false
}

// looksNumeric reports whether s is a number in the reference's lax
// parsing of strings (pydantic's, which is Rust's f64 syntax): decimal
// digits with an optional sign, point and exponent, or the words inf,
// infinity and nan in any case with an optional sign. Hexadecimal floats
// and digit separators, which Go also reads, are not numbers there.
func looksNumeric(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil && !strings.ContainsAny(s, "xX_")
}

// number returns n as a finite float64 (ints and numeric strings accepted).
func (c *checker) number(n *yaml.Node, p path) (float64, bool) {
	f, ok := asFloat(n)
	if !ok {
		c.errorf(n, p, "expected a number, found %s", kindName(n))
		return 0, false
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		c.errorf(n, p, "expected a finite number, found %s", n.Value)
		return 0, false
	}
	if n.Tag == "!!str" {
		n.Tag, n.Value, n.Style = "!!float", formatFloat(f), 0
	}
	return f, true
}

func asFloat(n *yaml.Node) (float64, bool) {
	if n == nil || n.Kind != yaml.ScalarNode {
		return 0, false
	}
	switch n.Tag {
	case "!!int", "!!float":
		var f float64
		if err := n.Decode(&f); err == nil {
			return f, true
		}
	case "!!str":
		s := strings.TrimSpace(n.Value)
		if looksNumeric(s) {
			f, _ := strconv.ParseFloat(s, 64)
			return f, true
		}
	}
	return 0, false
}

// boolean returns n as a bool (true/false, and the reference's lax spellings).
func (c *checker) boolean(n *yaml.Node, p path) (bool, bool) {
	if n != nil && n.Kind == yaml.ScalarNode {
		switch n.Tag {
		case "!!bool":
			return n.Value == "true" || n.Value == "True" || n.Value == "TRUE", true
		case "!!int":
			if n.Value == "0" || n.Value == "1" {
				b := n.Value == "1"
				n.Tag, n.Value = "!!bool", strconv.FormatBool(b)
				return b, true
			}
		case "!!str":
			switch strings.ToLower(n.Value) {
			case "true", "yes", "on", "y", "t", "1":
				n.Tag, n.Value, n.Style = "!!bool", "true", 0
				return true, true
			case "false", "no", "off", "n", "f", "0":
				n.Tag, n.Value, n.Style = "!!bool", "false", 0
				return false, true
			}
		}
	}
	c.errorf(n, p, "expected true or false, found %s", kindName(n))
	return false, false
}

// list returns the items of a sequence node.
func (c *checker) list(n *yaml.Node, p path) ([]*yaml.Node, bool) {
	if n != nil && n.Kind == yaml.SequenceNode {
		return n.Content, true
	}
	c.errorf(n, p, "expected a list, found %s", kindName(n))
	return nil, false
}

// --- reusable rules ------------------------------------------------------------

func anyValue(*checker, *yaml.Node, path) {}

func strRule(minLen, maxLen int, rules ...func(string) string) check {
	return func(c *checker, n *yaml.Node, p path) {
		s, ok := c.str(n, p)
		if !ok {
			return
		}
		l := utf8.RuneCountInString(s)
		if l < minLen {
			if minLen == 1 {
				c.errorf(n, p, "must not be empty")
			} else {
				c.errorf(n, p, "must have at least %d characters, has %d", minLen, l)
			}
			return
		}
		if maxLen > 0 && l > maxLen {
			c.errorf(n, p, "must have at most %d characters, has %d", maxLen, l)
			return
		}
		for _, r := range rules {
			if msg := r(s); msg != "" {
				c.errorf(n, p, "%s", msg)
				return
			}
		}
	}
}

var anyStr = strRule(0, 0)

func pattern(re *regexp.Regexp, what string) func(string) string {
	return func(s string) string {
		if !re.MatchString(s) {
			return fmt.Sprintf("%q is not %s", clip(s, 60), what)
		}
		return ""
	}
}

func intRule(lo, hi int64) check {
	return func(c *checker, n *yaml.Node, p path) {
		v, ok := c.integer(n, p)
		if !ok {
			return
		}
		if v < lo {
			c.errorf(n, p, "must be ≥ %d, is %d", lo, v)
		} else if v > hi {
			c.errorf(n, p, "must be ≤ %d, is %d", hi, v)
		}
	}
}

const maxInt = math.MaxInt64

// floatRule checks lo (<|≤) v (<|≤) hi.
func floatRule(lo float64, loOpen bool, hi float64, hiOpen bool) check {
	return func(c *checker, n *yaml.Node, p path) {
		v, ok := c.number(n, p)
		if !ok {
			return
		}
		if v < lo || (loOpen && v == lo) {
			op := "≥"
			if loOpen {
				op = ">"
			}
			c.errorf(n, p, "must be %s %g, is %g", op, lo, v)
		} else if v > hi || (hiOpen && v == hi) {
			op := "≤"
			if hiOpen {
				op = "<"
			}
			c.errorf(n, p, "must be %s %g, is %g", op, hi, v)
		}
	}
}

var anyNumber = floatRule(math.Inf(-1), false, math.Inf(1), false)

func boolRule(c *checker, n *yaml.Node, p path) { c.boolean(n, p) }

func enumRule(values ...string) check {
	return func(c *checker, n *yaml.Node, p path) {
		s, ok := c.str(n, p)
		if !ok {
			return
		}
		for _, v := range values {
			if s == v {
				return
			}
		}
		c.errorf(n, p, "%q is not one of %s", clip(s, 60), strings.Join(values, ", "))
	}
}

func listRule(minLen int, item check) check {
	return func(c *checker, n *yaml.Node, p path) {
		items, ok := c.list(n, p)
		if !ok {
			return
		}
		if len(items) < minLen {
			c.errorf(n, p, "needs at least %d item(s), has %d", minLen, len(items))
		}
		if item == nil {
			return
		}
		for i, it := range items {
			item(c, it, p.i(i))
		}
	}
}

func mapRule(c *checker, n *yaml.Node, p path) {
	if n == nil || n.Kind != yaml.MappingNode {
		c.errorf(n, p, "expected a mapping, found %s", kindName(n))
	}
}

func objectRule(fields []field, allowExtra bool) check {
	return func(c *checker, n *yaml.Node, p path) { c.object(n, p, fields, allowExtra) }
}

// nullable accepts null or whatever inner accepts.
func nullable(inner check) check {
	return func(c *checker, n *yaml.Node, p path) {
		if isNull(n) {
			return
		}
		inner(c, n, p)
	}
}

// noInfNaN rejects infinite and NaN numbers anywhere in a free-form value.
func yamlValue(c *checker, n *yaml.Node, p path) {
	if n == nil {
		return
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!float" {
			if f, ok := asFloat(n); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
				c.errorf(n, p, "infinite or NaN numbers are not allowed")
			}
		}
	case yaml.SequenceNode:
		for i, it := range n.Content {
			yamlValue(c, it, p.i(i))
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			yamlValue(c, n.Content[i+1], p.k(n.Content[i].Value))
		}
	}
}
