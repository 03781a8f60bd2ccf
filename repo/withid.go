package repo

import (
	"bytes"
	"errors"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/zoo-bioimage/zoo/spec"
)

// withID sets the description's top-level id to id, working on the YAML
// structure rather than on lines of text. It first edits the text in
// place — only the id's value, so comments and layout survive — when the
// value is a scalar on one line; otherwise (a value spanning lines, an
// anchor that aliases refer to, a quoted key, a flow mapping, no id yet
// and a document that cannot take one more line) it sets the id in the
// parsed tree and writes the tree out again. Either way the result is
// parsed again and must equal the description with only its id changed;
// otherwise withID fails rather than store a description that would not
// load. desc has passed spec validation (size, depth and alias-expansion
// limits), so decoding it here is bounded.
func withID(desc []byte, id string) ([]byte, error) {
	want, err := decodeMap(desc)
	if err != nil {
		return nil, err
	}
	want["id"] = id
	var doc yaml.Node
	if err := yaml.Unmarshal(spec.AcceptYAML12(desc), &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("the description is not a mapping")
	}
	root := doc.Content[0]
	key, val := -1, (*yaml.Node)(nil)
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i]; k.Kind == yaml.ScalarNode && k.Value == "id" {
			key, val = i, root.Content[i+1]
		}
	}
	same := func(out []byte) bool {
		got, err := decodeMap(out)
		return err == nil && reflect.DeepEqual(got, want)
	}
	if out, ok := editInPlace(desc, root, val, id); ok && same(out) {
		return out, nil
	}
	// Structural: replace (or add) the value node and write the tree.
	scalar := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: id}
	if key >= 0 {
		if val.Anchor != "" {
			unalias(&doc, val)
		}
		// A comment on the old value stays with the key.
		scalar.LineComment = val.LineComment
		root.Content[key+1] = scalar
	} else {
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "id"}, scalar)
	}
	root.Style &^= yaml.FlowStyle
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	if out := buf.Bytes(); same(out) {
		return out, nil
	}
	return nil, errors.New("the id cannot be set without changing other fields")
}

// editInPlace replaces the text of a one-line scalar id value, or appends
// an id line to a block mapping that has none. ok is false when neither
// applies.
func editInPlace(desc []byte, root, val *yaml.Node, id string) ([]byte, bool) {
	if root.Style&yaml.FlowStyle != 0 {
		return nil, false
	}
	if val == nil {
		trimmed := bytes.TrimRight(desc, " \t\r\n")
		if bytes.HasSuffix(trimmed, []byte("...")) {
			return nil, false
		}
		nl := "\n"
		if bytes.Contains(desc, []byte("\r\n")) {
			nl = "\r\n"
		}
		out := append(append([]byte(nil), trimmed...), nl...)
		return append(append(out, "id: "+id...), nl...), true
	}
	if val.Kind != yaml.ScalarNode || val.Anchor != "" || val.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 || val.Line < 1 || val.Column < 1 {
		return nil, false
	}
	// The value's line, and the value from its column to the line's end
	// (a comment after it is kept by putting it back).
	start := 0
	for l := 1; l < val.Line; l++ {
		i := bytes.IndexByte(desc[start:], '\n')
		if i < 0 {
			return nil, false
		}
		start += i + 1
	}
	end := len(desc)
	if i := bytes.IndexByte(desc[start:], '\n'); i >= 0 {
		end = start + i
	}
	line := string(desc[start:end])
	cr := strings.HasSuffix(line, "\r")
	line = strings.TrimSuffix(line, "\r")
	col := len([]rune(line))
	if val.Column-1 > col {
		return nil, false
	}
	prefix := string([]rune(line)[:val.Column-1])
	rest := ""
	if val.LineComment != "" {
		rest = " " + val.LineComment
	}
	newLine := prefix + id + rest
	if cr {
		newLine += "\r"
	}
	out := append(append(append([]byte(nil), desc[:start]...), newLine...), desc[end:]...)
	return out, true
}

// unalias replaces every alias of n in the tree by a copy of n without its
// anchor, so that n can be replaced.
func unalias(node, n *yaml.Node) {
	for i, c := range node.Content {
		if c.Kind == yaml.AliasNode && c.Alias == n {
			cp := *n
			cp.Anchor = ""
			node.Content[i] = &cp
			continue
		}
		unalias(c, n)
	}
}

// decodeMap decodes a description's top level.
func decodeMap(desc []byte) (map[string]any, error) {
	var m map[string]any
	if err := yaml.Unmarshal(spec.AcceptYAML12(desc), &m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("the description is empty")
	}
	return m, nil
}
