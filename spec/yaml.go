package spec

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Limits bound the work the parser does on untrusted input. The defaults
// are far above any real description (the largest in the public collection
// is 14 KB and nests 9 levels deep).
type Limits struct {
	MaxBytes int // size of the YAML text
	MaxDepth int // nesting of mappings and sequences
	MaxNodes int // nodes after expanding aliases (defeats "billion laughs")
}

// DefaultLimits are used when Options.Limits is zero. MaxNodes is 80 times
// the largest real description (1267 nodes); the YAML library needs about
// 150 bytes per node, so it also bounds the memory a description can make
// the parser and the alias expansion use (about 15 MB each).
var DefaultLimits = Limits{MaxBytes: 8 << 20, MaxDepth: 32, MaxNodes: 100_000}

// ParseError is a problem found before any field could be checked: the text
// is not YAML, not a mapping, or exceeds a limit. Line and Column are 1-based
// (0 when unknown).
type ParseError struct {
	Msg          string
	Line, Column int
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
	}
	return e.Msg
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML parses one YAML document into a mapping node. Aliases are
// expanded into copies so that later passes see a plain tree; a %YAML 1.2
// directive (which the YAML library refuses) is accepted.
func parseYAML(data []byte, lim Limits) (*yaml.Node, *ParseError) {
	if lim.MaxBytes > 0 && len(data) > lim.MaxBytes {
		return nil, &ParseError{Msg: fmt.Sprintf("the description is %d bytes; the limit is %d bytes (real descriptions are a few KB: move data into files and reference them)", len(data), lim.MaxBytes)}
	}
	if !utf8.Valid(data) {
		line, col := firstInvalidUTF8(data)
		return nil, &ParseError{Msg: "the description is not valid UTF-8; save it as UTF-8", Line: line, Column: col}
	}
	data = AcceptYAML12(data)
	budget := lim.MaxNodes
	if budget <= 0 {
		budget = DefaultLimits.MaxNodes
	}
	// The YAML library builds the whole tree before the node budget below
	// can see it, so refuse documents that may hold too many nodes first.
	if n := nodeBound(data); n > budget {
		return nil, &ParseError{Msg: fmt.Sprintf("the description is too complex: it may hold up to %d YAML values, the limit is %d (real descriptions hold a few thousand)", n, budget)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		return nil, yamlError(err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &ParseError{Msg: "the description is empty; it must be a YAML mapping with at least 'type' and 'format_version'"}
	}
	// A description is one YAML document, as in the reference (whose
	// loader refuses a second one); a second document would be ignored.
	var next yaml.Node
	if err := dec.Decode(&next); err != io.EOF {
		if err != nil {
			return nil, yamlError(err)
		}
		return nil, &ParseError{Msg: "the file holds more than one YAML document (a '---' line starts another); a description is a single document", Line: next.Line, Column: next.Column}
	}
	root := doc.Content[0]
	depth := lim.MaxDepth
	if depth <= 0 {
		depth = DefaultLimits.MaxDepth
	}
	root, perr := expand(root, 0, depth, &budget)
	if perr != nil {
		return nil, perr
	}
	if root.Kind != yaml.MappingNode {
		return nil, &ParseError{Msg: fmt.Sprintf("the description must be a YAML mapping (key: value pairs), found %s", kindName(root)), Line: root.Line, Column: root.Column}
	}
	for i := 0; i < len(root.Content); i += 2 {
		k := root.Content[i]
		if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
			return nil, &ParseError{Msg: fmt.Sprintf("top-level keys must be strings, found %s", kindName(k)), Line: k.Line, Column: k.Column}
		}
	}
	return root, nil
}

func yamlError(err error) *ParseError {
	msg := err.Error()
	pe := &ParseError{Msg: "invalid YAML: " + msg}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		pe.Line, _ = strconv.Atoi(m[1])
		pe.Msg = "invalid YAML: " + m[2]
	}
	return pe
}

// nodeBound returns an upper bound of the number of nodes the YAML library
// builds for data (aliases not expanded): every node but a document's root
// needs an indicator — '-' (block sequence entry), ':' or '?' (mapping key
// and value), '[' or '{' (a flow collection and its first entry), ','
// (a further flow entry, which may be an implicit key: value pair), '*'.
func nodeBound(data []byte) int {
	n := 2 // document and root
	for _, b := range data {
		switch b {
		case '-', '*':
			n++
		case ':', '?', ',', '[':
			n += 2
		case '{':
			n += 3
		}
	}
	return n
}

// AcceptYAML12 rewrites a leading "%YAML 1.2" directive to "%YAML 1.1" so the
// YAML library accepts it. The library already resolves scalars by the YAML
// 1.2 core schema (yes/no are strings, 1e-06 is a float), so nothing else
// changes; line numbers are preserved.
func AcceptYAML12(data []byte) []byte {
	i := 0
	for i < len(data) {
		// skip blank and comment lines before the directive
		end := bytes.IndexByte(data[i:], '\n')
		if end < 0 {
			end = len(data) - i
		}
		line := bytes.TrimSpace(data[i : i+end])
		if len(line) == 0 || line[0] == '#' {
			i += end + 1
			continue
		}
		if bytes.HasPrefix(line, []byte("%YAML 1.2")) {
			out := append([]byte(nil), data...)
			j := i + bytes.Index(data[i:], []byte("1.2"))
			out[j+2] = '1'
			return out
		}
		return data
	}
	return data
}

