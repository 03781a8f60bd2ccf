package oip

import (
	"runtime"
	"strconv"
	"strings"
	"testing"

	zoo "github.com/zoo-bioimage/zoo"
)

// TestDeclaredSizesDoNotAllocate: a request declares sizes (a shape, a
// binary_data_size, a header length) that a few bytes can claim. None may
// be believed for an allocation before the body shows it can fill it: each
// small request below declares 32 MB or more and must be refused having
// allocated far less. And the check hook sees every input before any
// tensor memory exists.
func TestDeclaredSizesDoNotAllocate(t *testing.T) {
	const big = 4 << 20 // elements: 32 MB as FP64
	shape := "[" + strconv.Itoa(big) + "]"
	cases := []struct {
		name      string
		body      string
		headerLen int64 // -1: JSON only; else the JSON part's length (set below when 0)
		length    int64 // announced body length; 0: len(body)
		kind      zoo.Kind
	}{
		{"JSON data shorter than its shape", `{"inputs":[{"name":"a","shape":` + shape + `,"datatype":"FP64","data":[1,2,3]}]}`, -1, 0, zoo.Invalid},
		{"JSON data nested, shorter than its shape", `{"inputs":[{"name":"a","shape":[2048,2048],"datatype":"FP64","data":[[1],[2]]}]}`, -1, 0, zoo.Invalid},
		{"binary size beyond the body", `{"inputs":[{"name":"a","shape":` + shape + `,"datatype":"FP64","parameters":{"binary_data_size":` + strconv.Itoa(8*big) + `}}]}`, 0, 0, zoo.Invalid},
		{"header length beyond the body", `{"inputs":[]}`, 64 << 20, 0, zoo.Invalid},
		{"body length over the limit", `{}`, -1, 512 << 20, zoo.TooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			length := tc.length
			if length == 0 {
				length = int64(len(tc.body))
			}
			headerLen := tc.headerLen
			if headerLen == 0 {
				headerLen = int64(len(tc.body))
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := ReadRequest(strings.NewReader(tc.body), length, headerLen, Limits{}, nil)
			runtime.ReadMemStats(&after)
			if zoo.KindOf(err) != tc.kind {
				t.Fatalf("error %v (kind %v), want kind %v", err, zoo.KindOf(err), tc.kind)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 1<<20 {
				t.Errorf("refusing a %d-byte request allocated %d bytes", len(tc.body), alloc)
			}
		})
	}

	// At the edge of the JSON rule: a shape the data can just hold is
	// parsed (and then judged by its count), not refused early.
	for _, n := range []int{1, 2, 3, 10} {
		data := strings.Repeat("1,", n)
		body := `{"inputs":[{"name":"a","shape":[` + strconv.Itoa(n) + `],"datatype":"UINT8","data":[` + data[:len(data)-1] + `]}]}`
		if _, err := DecodeRequest([]byte(body), -1, Limits{}); err != nil {
			t.Errorf("%d elements in %d data bytes: %v", n, 2*n+1, err)
		}
	}

	// The check hook runs before any tensor is allocated.
	body := `{"inputs":[{"name":"a","shape":[2],"datatype":"FP32","data":[1,2]},{"name":"b","shape":[1],"datatype":"UINT8","parameters":{"binary_data_size":1}}]}`
	called := false
	_, err := ReadRequest(strings.NewReader(body+"x"), int64(len(body)+1), int64(len(body)), Limits{}, func(r *Request) error {
		called = true
		for _, in := range r.Inputs {
			if in.Tensor.Data != nil {
				t.Errorf("input %s has data before the check", in.Name)
			}
		}
		return zoo.E("test", zoo.TooLarge, nil, "refused by the check")
	})
	if !called || zoo.KindOf(err) != zoo.TooLarge {
		t.Errorf("check called %v, error %v; want called and its error", called, err)
	}
}
