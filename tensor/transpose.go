package tensor

import (
	"unsafe"

	"github.com/zoo-bioimage/zoo"
)

// Transpose returns a new tensor, with its own Data in C order, whose
// dimension k is t's dimension perm[k]: numpy.transpose(t, perm) followed
// by a C-order copy. Entries of perm may be negative (counting from the end);
// a nil or empty perm reverses the dimensions, numpy's default. Axes are
// permuted along with the shape. It fails unless perm is a permutation of
// t's dimensions.
//
// The copy merges dimensions that stay adjacent, copies contiguous runs
// with copy(), and moves the rest in cache-sized tiles.
func (t *Tensor) Transpose(perm []int) (*Tensor, error) {
	const op = "tensor.Transpose"
	if err := t.Validate(); err != nil {
		return nil, err
	}
	n := len(t.Shape)
	p, ok := normalizePerm(perm, n)
	if !ok {
		return nil, zoo.E(op, zoo.Invalid, nil, "%v is not a permutation of the %d dimensions of shape %s", perm, n, FormatShape(t.Shape))
	}
	out := &Tensor{DType: t.DType, Shape: make([]int, n), Data: alignedBytes(len(t.Data))}
	if t.Data == nil {
		out.Data = nil
	}
	if t.Axes != nil {
		out.Axes = make([]string, n)
	}
	for k, i := range p {
		out.Shape[k] = t.Shape[i]
		if t.Axes != nil {
			out.Axes[k] = t.Axes[i]
		}
	}
	if len(t.Data) > 0 {
		size, stride := plan(t.Shape, p)
		switch t.DType.Size() {
		case 1:
			permute(blocks[[1]byte](out.Data), blocks[[1]byte](t.Data), size, stride)
		case 2:
			permute(blocks[[2]byte](out.Data), blocks[[2]byte](t.Data), size, stride)
		case 4:
			permute(blocks[[4]byte](out.Data), blocks[[4]byte](t.Data), size, stride)
		case 8:
			permute(blocks[[8]byte](out.Data), blocks[[8]byte](t.Data), size, stride)
		}
	}
	return out, nil
}

// normalizePerm resolves negative entries and defaults to reversal; ok is
// false unless the result is a permutation of 0…n-1.
func normalizePerm(perm []int, n int) (p []int, ok bool) {
	p = make([]int, n)
	if len(perm) == 0 {
		for k := range p {
			p[k] = n - 1 - k
		}
		return p, true
	}
	if len(perm) != n {
		return nil, false
	}
	seen := make([]bool, n)
	for k, a := range perm {
		i, ok := normalizeAxis(a, n)
		if !ok || seen[i] {
			return nil, false
		}
		seen[i] = true
		p[k] = i
	}
	return p, true
}

// plan describes the output of a transpose as dimensions (in output order)
// with their element strides in the source, dropping size-1 dimensions and
// merging neighbours that are also neighbours in the source.
func plan(shape, perm []int) (size, stride []int) {
	src := stridesOf(shape)
	for _, i := range perm {
		d, s := shape[i], src[i]
		if d == 1 {
			continue
		}
		if k := len(size) - 1; k >= 0 && stride[k] == s*d {
			size[k] *= d
			stride[k] = s
			continue
		}
		size = append(size, d)
		stride = append(stride, s)
	}
	return size, stride
}

// block is an element of a given byte size; [N]byte has alignment 1, so
// any []byte can be viewed as a []block.
type block interface {
	[1]byte | [2]byte | [4]byte | [8]byte
}

func blocks[E block](b []byte) []E {
	var zero E
	return unsafe.Slice((*E)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/len(zero))
}

// permute fills dst in C order over size, reading element (i0, i1, …) from
// src at offset Σ i_k·stride[k]. One dimension has source stride 1 (the
// source's innermost one); if it is also the output's last dimension, rows
// are copied whole, else that dimension and the last are moved in tiles.
func permute[E block](dst, src []E, size, stride []int) {
	n := len(size)
	if n == 0 {
		copy(dst, src)
		return
	}
	last := n - 1
	inner := last
	for k, s := range stride {
		if s == 1 {
			inner = k
		}
	}
	dstride := stridesOf(size)
	var kernel func(doff, soff int)
	if inner == last {
		row := size[last]
		kernel = func(doff, soff int) { copy(dst[doff:doff+row], src[soff:soff+row]) }
	} else {
		rows, cols, drow, scol := size[inner], size[last], dstride[inner], stride[last]
		kernel = func(doff, soff int) { tile(dst[doff:], src[soff:], rows, cols, drow, scol) }
	}
	outer := make([]int, 0, n)
	for k := range n {
		if k != inner && k != last {
			outer = append(outer, k)
		}
	}
	// Odometer over the outer dimensions.
	idx := make([]int, n)
	doff, soff := 0, 0
	for {
		kernel(doff, soff)
		j := len(outer) - 1
		for ; j >= 0; j-- {
			k := outer[j]
			idx[k]++
			doff += dstride[k]
			soff += stride[k]
			if idx[k] < size[k] {
				break
			}
			idx[k] = 0
			doff -= dstride[k] * size[k]
			soff -= stride[k] * size[k]
		}
		if j < 0 {
			return
		}
	}
}

// tile copies a rows×cols block: dst[r·drow + c] = src[r + c·scol], in
// square tiles so that both the reads and the writes stay in cache.
func tile[E block](dst, src []E, rows, cols, drow, scol int) {
	const edge = 32
	for r0 := 0; r0 < rows; r0 += edge {
		r1 := min(r0+edge, rows)
		for c0 := 0; c0 < cols; c0 += edge {
			c1 := min(c0+edge, cols)
			for r := r0; r < r1; r++ {
				d := dst[r*drow+c0 : r*drow+c1]
				s := r + c0*scol
				for c := range d {
					d[c] = src[s]
					s += scol
				}
			}
		}
	}
}
