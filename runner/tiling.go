package runner

import (
	"fmt"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
)

// Tiling: splitting a (preprocessed) sample into blocks the model accepts,
// running each block with a halo of context, and stitching the outputs
// (reference §18.7, with the changes documented on Plan).

// DefaultMemoryBudget bounds the estimated memory of one block when
// Tiling.MemoryBudget is 0: 1 GiB.
const DefaultMemoryBudget = 1 << 30

// DefaultContext is the context in input pixels that tiling gives each
// block side by default. Declared halos are often smaller than what a
// network's receptive field needs for tiles to agree exactly with the
// untiled prediction (the nuclei U-Net declares 32 but its outputs depend on
// up to 64 pixels; the multi-tensor U-Net declares none), so zoo adds
// context up to this much.
const DefaultContext = 64

// BytesPerInputElement estimates the memory one block needs per input
// element; the model's intermediate activations dominate. Measured peak
// RSS with ONNX Runtime on the fixture U-Nets: about 400 bytes per input
// element (nuclei, 512×512: 154 MiB for the whole zoo predict process) and
// 300 (multi-tensor, two 2048×2048 inputs untiled: 2.5 GB). The estimate is
// set at 1024, so that blocks under DefaultMemoryBudget leave room for the
// whole sample's buffers within about 1 GiB in all.
const BytesPerInputElement = 1024

// Tiling says how PredictTiled splits a sample. The zero value tiles only
// where the model requires it (an axis larger than the model's fixed size)
// or where the memory budget does.
type Tiling struct {
	// Tile is the wanted block size in input pixels per input axis id
	// ("y", "x", "z", "time", …). It is rounded down to a size the model
	// accepts (at least its smallest). A fixed-size axis always uses its
	// size. Axes not listed take the whole (padded) sample when the model
	// accepts any size along them.
	Tile map[string]int
	// Halo is the context in input pixels on each side of a block, per axis
	// id; it is raised to what the outputs' declared halos imply. For an
	// axis not listed, the context is the declared halo or DefaultContext,
	// whichever is larger, but DefaultContext takes at most a quarter of
	// the block on each side.
	Halo map[string]int
	// MemoryBudget bounds the estimated memory of one block in bytes
	// (BytesPerInputElement per input element); axes not listed in Tile
	// are tiled smaller until a block fits. 0 means DefaultMemoryBudget,
	// negative means no bound.
	MemoryBudget int64
	// Align is the multiple of which block positions along fixed-size axes
	// are; 0 means the largest power of two ≤ 16 that divides the size.
	// (Along parameterized axes blocks are at multiples of the step.)
	Align int
	// Progress, if set, is called after each block with the count of
	// blocks done and their total.
	Progress func(done, total int)
}

// Plan is how a sample is split. Along every tiled axis (grouped by axis
// id across the inputs, which must then have equal sizes along it):
//
//   - the sample is padded at its end (numpy "reflect", without storing the
//     padding) to Padded: to the block size when the sample is smaller,
//     else to the smallest size ≥ the sample's that puts the last block's
//     start on a multiple of Align (for a parameterized axis: the next size
//     the model accepts);
//   - blocks of size Block start at multiples of Align (the parameterized
//     axis's step, so the network's pooling grid lines up), the last one
//     ending at Padded, neighbours overlapping by at least 2·Halo;
//   - every output axis that refers to a tiled input axis takes, from each
//     block, the part between the midpoints of the overlaps with its
//     neighbours, so each output pixel is at least Halo input pixels away
//     from a block edge that is not an edge of the padded sample;
//   - the stitched output is cropped to the size the unpadded sample gives.
//
// Consequently, when a sample's size is valid for the model and no output
// depends on more than Halo pixels of context, the stitched result equals
// the untiled prediction (up to floating-point rounding); for other sizes
// it equals the untiled prediction of the padded sample, cropped. A
// fixed-size model has no untiled prediction of a larger sample; there the
// stitched result equals the model's own prediction of every window of its
// size whose position is a multiple of Align, on the window's interior at
// least Halo pixels from window edges that are not sample edges
// (runner.TestTiledNucleiMatchesEveryWindow checks this for the nuclei
// model).
type Plan struct {
	Axes   []*TiledAxis // one per grouped axis id, in input axis order
	Blocks int          // total number of blocks

	model    *spec.Model
	blockIn  Sizes // input sizes of every block
	blockOut Sizes // output sizes of every block
	outSize  Sizes // final (stitched, cropped) output sizes
	outAxes  map[string][]outAxis
	inStarts map[string][]int // group index per input axis (-1: whole axis)
}

