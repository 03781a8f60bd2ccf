package mcpserver

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseRef(t *testing.T) {
	for in, want := range map[string]struct {
		id string
		n  int
	}{"affable-shark": {"affable-shark", 0}, " affable-shark/3 ": {"affable-shark", 3}, "a.b_c-1/12": {"a.b_c-1", 12}} {
		id, n, err := parseRef(in)
		if err != nil || id != want.id || n != want.n {
			t.Errorf("parseRef(%q) = %q %d %v", in, id, n, err)
		}
	}
	for _, bad := range []string{"", "/1", "Shark", "a/0", "a/-1", "a/x", "a/1/2", "../etc", "..", ".a/1", "-a", "a b", "a%2f", strings.Repeat("a", 201), "a/99999999999999999999"} {
		if id, n, err := parseRef(bad); err == nil {
			t.Errorf("parseRef(%q) = %q %d, want an error", bad, id, n)
		}
	}
}

func TestParseResourceURI(t *testing.T) {
	id, n, p, err := parseResourceURI("zoo://models/affable-shark/2/docs/README.md")
	if err != nil || id != "affable-shark" || n != 2 || p != "docs/README.md" {
		t.Errorf("%q %d %q %v", id, n, p, err)
	}
	if _, n, _, err := parseResourceURI("zoo://models/x/latest/rdf.yaml"); err != nil || n != 0 {
		t.Errorf("latest: %d %v", n, err)
	}
	for _, bad := range []string{"", "zoo://models/x/1/", "zoo://models/x/1/../../../etc/passwd", "zoo://models/x/0/a", "zoo://models/x/-1/a",
		"zoo://other/x/1/a", "http://models/x/1/a", "zoo://models//1/a", "zoo://models/x/1//etc/passwd", "zoo://models/x/one/a", "%zz", "zoo://models/../1/a", "zoo://models/X/1/a"} {
		if id, n, p, err := parseResourceURI(bad); err == nil {
			t.Errorf("parseResourceURI(%q) = %q %d %q, want an error", bad, id, n, p)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"affable-shark", "affable-shark/1", "A/0", "a/../b", "a/1/2", "é/1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, n, err := parseRef(s)
		if err != nil {
			return
		}
		if !validID(id) || n < 0 || strings.ContainsAny(id, "/ \\") || strings.HasPrefix(id, ".") {
			t.Fatalf("parseRef(%q) = %q %d", s, id, n)
		}
	})
}

func FuzzParseResourceURI(f *testing.F) {
	for _, s := range []string{"zoo://models/a/1/rdf.yaml", "zoo://models/a/latest/x/y.md", "zoo://models/a/1/../x", "zoo://models/a/1/%2e%2e/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, n, p, err := parseResourceURI(s)
		if err != nil {
			return
		}
		if !validID(id) || n < 0 || p == "" || p == "." || strings.HasPrefix(p, "/") || strings.HasPrefix(p, "..") || !utf8.ValidString(p) && utf8.ValidString(s) {
			t.Fatalf("parseResourceURI(%q) = %q %d %q", s, id, n, p)
		}
	})
}

func TestOneLine(t *testing.T) {
	if got := oneLine("  first line\nsecond", 100); got != "first line" {
		t.Error(got)
	}
	s := oneLine(strings.Repeat("é", 100), 51)
	if !utf8.ValidString(s) || !strings.HasSuffix(s, "…") || len(s) > 51+len("…") {
		t.Errorf("%q", s)
	}
}
