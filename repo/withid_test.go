package repo

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// withID must give a description that parses to the original with only
// its id changed, whatever YAML the uploader wrote (issue 15: a regular
// expression rewrote the first line of a multi-line id, broke anchors,
// and added a second id after a quoted "id" key, so that a validated
// description no longer loaded).
func TestWithID(t *testing.T) {
	const tail = "type: model\nname: N\n"
	for _, tc := range []struct {
		name, in string
		keep     []string // text that must survive
	}{
		{"plain", "id: old\n" + tail, []string{"type: model\nname: N\n"}},
		{"comment after the value", "id: old # mine\n" + tail, []string{"# mine"}},
		{"comments and layout", "# head\n\nname:   N   # spaced\nid: 'old'\ntype: model\n", []string{"# head\n\nname:   N   # spaced\n"}},
		{"crlf", "id: old\r\ntype: model\r\nname: N\r\n", []string{"type: model\r\n"}},
		{"no id", tail, []string{tail}},
		{"no id, no final newline", "type: model\nname: N", nil},
		{"multi-line plain id", "id: old\n  continued\n" + tail, nil},
		{"multi-line quoted id", "id: \"old\n  continued\"\n" + tail, nil},
		{"block scalar id", "id: >-\n  old\n" + tail, nil},
		{"value on the next line", "id:\n  old\n" + tail, nil},
		{"anchored id used elsewhere", "id: &x old\nname: *x\ntype: model\n", nil},
		{"quoted key", "\"id\": old\n" + tail, nil},
		{"single-quoted key", "'id': old\n" + tail, nil},
		{"flow mapping", "{id: old, type: model, name: N}\n", nil},
		{"document end marker", tail + "...\n", nil},
		{"yaml 1.2 directive", "%YAML 1.2\n---\nid: old\n" + tail, []string{"%YAML 1.2\n"}},
		{"id in a nested mapping only", "config:\n  id: nested\n" + tail, []string{"  id: nested\n"}},
		{"id-like line in a block scalar", "documentation: |\n  id: not-this\n" + tail, []string{"  id: not-this\n"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := withID([]byte(tc.in), "witty-bee")
			if err != nil {
				t.Fatalf("withID: %v", err)
			}
			got, err := decodeMap(out)
			if err != nil {
				t.Fatalf("the result does not parse: %v\n%s", err, out)
			}
			want, _ := decodeMap([]byte(tc.in))
			want["id"] = "witty-bee"
			for k, v := range want {
				if g := got[k]; !equalYAML(g, v) {
					t.Errorf("%s = %#v, want %#v\n%s", k, g, v, out)
				}
			}
			if len(got) != len(want) {
				t.Errorf("%d keys, want %d:\n%s", len(got), len(want), out)
			}
			for _, k := range tc.keep {
				if !strings.Contains(string(out), k) {
					t.Errorf("%q was lost:\n%s", k, out)
				}
			}
		})
	}
	if _, err := withID([]byte("- a list\n"), "x"); err == nil {
		t.Error("withID of a list succeeded")
	}
	if _, err := withID([]byte("a: [\n"), "x"); err == nil {
		t.Error("withID of broken YAML succeeded")
	}
}

func equalYAML(a, b any) bool {
	return strings.TrimSpace(yamlString(a)) == strings.TrimSpace(yamlString(b))
}

func yamlString(v any) string {
	out, _ := withIDMarshal(v)
	return string(out)
}

func withIDMarshal(v any) ([]byte, error) { return yaml.Marshal(v) }

// FuzzWithID: for any description that is a mapping, withID either fails
// or gives one that parses to the same mapping with the new id.
func FuzzWithID(f *testing.F) {
	for _, s := range []string{"id: old\ntype: model\n", "\"id\": &a x\nn: *a\n", "{id: x}\n", "id: >\n  a\n  b\nk: v\n", "k: v\n...\n", "%YAML 1.2\n---\nid: 'x' # c\r\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) > 4096 {
			return
		}
		want, err := decodeMap(in)
		if err != nil {
			return
		}
		out, err := withID(in, "witty-bee")
		if err != nil {
			return
		}
		got, err := decodeMap(out)
		if err != nil {
			t.Fatalf("the result does not parse: %v\n%q", err, out)
		}
		want["id"] = "witty-bee"
		if yamlString(got) != yamlString(want) {
			t.Fatalf("withID changed more than the id:\n%q\n→\n%q", in, out)
		}
	})
}
