package npy

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/tensor"
)

// A header too long for format 1.0's 16-bit length falls back to 2.0, as
// numpy does. (Such a header exceeds MaxHeaderLen, so Read refuses it; Write
// never produces one for a tensor of at most tensor.MaxDims dimensions.)
func TestWrapHeaderFallsBackToV2(t *testing.T) {
	base := "{'descr': '<i2', 'fortran_order': False, 'shape': (2,), }"
	for _, tt := range []struct {
		n     int
		major byte
	}{{65400, 1}, {65524, 1}, {65525, 2}, {70000, 2}} {
		dict := base + strings.Repeat(" ", tt.n-len(base))
		b := wrapHeader(dict)
		lenSize, hlen := 2, 0
		if b[6] == 1 {
			hlen = int(binary.LittleEndian.Uint16(b[8:]))
		} else {
			lenSize, hlen = 4, int(binary.LittleEndian.Uint32(b[8:]))
		}
		if b[6] != tt.major || len(b)%arrayAlign != 0 || 8+lenSize+hlen != len(b) || b[len(b)-1] != '\n' || !bytes.Contains(b, []byte(dict)) {
			t.Errorf("dict of %d bytes: version %d, header length %d, total %d", tt.n, b[6], hlen, len(b))
		}
		x, err := Read(bytes.NewReader(append(b, 1, 0, 2, 0)))
		if tt.major == 2 {
			if err == nil || !strings.Contains(err.Error(), "zoo reads headers of at most") {
				t.Errorf("dict of %d bytes: %v", tt.n, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("dict of %d bytes: %v", tt.n, err)
		}
		if x.DType != tensor.Int16 || x.Float64At(1) != 2 {
			t.Errorf("dict of %d bytes: read %v", tt.n, x)
		}
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0 bytes", 999: "999 bytes", 1000: "1 kB", 1048576: "1.05 MB",
		40e9: "40 GB", 32.4e9: "32.4 GB", 999999: "1000 kB", 5e18: "5000 PB",
	} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParseLiteral(t *testing.T) {
	tests := []struct{ in, err string }{
		{`{}`, ""},
		{`()`, ""},
		{`(1,)`, ""},
		{`[1, [2, (3,)], {'a': None}]`, ""},
		{`'a\'b\\c\x41\n'`, ""},
		{`"it's"`, ""},
		{`-9223372036854775807`, ""},
		{`9223372036854775808`, "integer too large"},
		{`0x10`, "only decimal integers"},
		{`1e5`, "only decimal integers"},
		{`1_000`, "only decimal integers"},
		{`(,)`, "expected a value"},
		{`(1 2)`, "expected ',' or ')'"},
		{`{1: }`, "expected a value"},
		{`'abc`, "unterminated string"},
		{"'a\nb'", "unterminated string"},
		{`-`, "expected digits"},
		{`nan`, `unexpected name "nan"`},
		{``, "expected a value, found end of header"},
		{`{'a': 1}}`, "unexpected '}' after the dict"},
	}
	for _, tt := range tests {
		_, err := parseLiteral([]byte(tt.in))
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("parseLiteral(%q): %v", tt.in, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseLiteral(%q): error %v, want %q", tt.in, err, tt.err)
		}
	}
	v, err := parseLiteral([]byte(`'a\'b\\c\x41\n\q'`))
	if err != nil || v.str != "a'b\\cA\n\\q" {
		t.Errorf("escapes: %q %v", v.str, err)
	}
	v, err = parseLiteral([]byte(`(7)`))
	if err != nil || v.kind != litInt || v.num != 7 {
		t.Errorf("(7) = %+v %v, want the integer 7", v, err)
	}
}
