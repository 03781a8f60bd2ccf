package oip

import (
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

func TestDecodeNestedAndTypes(t *testing.T) {
	cases := []struct {
		body string
		want string // fmt of Float64At values
	}{
		{`{"inputs":[{"name":"a","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4.5]]}]}`, "1 2 3 4.5"},
		{`{"inputs":[{"name":"a","shape":[2,2],"datatype":"INT64","data":[1,-2,3,9007199254740993]}]}`, "1 -2 3 9.007199254740992e+15"},
		{`{"inputs":[{"name":"a","shape":[3],"datatype":"BOOL","data":[true,false,1]}]}`, "1 0 1"},
		{`{"inputs":[{"name":"a","shape":[2],"datatype":"UINT8","data":[0,255]}]}`, "0 255"},
		{`{"inputs":[{"name":"a","shape":[2],"datatype":"FP16","data":[0.5,-2]}]}`, "0.5 -2"},
		{`{"inputs":[{"name":"a","shape":[0],"datatype":"FP64","data":[]}]}`, ""},
	}
	for _, c := range cases {
		r, err := DecodeRequest([]byte(c.body), -1, Limits{})
		if err != nil {
			t.Errorf("%s: %v", c.body, err)
			continue
		}
		x := r.Inputs[0].Tensor
		var got []string
		for i := range x.Len() {
			got = append(got, strconv.FormatFloat(x.Float64At(i), 'g', -1, 64))
		}
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s: got %q, want %q", c.body, strings.Join(got, " "), c.want)
		}
		if !r.Processing || r.BinaryOutput {
			t.Errorf("defaults: processing %v binary %v", r.Processing, r.BinaryOutput)
		}
	}
}

func TestDecodeRefuses(t *testing.T) {
	for body, kind := range map[string]zoo.Kind{
		`{"inputs":[{"name":"a","shape":[2],"datatype":"UINT8","data":[256,1]}]}`:                                                            zoo.Invalid,
		`{"inputs":[{"name":"a","shape":[2],"datatype":"INT8","data":[1.5,1]}]}`:                                                             zoo.Invalid,
		`{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1e39]}]}`:                                                              zoo.Invalid,
		`{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[-Inf]}]}`:                                                              zoo.Invalid,
		`{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[null]}]}`:                                                              zoo.Invalid,
		`{"inputs":[{"name":"a","shape":[2,2],"datatype":"FP32","data":[1,2,3]}]}`:                                                           zoo.Invalid,
		`{"inputs":[{"name":"a","shape":[1,1],"datatype":"FP32","data":[1,2,3]}]}`:                                                           zoo.Invalid,
		`{"inputs":[{"name":"a","shape":[1,1],"datatype":"FP32","data":[[[[1]]]]}]}`:                                                         zoo.Invalid,
		`{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":["1"]}]}`:                                                               zoo.Invalid,
		`{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1]x}]}`:                                                                zoo.Invalid,
		`{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":{"a":1}}]}`:                                                             zoo.Invalid,
		`{"inputs":[{"name":"a","shape":[-1],"datatype":"FP32","data":[1]}]}`:                                                                zoo.Invalid,
		`{"inputs":[{"name":"a","shape":[1],"datatype":"fp32","data":[1]}]}`:                                                                 zoo.Invalid,
		`{"inputs":[{"name":"a","shape":[1],"datatype":"FP32"}]}`:                                                                            zoo.Invalid,
		`{"inputs":[{"name":"a","datatype":"FP32","data":[1]}]}`:                                                                             zoo.Invalid,
		`{"inputs":[{"name":"","shape":[1],"datatype":"FP32","data":[1]}]}`:                                                                  zoo.Invalid,
		`{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1],"parameters":{"p":[1]}}]}`:                                          zoo.Invalid,
		`{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1]}],"outputs":[{"name":""}]}`:                                         zoo.Invalid,
		`{"inputs":[{"name":"a","shape":[4294967296,4294967296],"datatype":"FP32","data":[1]}]}`:                                             zoo.TooLarge,
		`{"inputs":[{"name":"a","shape":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],"datatype":"FP32","data":[1]}]}`: zoo.Invalid,
	} {
		if _, err := DecodeRequest([]byte(body), -1, Limits{}); zoo.KindOf(err) != kind {
			t.Errorf("%s: %v, want %v", body, err, kind)
		}
	}
	// Binary inputs must use the binary part exactly.
	head := `{"inputs":[{"name":"a","shape":[2],"datatype":"UINT8","parameters":{"binary_data_size":2}}]}`
	for _, extra := range []string{"", "x", "xyz"} {
		_, err := DecodeRequest([]byte(head+extra), int64(len(head)), Limits{})
		if err == nil {
			t.Errorf("binary part %q for 2 bytes accepted", extra)
		}
	}
	if r, err := DecodeRequest([]byte(head+"\x01\x02"), int64(len(head)), Limits{}); err != nil || r.Inputs[0].Tensor.Data[1] != 2 {
		t.Errorf("exact binary part: %v", err)
	}
	// Limits.
	if _, err := DecodeRequest([]byte(`{"inputs":[{"name":"a","shape":[3],"datatype":"FP32","data":[1,2,3]}]}`), -1, Limits{MaxElements: 2}); zoo.KindOf(err) != zoo.TooLarge {
		t.Errorf("MaxElements: %v", err)
	}
	if _, err := DecodeRequest([]byte(`{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1]},{"name":"b","shape":[1],"datatype":"FP32","data":[1]}]}`), -1, Limits{MaxTensors: 1}); zoo.KindOf(err) != zoo.TooLarge {
		t.Errorf("MaxTensors: %v", err)
	}
}

