package spec

import (
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestSuggestBoundaries: an unknown key is answered with the known key at
// the smallest edit distance, but only up to distance 2 ("licence" →
// "license"); farther keys, and keys longer than 40 bytes, get no
// suggestion (a wrong guess is worse than none).
func TestSuggestBoundaries(t *testing.T) {
	fields := []field{{key: "license"}, {key: "documentation"}, {key: "id"}}
	for _, c := range []struct{ key, want string }{
		{"licence", "license"},            // distance 1
		{"lcense", "license"},             // 1, one shorter
		{"licenses", "license"},           // 1, one longer
		{"lisence", "license"},            // 1
		{"lizenze", "license"},            // 2: still suggested
		{"lizenzx", ""},                   // 3: no suggestion
		{"licenseXY", "license"},          // 2 by length alone
		{"licenseXYZ", ""},                // 3 by length alone
		{"dokumentatio", "documentation"}, // 2
		{"ix", "id"},                      // 1 on a two-letter key
		{"", "id"},                        // 2: the empty key is two edits from "id"
	} {
		got := suggest(c.key, fields)
		if c.want == "" {
			if got != "" {
				t.Errorf("suggest(%q) = %q, want no suggestion", c.key, got)
			}
			continue
		}
		if !strings.Contains(got, `"`+c.want+`"`) {
			t.Errorf("suggest(%q) = %q, want %q", c.key, got, c.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	long := strings.Repeat("a", 40)
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"kitten", "sitting", 3},
		{"flaw", "lawn", 2}, {"abc", "abc", 0}, {"ab", "ba", 2},
		{long, long, 0}, {long, long[:39] + "b", 1}, // 40 bytes: computed
		{long + "a", long + "a", 99}, {"a", long + "a", 99}, // 41: refused
	} {
		if got := editDistance(c.a, c.b); got != c.want {
			t.Errorf("editDistance(%d bytes, %d bytes) = %d, want %d", len(c.a), len(c.b), got, c.want)
		}
	}
}

// TestAsIntLaxNumbers: integers written as floats or strings are read as
// the reference reads them: whole floats below 2^53 are integers, hex
// floats and digit separators (which Go reads, the reference does not)
// are not.
func TestAsIntLaxNumbers(t *testing.T) {
	for _, c := range []struct {
		tag, value string
		want       int64
		ok         bool
	}{
		{"!!int", "7", 7, true},
		{"!!float", "1e3", 1000, true},
		{"!!str", "1.0e3", 1000, true},
		{"!!str", " 12 ", 12, true},
		{"!!float", "2.5", 0, false},
		{"!!str", "0x1p4", 0, false},
		{"!!str", "1_000", 0, false},
		{"!!float", "9007199254740991.0", 9007199254740991, true},
		{"!!float", "9007199254740992.0", 0, false}, // 2^53: no longer exact
		{"!!str", "-9007199254740992.0", 0, false},
	} {
		got, ok := asInt(&yaml.Node{Kind: yaml.ScalarNode, Tag: c.tag, Value: c.value})
		if ok != c.ok || got != c.want {
			t.Errorf("asInt(%s %q) = %d, %v; want %d, %v", c.tag, c.value, got, ok, c.want, c.ok)
		}
	}
}
