package oip

import (
	"fmt"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
)

// jsonRequest is an inference request of n FP32 inputs of shape [k].
func jsonRequest(n, k int) []byte {
	var ins []string
	for i := range n {
		data := strings.TrimSuffix(strings.Repeat("1,", k), ",")
		ins = append(ins, fmt.Sprintf(`{"name":"i%d","shape":[%d],"datatype":"FP32","data":[%s]}`, i, k, data))
	}
	return []byte(`{"inputs":[` + strings.Join(ins, ",") + `]}`)
}

// TestRequestLimitsBoundaries: a request exactly at a limit (body bytes,
// tensors, elements) is read; one over is refused as too large or
// invalid, before its tensors are allocated.
func TestRequestLimitsBoundaries(t *testing.T) {
	body := jsonRequest(1, 4)
	if _, err := DecodeRequest(body, -1, Limits{MaxBody: int64(len(body))}); err != nil {
		t.Errorf("a body of exactly MaxBody bytes: %v", err)
	}
	if _, err := DecodeRequest(body, -1, Limits{MaxBody: int64(len(body)) - 1}); zoo.KindOf(err) != zoo.TooLarge {
		t.Errorf("a body one byte over MaxBody: %v, want TooLarge", err)
	}
	if _, err := DecodeRequest(jsonRequest(3, 2), -1, Limits{MaxTensors: 3}); err != nil {
		t.Errorf("MaxTensors inputs: %v", err)
	}
	if _, err := DecodeRequest(jsonRequest(4, 2), -1, Limits{MaxTensors: 3}); err == nil {
		t.Error("MaxTensors+1 inputs accepted")
	}
	if _, err := DecodeRequest(jsonRequest(1, 16), -1, Limits{MaxElements: 16}); err != nil {
		t.Errorf("an input of exactly MaxElements: %v", err)
	}
	if _, err := DecodeRequest(jsonRequest(1, 17), -1, Limits{MaxElements: 16}); err == nil {
		t.Error("an input of MaxElements+1 elements accepted")
	}
	// A header length equal to the body (no binary part) is valid; one
	// more is not.
	if _, err := DecodeRequest(body, int64(len(body)), Limits{}); err != nil {
		t.Errorf("header length = body length: %v", err)
	}
	if _, err := DecodeRequest(body, int64(len(body))+1, Limits{}); err == nil {
		t.Error("a header length past the body accepted")
	}
}

// TestFloatRangeBoundaries: FP32 and FP16 inputs accept their largest
// finite values and refuse what would overflow to infinity.
func TestFloatRangeBoundaries(t *testing.T) {
	for _, c := range []struct {
		dtype, v string
		ok       bool
	}{
		{"FP32", "3.4028234663852886e38", true},
		{"FP32", "-3.4028234663852886e38", true},
		{"FP32", "3.5e38", false},
		{"FP32", "-3.5e38", false},
		{"FP16", "65504", true},
		{"FP16", "-65504", true},
		{"FP16", "65505", false},
	} {
		body := fmt.Sprintf(`{"inputs":[{"name":"x","shape":[1],"datatype":"%s","data":[%s]}]}`, c.dtype, c.v)
		_, err := DecodeRequest([]byte(body), -1, Limits{})
		if (err == nil) != c.ok {
			t.Errorf("%s %s: %v, want accepted %v", c.dtype, c.v, err, c.ok)
		}
	}
}