// TiledAxis is the block geometry along one axis id.
type TiledAxis struct {
	ID     string
	Size   int // the sample's size
	Padded int // after padding at the end
	Block  int // block size
	Halo   int // context on each side, input pixels
	// Declared is the halo the outputs declare, in input pixels.
	Declared int
	Align    int   // block starts are multiples of this
	Starts   []int // block starts
}

func (a *TiledAxis) String() string {
	return fmt.Sprintf("%s: %d→%d in %d block(s) of %d (halo %d, align %d)", a.ID, a.Size, a.Padded, len(a.Starts), a.Block, a.Halo, a.Align)
}

// outAxis says how one output axis is stitched.
type outAxis struct {
	group int // index into Plan.Axes, -1: the whole axis comes from every block
	r     ratio
	full  int // the stitched output's size along the axis (cropped)
}

// NewPlan splits a sample of the given input sizes for model m.
func NewPlan(m *spec.Model, in Sizes, t Tiling) (*Plan, error) {
	const op = "runner.NewPlan"
	p := &Plan{model: m, inStarts: map[string][]int{}, outAxes: map[string][]outAxis{}}
	byID := map[string]int{}
	var members [][]*spec.Axis // the input axes of each grouped axis id
	for ti := range m.Inputs {
		tin := &m.Inputs[ti]
		if _, ok := in[tin.ID]; !ok {
			return nil, zoo.E(op, zoo.Invalid, nil, "input %s is missing", tin.ID)
		}
		idx := make([]int, len(tin.Axes))
		for ai := range tin.Axes {
			a := &tin.Axes[ai]
			idx[ai] = -1
			if a.Type == spec.AxisChannel {
				continue
			}
			g, ok := byID[a.ID]
			if !ok {
				g = len(p.Axes)
				byID[a.ID] = g
				p.Axes = append(p.Axes, &TiledAxis{ID: a.ID, Size: in[tin.ID][a.ID], Align: 1})
				members = append(members, nil)
			}
			if n := in[tin.ID][a.ID]; n != p.Axes[g].Size {
				return nil, zoo.E(op, zoo.NotSupported, nil, "inputs differ in size along %s (%d and %d); zoo tiles inputs of equal sizes only", a.ID, p.Axes[g].Size, n)
			}
			idx[ai] = g
			members[g] = append(members[g], a)
		}
		p.inStarts[tin.ID] = idx
	}

	// Halos and alignment implied by the outputs.
	for oi := range m.Outputs {
		o := &m.Outputs[oi]
		axes := make([]outAxis, len(o.Axes))
		for ai := range o.Axes {
			a := &o.Axes[ai]
			axes[ai] = outAxis{group: -1, r: ratio{1, 1}}
			switch {
			case a.Type == spec.AxisBatch:
				if g, ok := byID[a.ID]; ok {
					axes[ai].group = g
				}
			case a.Size.Kind == spec.SizeReference:
				ref := AxisRef{a.Size.Ref.TensorID, a.Size.Ref.AxisID}
				target, ok := findAxis(m, ref)
				g := -1
				if gi, ok := p.inStarts[ref.Tensor]; ok {
					for k := range m.Inputs {
						if m.Inputs[k].ID != ref.Tensor {
							continue
						}
						for j := range m.Inputs[k].Axes {
							if m.Inputs[k].Axes[j].ID == ref.Axis {
								g = gi[j]
							}
						}
					}
				}
				if !ok || g < 0 {
					break
				}
				r, ok := scaleRatio(target.Scale, a.Scale)
				if !ok {
					return nil, zoo.E(op, zoo.NotSupported, nil, "output %s axis %s scales its reference by %g, which zoo cannot tile", o.ID, a.ID, target.Scale/a.Scale)
				}
				axes[ai].group, axes[ai].r = g, r
				ga := p.Axes[g]
				ga.Align = lcm(ga.Align, r.den)
				if a.Halo > 0 {
					h := (a.Halo*r.den + r.num - 1) / r.num // input pixels, rounded up
					ga.Declared = max(ga.Declared, h)
				}
			}
		}
		p.outAxes[o.ID] = axes
	}

	// Block sizes.
	budget := t.MemoryBudget
	if budget == 0 {
		budget = DefaultMemoryBudget
	}
	shrinkable := make([]bool, len(p.Axes))
	primaries := make([]*spec.Axis, len(p.Axes)) // the first member not sized by reference
	for g, ga := range p.Axes {
		primary := members[g][0]
		for _, mb := range members[g] {
			if mb.Size.Kind != spec.SizeReference {
				primary = mb
				break
			}
		}
		primaries[g] = primary
		switch {
		case primary.Type == spec.AxisBatch:
			ga.Block = ga.Size
			if primary.Size.Kind == spec.SizeFixed {
				ga.Block = primary.Size.Fixed
			}
		case primary.Size.Kind == spec.SizeFixed:
			ga.Block = primary.Size.Fixed
		case primary.Size.Kind == spec.SizeParameterized:
			ga.Align = lcm(ga.Align, primary.Size.Step)
			ga.Block = NextValid(primary, ga.Size)
			if want := t.Tile[ga.ID]; want > 0 {
				ga.Block = min(ga.Block, ValidAtMost(primary, want))
			} else {
				shrinkable[g] = true
			}
		case primary.Size.Kind == spec.SizeReference:
			// Resolved below from the referenced axis's block.
		default:
			ga.Block = ga.Size
		}
	}
	if err := p.resolveRefBlocks(); err != nil {
		return nil, err
	}
	for g, ga := range p.Axes {
		if members[g][0].Type == spec.AxisBatch {
			continue
		}
		fixedLike := true
		for _, mb := range members[g] {
			fixedLike = fixedLike && mb.Size.Kind != spec.SizeParameterized
		}
		if fixedLike {
			al := t.Align
			if al <= 0 {
				al = 1
				for al < 16 && ga.Block%(2*al) == 0 {
					al *= 2
				}
			}
			ga.Align = lcm(ga.Align, al)
		}
	}
	for budget > 0 && p.blockBytes() > budget {
		// Halve the largest shrinkable axis, down to blocks of
		// 4·DefaultContext (or the smallest size, or what the declared
		// halos need).
		best := -1
		for g, ga := range p.Axes {
			if shrinkable[g] && (best < 0 || ga.Block > p.Axes[best].Block) {
				best = g
			}
		}
		if best < 0 {
			break
		}
		ga := p.Axes[best]
		smaller := ValidAtMost(primaries[best], ga.Block/2)
		if smaller >= ga.Block || smaller < 2*ga.Declared+ga.Align || smaller < min(4*DefaultContext, ga.Size) {
			shrinkable[best] = false
			continue
		}
		ga.Block = smaller
		if err := p.resolveRefBlocks(); err != nil {
			return nil, err
		}
	}

	// Context and positions.
	p.Blocks = 1
	for g, ga := range p.Axes {
		if h, ok := t.Halo[ga.ID]; ok {
			ga.Halo = max(ga.Declared, h)
		} else if members[g][0].Type != spec.AxisBatch {
			ga.Halo = max(ga.Declared, min(DefaultContext, (ga.Block-ga.Align)/4))
		}
		if err := ga.place(); err != nil {
			return nil, err
		}
		p.Blocks *= len(ga.Starts)
	}

	// Sizes of blocks and of the stitched outputs.
	p.blockIn = Sizes{}
	for _, tin := range m.Inputs {
		p.blockIn[tin.ID] = map[string]int{}
		for ai, a := range tin.Axes {
			if g := p.inStarts[tin.ID][ai]; g >= 0 {
				p.blockIn[tin.ID][a.ID] = p.Axes[g].Block
			} else {
				p.blockIn[tin.ID][a.ID] = in[tin.ID][a.ID]
			}
		}
	}
	if err := CheckInputs(m, p.blockIn); err != nil {
		return nil, zoo.E(op, zoo.NotSupported, err, "cannot tile this sample for the model")
	}
	var err error
	if p.blockOut, err = OutputSizes(m, p.blockIn); err != nil {
		return nil, err
	}
	p.outSize = Sizes{}
	for _, o := range m.Outputs {
		p.outSize[o.ID] = map[string]int{}
		for ai, a := range o.Axes {
			oa := &p.outAxes[o.ID][ai]
			n := p.blockOut[o.ID][a.ID]
			if n < 0 && p.Blocks > 1 {
				return nil, zoo.E(op, zoo.NotSupported, nil, "output %s axis %s has a data-dependent size; such outputs cannot be tiled", o.ID, a.ID)
			}
			if oa.group >= 0 {
				ga := p.Axes[oa.group]
				if a.Type == spec.AxisBatch {
					n = ga.Size
				} else {
					n = refSize(ga.Size, float64(oa.r.num), float64(oa.r.den), a.Size.Ref.Offset)
				}
			}
			oa.full = n
			p.outSize[o.ID][a.ID] = n
		}
		for g, ga := range p.Axes {
			if len(ga.Starts) < 2 {
				continue
			}
			follows := false
			for _, oa := range p.outAxes[o.ID] {
				follows = follows || oa.group == g
			}
			if !follows {
				return nil, zoo.E(op, zoo.NotSupported, nil, "output %s has no axis that follows input axis %s, so it cannot be tiled along %s; use a sample the model takes whole", o.ID, ga.ID, ga.ID)
			}
		}
	}
	return p, nil
}

