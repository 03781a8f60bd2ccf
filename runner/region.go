package runner

import (
	"fmt"

	"github.com/zoo-bioimage/zoo/tensor"
)

// Copying boxes in and out of n-d tensors, with the boundary modes the
// reference uses: numpy "reflect" for tile padding (§18.7) and numpy
// "symmetric" for resizing test inputs (§18.6).

// boundary maps an index outside 0…n-1 into it.
type boundary int

const (
	reflect   boundary = iota // mirror without repeating the edge: … 2 1 | 0 1 2 … n-1 | n-2 …
	symmetric                 // mirror repeating the edge: … 1 0 | 0 1 … n-1 | n-1 n-2 …
)

// index maps i into 0…n-1 by the boundary mode (periodically, so any
// distance works).
func (b boundary) index(i, n int) int {
	if i >= 0 && i < n {
		return i
	}
	if n == 1 {
		return 0
	}
	if b == reflect {
		p := 2 * (n - 1)
		i %= p
		if i < 0 {
			i += p
		}
		if i >= n {
			i = p - i
		}
		return i
	}
	p := 2 * n
	i %= p
	if i < 0 {
		i += p
	}
	if i >= n {
		i = p - 1 - i
	}
	return i
}

// extract returns the box of t starting at start (which may be negative)
// with the given size; positions outside t take t's values by the boundary
// mode. The result keeps t's dtype and axis names.
func extract(t *tensor.Tensor, start, size []int, b boundary) *tensor.Tensor {
	nd := len(t.Shape)
	out, err := tensor.New(t.DType, size)
	if err != nil {
		panic(fmt.Sprintf("runner: extract %v: %v", size, err))
	}
	out.Axes = append([]string(nil), t.Axes...)
	if out.Len() == 0 {
		return out
	}
	if nd == 0 {
		copy(out.Data, t.Data)
		return out
	}
	es := t.DType.Size()
	src := t.Strides()
	last := nd - 1
	rowLen, rowStart, n := size[last], start[last], t.Shape[last]
	// The part of each row inside t, copied in one go.
	inLo, inHi := max(rowStart, 0), min(rowStart+rowLen, n)
	idx := make([]int, last) // odometer over the outer dimensions
	dst := 0
	for {
		base := 0
		for d := 0; d < last; d++ {
			base += b.index(start[d]+idx[d], t.Shape[d]) * src[d]
		}
		row := out.Data[dst*es : (dst+rowLen)*es]
		if inLo < inHi {
			copy(row[(inLo-rowStart)*es:(inHi-rowStart)*es], t.Data[(base+inLo)*es:(base+inHi)*es])
		}
		for j := 0; j < rowLen; j++ {
			p := rowStart + j
			if p >= inLo && p < inHi {
				j = inHi - rowStart - 1
				continue
			}
			s := (base + b.index(p, n)) * es
			copy(row[j*es:(j+1)*es], t.Data[s:s+es])
		}
		dst += rowLen
		d := last - 1
		for ; d >= 0; d-- {
			idx[d]++
			if idx[d] < size[d] {
				break
			}
			idx[d] = 0
		}
		if d < 0 {
			return out
		}
	}
}

// paste copies the box of src starting at from with the given size into
// dst at to. Both boxes must lie inside their tensors, which must have the
// same dtype and rank.
func paste(dst *tensor.Tensor, to []int, src *tensor.Tensor, from, size []int) {
	nd := len(dst.Shape)
	for _, n := range size {
		if n <= 0 {
			return
		}
	}
	es := dst.DType.Size()
	if nd == 0 {
		copy(dst.Data, src.Data)
		return
	}
	ds, ss := dst.Strides(), src.Strides()
	last := nd - 1
	rowBytes := size[last] * es
	idx := make([]int, last)
	for {
		do, so := to[last], from[last]
		for d := 0; d < last; d++ {
			do += (to[d] + idx[d]) * ds[d]
			so += (from[d] + idx[d]) * ss[d]
		}
		copy(dst.Data[do*es:do*es+rowBytes], src.Data[so*es:so*es+rowBytes])
		d := last - 1
		for ; d >= 0; d-- {
			idx[d]++
			if idx[d] < size[d] {
				break
			}
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

// resizeTo crops (centred, start (s−t)/2) or pads (numpy "symmetric",
// left d/2, right d − d/2) every axis of t to the target shape, like the
// reference's resize_to (§18.6).
func resizeTo(t *tensor.Tensor, target []int) *tensor.Tensor {
	start := make([]int, len(target))
	for i, want := range target {
		have := t.Shape[i]
		if have >= want {
			start[i] = (have - want) / 2
		} else {
			start[i] = -((want - have) / 2)
		}
	}
	return extract(t, start, target, symmetric)
}
