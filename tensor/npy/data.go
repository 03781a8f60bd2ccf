package npy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/zoo-bioimage/zoo/tensor"
)

// readChunk is the first buffer size for data of unknown availability.
const readChunk = 1 << 20

// readData reads exactly h.DataSize() bytes. If r can tell how much it has
// left, a shortfall is reported before allocating. Otherwise the buffer
// starts at readChunk and doubles only when full, so memory stays within
// about three times the data actually present (old and new buffer while
// growing), however much the header promises.
func readData(r io.Reader, h Header) ([]byte, *problem) {
	need := h.DataSize()
	avail, known := remaining(r)
	if known && avail < need {
		return nil, truncated(h, avail)
	}
	size := need
	if !known {
		size = min(need, readChunk)
	}
	buf := make([]byte, size)
	got, err := io.ReadFull(r, buf)
	for err == nil && int64(got) < need {
		next := make([]byte, min(need, 2*int64(len(buf))))
		copy(next, buf)
		buf = next
		var n int
		n, err = io.ReadFull(r, buf[got:])
		got += n
	}
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return nil, truncated(h, int64(got))
	case err != nil:
		return nil, ioProblem(err, "cannot read the array data")
	}
	return buf, nil
}

// remaining reports how many bytes r has left, if r is an io.Seeker that
// can tell.
func remaining(r io.Reader) (int64, bool) {
	s, ok := r.(io.Seeker)
	if !ok {
		return 0, false
	}
	cur, err := s.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, false
	}
	end, err := s.Seek(0, io.SeekEnd)
	if err != nil {
		return 0, false
	}
	if _, err := s.Seek(cur, io.SeekStart); err != nil {
		return 0, false
	}
	return max(end-cur, 0), true
}

func truncated(h Header, have int64) *problem {
	return invalid("the header promises shape %s %s = %s but the file has only %d bytes of data; the file is truncated or its header is wrong",
		tensor.FormatShape(h.Shape), h.DType, humanBytes(h.DataSize()), have)
}

// humanBytes spells n in decimal units: "512 bytes", "1.05 MB", "40 GB".
func humanBytes(n int64) string {
	if n < 1000 {
		return fmt.Sprintf("%d bytes", n)
	}
	v := float64(n)
	units := []string{"kB", "MB", "GB", "TB", "PB"}
	u := -1
	for v >= 1000 && u < len(units)-1 {
		v /= 1000
		u++
	}
	s := fmt.Sprintf("%.3g", v)
	if v >= 999.5 {
		s = fmt.Sprintf("%.0f", v)
	}
	return s + " " + units[u]
}

// decode turns file-order data into a little-endian, C-order tensor.
func decode(h Header, data []byte) (*tensor.Tensor, *problem) {
	if h.bigEndian {
		swapBytes(data, h.DType.Size())
	}
	if h.DType == tensor.Bool {
		for i, b := range data {
			if b > 1 {
				data[i] = 1
			}
		}
	}
	t := &tensor.Tensor{DType: h.DType, Shape: h.Shape, Data: data}
	if !h.FortranOrder || len(h.Shape) < 2 {
		return t, nil
	}
	// Fortran-order data of shape S is C-order data of shape reverse(S).
	rev := make([]int, len(h.Shape))
	for i, d := range h.Shape {
		rev[len(rev)-1-i] = d
	}
	t.Shape = rev
	c, err := t.Transpose(nil)
	if err != nil {
		return nil, internal(err, "cannot reorder Fortran-order data")
	}
	return c, nil
}

// swapBytes reverses the bytes of every size-byte element of data.
func swapBytes(data []byte, size int) {
	switch size {
	case 2:
		for i := 0; i+1 < len(data); i += 2 {
			data[i], data[i+1] = data[i+1], data[i]
		}
	case 4:
		for i := 0; i+3 < len(data); i += 4 {
			binary.LittleEndian.PutUint32(data[i:], binary.BigEndian.Uint32(data[i:]))
		}
	case 8:
		for i := 0; i+7 < len(data); i += 8 {
			binary.LittleEndian.PutUint64(data[i:], binary.BigEndian.Uint64(data[i:]))
		}
	}
}