// resolveRefBlocks sets the block size of axes whose size refers to
// another input axis, from that axis's block, and checks that members of
// one axis id agree.
func (p *Plan) resolveRefBlocks() error {
	m := p.model
	blockOf := func(ref AxisRef) (int, bool) {
		for _, tin := range m.Inputs {
			if tin.ID != ref.Tensor {
				continue
			}
			for ai, a := range tin.Axes {
				if a.ID == ref.Axis {
					if g := p.inStarts[tin.ID][ai]; g >= 0 {
						return p.Axes[g].Block, true
					}
					if a.Type == spec.AxisChannel {
						return a.Size.Fixed, true
					}
				}
			}
		}
		return 0, false
	}
	for _, tin := range m.Inputs {
		for ai := range tin.Axes {
			a := &tin.Axes[ai]
			g := p.inStarts[tin.ID][ai]
			if g < 0 || a.Size.Kind != spec.SizeReference {
				continue
			}
			ref := AxisRef{a.Size.Ref.TensorID, a.Size.Ref.AxisID}
			target, ok := findAxis(m, ref)
			rb, ok2 := blockOf(ref)
			if !ok || !ok2 {
				return zoo.E("runner.NewPlan", zoo.Invalid, nil, "input %s axis %s refers to unknown axis %s", tin.ID, a.ID, ref)
			}
			n := refSize(rb, target.Scale, a.Scale, a.Size.Ref.Offset)
			ga := p.Axes[g]
			if ga.Block != 0 && ga.Block != n && !p.allReferences(ga.ID) {
				return zoo.E("runner.NewPlan", zoo.NotSupported, nil, "input axes %s disagree on the block size (%d and %d)", ga.ID, ga.Block, n)
			}
			ga.Block = n
		}
	}
	return nil
}

