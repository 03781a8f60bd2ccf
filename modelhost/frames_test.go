package modelhost

import (
	"bytes"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/tensor"
)

// The host reads what a child writes: frames of any bytes are refused or
// read within the bounds, never a panic or an unbounded allocation.
func FuzzReadFrames(f *testing.F) {
	var ok bytes.Buffer
	x, _ := tensor.New(tensor.Float32, []int{1, 2})
	writeTensors(&ok, []*tensor.Tensor{x})
	f.Add(ok.Bytes())
	var e bytes.Buffer
	writeError(&e, zoo.E("op", zoo.TooLarge, nil, "out of memory"))
	f.Add(e.Bytes())
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if ts, err := readTensors(bytes.NewReader(b)); err == nil && len(ts) > maxTensors {
			t.Fatalf("%d tensors read", len(ts))
		}
		if err := readError(bytes.NewReader(b)); zoo.KindOf(err) > zoo.Unavailable {
			t.Fatalf("kind %v", zoo.KindOf(err))
		}
	})
}

// Hostile frames: too many tensors, an oversized message, a bad kind.
func TestReadFramesRefuses(t *testing.T) {
	if _, err := readTensors(bytes.NewReader([]byte{0, 1, 0, 0})); err == nil { // 256 × 256 = 65536 tensors
		t.Error("65536 tensors accepted")
	}
	if err := readError(bytes.NewReader([]byte{1, 0xff, 0xff, 0xff, 0x7f})); zoo.KindOf(err) != zoo.Internal {
		t.Errorf("a 2 GiB message: %v", err)
	}
	if err := readError(bytes.NewReader([]byte{200, 0, 0, 0, 0})); zoo.KindOf(err) != zoo.Internal {
		t.Errorf("kind 200: %v", err)
	}
	var e bytes.Buffer
	writeError(&e, zoo.E("op", zoo.TooLarge, nil, "out of memory"))
	if err := readError(&e); zoo.KindOf(err) != zoo.TooLarge || zoo.MessageOf(err) != "out of memory" {
		t.Errorf("round trip: %v", err)
	}
}