// FuzzDecodeRequest: decoding never panics, and an accepted request's
// tensors are consistent (Data length = elements × size, within limits).
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"inputs":[{"name":"a","shape":[2,2],"datatype":"FP32","data":[[1,2],[3,4]]}],"outputs":[{"name":"o","parameters":{"binary_data":true}}]}`), int64(-1))
	head := `{"inputs":[{"name":"a","shape":[2],"datatype":"UINT16","parameters":{"binary_data_size":4}}]}`
	f.Add([]byte(head+"abcd"), int64(len(head)))
	f.Add([]byte(`{"parameters":{"zoo_processing":false},"inputs":[{"name":"a","shape":[1],"datatype":"BOOL","data":[true]}]}`), int64(-1))
	f.Fuzz(func(t *testing.T, body []byte, hl int64) {
		lim := Limits{MaxBody: 1 << 16, MaxElements: 1 << 12, MaxTensors: 8}
		r, err := DecodeRequest(body, hl, lim)
		if err != nil {
			return
		}
		for _, in := range r.Inputs {
			x := in.Tensor
			if x.Len() > lim.MaxElements || len(x.Data) != x.Len()*x.DType.Size() {
				t.Fatalf("input %s: %d elements, %d bytes", in.Name, x.Len(), len(x.Data))
			}
		}
	})
}

// Outputs with NaN or infinities cannot be JSON; the error says to ask
// for binary data.
func TestEncodeNonFinite(t *testing.T) {
	x, _ := tensor.FromFloat32([]int{3}, []float32{1, float32(math.NaN()), 2})
	if _, err := appendJSONData(nil, "out", x, 0, 3); zoo.KindOf(err) != zoo.Invalid || !strings.Contains(zoo.MessageOf(err), "binary_data") {
		t.Fatalf("NaN output as JSON: %v", err)
	}
	y, _ := tensor.FromFloat32([]int{2}, []float32{0.5, -3})
	if b, err := appendJSONData(nil, "out", y, 0, 2); err != nil || string(b) != "0.5,-3" {
		t.Fatalf("finite output: %s %v", b, err)
	}
}