// allReferences reports whether every input axis with id is a size
// reference.
func (p *Plan) allReferences(id string) bool {
	for _, tin := range p.model.Inputs {
		for _, a := range tin.Axes {
			if a.ID == id && a.Size.Kind != spec.SizeReference {
				return false
			}
		}
	}
	return true
}

// blockBytes estimates the memory one block needs.
func (p *Plan) blockBytes() int64 {
	var total int64
	for _, tin := range p.model.Inputs {
		n := int64(1)
		for ai, a := range tin.Axes {
			if g := p.inStarts[tin.ID][ai]; g >= 0 {
				n *= int64(p.Axes[g].Block)
			} else if a.Type == spec.AxisChannel {
				n *= int64(a.Size.Fixed)
			}
		}
		total += n * BytesPerInputElement
	}
	return total
}

// place computes Padded and Starts.
func (a *TiledAxis) place() error {
	if a.Block < 1 {
		return zoo.E("runner.NewPlan", zoo.Internal, nil, "no block size along %s", a.ID)
	}
	if a.Size <= a.Block {
		a.Padded, a.Starts = a.Block, []int{0}
		return nil
	}
	a.Padded = a.Size
	if r := (a.Padded - a.Block) % a.Align; r != 0 {
		a.Padded += a.Align - r
	}
	stride := (a.Block - 2*a.Halo) / a.Align * a.Align
	if stride <= 0 {
		return zoo.E("runner.NewPlan", zoo.Invalid, nil, "blocks of %d along %s leave no room inside a halo of %d on each side (positions in steps of %d); use larger tiles", a.Block, a.ID, a.Halo, a.Align)
	}
	last := a.Padded - a.Block
	a.Starts = a.Starts[:0]
	for s := 0; ; s += stride {
		if s >= last {
			a.Starts = append(a.Starts, last)
			break
		}
		a.Starts = append(a.Starts, s)
	}
	return nil
}

