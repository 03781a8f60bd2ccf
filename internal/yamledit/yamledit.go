// Package yamledit edits parsed YAML documents structurally (mapping keys
// set, replaced or deleted on the node tree), for the tools that write new
// descriptions from old ones (convert, finetune): no text substitution.
package yamledit

import (
	"bytes"
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Parse parses a document whose top is a mapping and returns that mapping.
func Parse(b []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the document is not a mapping")
	}
	return doc.Content[0], nil
}

// Marshal writes a mapping as a YAML document with two-space indentation.
func Marshal(m *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(m); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Get returns the value of key in mapping m, or nil.
func Get(m *yaml.Node, key string) *yaml.Node {
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

// Set sets key in mapping m to v, in place when present, else at the end.
func Set(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, Str(key), v)
}

// Delete removes key from mapping m.
func Delete(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

// Str is a string scalar (quoted where YAML would read it as another type).
func Str(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	var probe any
	if yaml.Unmarshal([]byte(s), &probe) != nil || fmt.Sprint(probe) != s {
		n.Style = yaml.DoubleQuotedStyle
	} else if _, isStr := probe.(string); !isStr {
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// Int is an integer scalar.
func Int(i int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(i)}
}

// Map is a mapping of the given key, value pairs.
func Map(kv ...any) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for i := 0; i+1 < len(kv); i += 2 {
		var v *yaml.Node
		switch x := kv[i+1].(type) {
		case *yaml.Node:
			v = x
		case string:
			v = Str(x)
		case int:
			v = Int(x)
		default:
			panic(fmt.Sprintf("yamledit.Map: %T", x))
		}
		m.Content = append(m.Content, Str(kv[i].(string)), v)
	}
	return m
}