func firstInvalidUTF8(b []byte) (line, col int) {
	line, col = 1, 1
	for len(b) > 0 {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size <= 1 {
			return line, col
		}
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
		b = b[size:]
	}
	return line, col
}

// expand returns n with aliases replaced by deep copies of their anchors,
// enforcing the depth and node budgets.
func expand(n *yaml.Node, depth, maxDepth int, budget *int) (*yaml.Node, *ParseError) {
	*budget--
	if *budget < 0 {
		return nil, &ParseError{Msg: "the description expands to too many YAML nodes (aliases referring to aliases?); it is refused to protect the server", Line: n.Line, Column: n.Column}
	}
	if depth > maxDepth {
		return nil, &ParseError{Msg: fmt.Sprintf("the description nests deeper than %d levels", maxDepth), Line: n.Line, Column: n.Column}
	}
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil, &ParseError{Msg: "unknown YAML alias", Line: n.Line, Column: n.Column}
		}
		c, err := expand(n.Alias, depth, maxDepth, budget)
		if err != nil {
			return nil, err
		}
		cp := *c
		cp.Anchor = ""
		return &cp, nil
	}
	if len(n.Content) == 0 && n.Anchor == "" {
		return n, nil
	}
	cp := *n
	cp.Anchor = ""
	cp.Content = make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		e, err := expand(c, depth+1, maxDepth, budget)
		if err != nil {
			return nil, err
		}
		cp.Content[i] = e
	}
	if cp.Kind == yaml.MappingNode {
		if err := mergeKeys(&cp); err != nil {
			return nil, err
		}
	}
	return &cp, nil
}

// mergeKeys applies YAML merge keys ("<<: *anchor"), which real descriptions
// occasionally use, so that validation sees the merged mapping.
func mergeKeys(m *yaml.Node) *ParseError {
	hasMerge := false
	for i := 0; i < len(m.Content); i += 2 {
		if m.Content[i].Tag == "!!merge" {
			hasMerge = true
		}
	}
	if !hasMerge {
		return nil
	}
	var own []*yaml.Node
	var merged []*yaml.Node
	for i := 0; i < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Tag != "!!merge" {
			own = append(own, k, v)
			continue
		}
		srcs := []*yaml.Node{v}
		if v.Kind == yaml.SequenceNode {
			srcs = v.Content
		}
		for _, s := range srcs {
			if s.Kind != yaml.MappingNode {
				return &ParseError{Msg: "a YAML merge key (<<) needs a mapping", Line: s.Line, Column: s.Column}
			}
			merged = append(merged, s.Content...)
		}
	}
	// own keys win, then the first merged occurrence (a set, not a lookup
	// per key: merging n keys into n keys was quadratic)
	out := own
	have := make(map[string]bool, (len(own)+len(merged))/2)
	for i := 0; i < len(own); i += 2 {
		have[own[i].Value] = true
	}
	for i := 0; i < len(merged); i += 2 {
		if !have[merged[i].Value] {
			have[merged[i].Value] = true
			out = append(out, merged[i], merged[i+1])
		}
	}
	m.Content = out
	return nil
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return "null"
		case "!!str":
			return fmt.Sprintf("the string %q", clip(n.Value, 40))
		case "!!int":
			return "the integer " + clip(n.Value, 40)
		case "!!float":
			return "the number " + clip(n.Value, 40)
		case "!!bool":
			return "the boolean " + n.Value
		case "!!timestamp":
			return "the date " + n.Value
		}
		return "the value " + clip(n.Value, 40)
	}
	return "nothing"
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// --- small helpers for mapping nodes ---------------------------------------

// lookup returns the value of key in mapping m, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// keyNode returns the key node of key in mapping m, or nil.
func keyNode(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

// set sets key to v in mapping m, keeping its position if present, else
// appending.
func set(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, strNode(key), v)
}

// del removes key from mapping m and returns its value (nil if absent).
func del(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			v := m.Content[i+1]
			m.Content = append(m.Content[:i:i], m.Content[i+2:]...)
			return v
		}
	}
	return nil
}

// rename renames key old to new in m, keeping order; no-op if old is absent.
func rename(m *yaml.Node, old, new string) {
	if k := keyNode(m, old); k != nil {
		k.Value = new
	}
}

func strNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func intNode(i int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(i, 10)}
}

func floatNode(f float64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: formatFloat(f)}
}

func boolNode(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

func nullNode() *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"} }

func mapNode(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(kv); i += 2 {
		m.Content = append(m.Content, strNode(kv[i].(string)), kv[i+1].(*yaml.Node))
	}
	return m
}

func seqNode(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Content: items}
}

func formatFloat(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !bytes.ContainsAny([]byte(s), ".eEn") { // keep it a float in YAML
		s += ".0"
	}
	return s
}

// isNull reports whether n is absent or a YAML null.
func isNull(n *yaml.Node) bool {
	return n == nil || (n.Kind == yaml.ScalarNode && n.Tag == "!!null")
}

// deepCopy copies a node tree.
func deepCopy(n *yaml.Node) *yaml.Node {
	if n == nil {
		return nil
	}
	cp := *n
	if len(n.Content) > 0 {
		cp.Content = make([]*yaml.Node, len(n.Content))
		for i, c := range n.Content {
			cp.Content[i] = deepCopy(c)
		}
	}
	return &cp
}