// Describe summarises the plan in one line, e.g. "16 blocks; y: 2048→2048
// in 4 block(s) of 576 (halo 32, align 16); …".
func (p *Plan) Describe() string {
	parts := []string{fmt.Sprintf("%d block(s)", p.Blocks)}
	for _, a := range p.Axes {
		parts = append(parts, a.String())
	}
	return strings.Join(parts, "; ")
}

// OutputSizes returns the sizes of the stitched outputs.
func (p *Plan) OutputSizes() Sizes { return p.outSize }

// BlockInputSizes returns the input sizes of every block.
func (p *Plan) BlockInputSizes() Sizes { return p.blockIn }

// block is one block: its index along every tiled axis.
type block []int

// blocks enumerates the blocks in row-major order of Plan.Axes.
func (p *Plan) blocks() []block {
	out := []block{make(block, len(p.Axes))}
	for g := len(p.Axes) - 1; g >= 0; g-- {
		var next []block
		for i := range p.Axes[g].Starts {
			for _, b := range out {
				c := append(block(nil), b...)
				c[g] = i
				next = append(next, c)
			}
		}
		out = next
	}
	return out
}

// inputBox returns where block b reads input tin: start per axis (the
// padded region beyond the sample is filled by reflection).
func (p *Plan) inputBox(tin *spec.Tensor, b block) []int {
	start := make([]int, len(tin.Axes))
	for ai := range tin.Axes {
		if g := p.inStarts[tin.ID][ai]; g >= 0 {
			start[ai] = p.Axes[g].Starts[b[g]]
		}
	}
	return start
}

// outputBox returns which part of block b's output o goes where in the
// stitched output: from (in the block), to (in the stitched output) and
// size, per axis. An empty size means the block contributes nothing.
func (p *Plan) outputBox(o *spec.Tensor, b block) (from, to, size []int) {
	n := len(o.Axes)
	from, to, size = make([]int, n), make([]int, n), make([]int, n)
	for ai, a := range o.Axes {
		oa := p.outAxes[o.ID][ai]
		L := p.blockOut[o.ID][a.ID]
		if oa.group < 0 {
			size[ai] = min(L, oa.full)
			continue
		}
		ga := p.Axes[oa.group]
		i := b[oa.group]
		pos := func(k int) int { return ga.Starts[k] * oa.r.num / oa.r.den } // block k's first output index
		lo, hi := 0, oa.full
		if i > 0 {
			lo = (pos(i-1) + L + pos(i)) / 2
		}
		if i < len(ga.Starts)-1 {
			hi = min(hi, (pos(i)+L+pos(i+1))/2)
		}
		lo = max(lo, pos(i))
		hi = min(hi, pos(i)+L)
		from[ai], to[ai], size[ai] = lo-pos(i), lo, max(hi-lo, 0)
	}
	return from, to, size
}
