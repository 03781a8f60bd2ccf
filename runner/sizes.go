package runner

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
)

// Size resolution (reference §12): which tensor sizes a model takes and
// gives. Sizes are keyed by tensor id, then axis id.

// Sizes holds the size of every axis of some tensors: Sizes[tensor][axis].
// An output axis of data-dependent size has size -1.
type Sizes map[string]map[string]int

// Shape returns the sizes of tensor t in the order of its axes.
func (s Sizes) Shape(t *spec.Tensor) []int {
	out := make([]int, len(t.Axes))
	for i, a := range t.Axes {
		out[i] = s[t.ID][a.ID]
	}
	return out
}

// Equal reports whether s and o hold the same sizes.
func (s Sizes) Equal(o Sizes) bool {
	if len(s) != len(o) {
		return false
	}
	for t, axes := range s {
		oa, ok := o[t]
		if !ok || len(oa) != len(axes) {
			return false
		}
		for a, n := range axes {
			if m, ok := oa[a]; !ok || m != n {
				return false
			}
		}
	}
	return true
}

// AxisRef names one axis of one tensor.
type AxisRef struct{ Tensor, Axis string }

func (r AxisRef) String() string { return r.Tensor + "." + r.Axis }

// findAxis returns the axis tensor.axis of the model's inputs or outputs.
func findAxis(m *spec.Model, ref AxisRef) (*spec.Axis, bool) {
	for _, list := range [][]spec.Tensor{m.Inputs, m.Outputs} {
		for i := range list {
			if list[i].ID != ref.Tensor {
				continue
			}
			for j := range list[i].Axes {
				if list[i].Axes[j].ID == ref.Axis {
					return &list[i].Axes[j], true
				}
			}
		}
	}
	return nil, false
}

// ValidSize reports whether an input axis accepts size n. Batch axes
// without a size accept any n ≥ 1; size references are checked by
// CheckInputs, not here, and accept any n ≥ 1.
func ValidSize(a *spec.Axis, n int) bool {
	if n < 1 {
		return false
	}
	switch a.Size.Kind {
	case spec.SizeFixed:
		return n == a.Size.Fixed
	case spec.SizeParameterized:
		return n >= a.Size.Min && (n-a.Size.Min)%a.Size.Step == 0
	}
	return true
}

// NextValid returns the smallest size ≥ n that the input axis accepts: the
// size itself for a fixed axis (even when n is larger), min + k·step for a
// parameterized one, n for other kinds.
func NextValid(a *spec.Axis, n int) int {
	switch a.Size.Kind {
	case spec.SizeFixed:
		return a.Size.Fixed
	case spec.SizeParameterized:
		return a.Size.Min + ParamN(a, n)*a.Size.Step
	}
	return max(n, 1)
}

// ValidAtMost returns the largest size ≤ n that the input axis accepts, or
// its smallest size when none is ≤ n.
func ValidAtMost(a *spec.Axis, n int) int {
	switch a.Size.Kind {
	case spec.SizeFixed:
		return a.Size.Fixed
	case spec.SizeParameterized:
		if n <= a.Size.Min {
			return a.Size.Min
		}
		return a.Size.Min + (n-a.Size.Min)/a.Size.Step*a.Size.Step
	}
	return max(n, 1)
}

// ParamN is get_n: the smallest n ≥ 0 with min + n·step ≥ size, for a
// parameterized axis (0 for other kinds).
func ParamN(a *spec.Axis, size int) int {
	if a.Size.Kind != spec.SizeParameterized || size <= a.Size.Min {
		return 0
	}
	return (size - a.Size.Min + a.Size.Step - 1) / a.Size.Step
}

// refSize is a size reference's formula, int(ref · refScale / scale + offset),
// truncated like the reference implementation.
func refSize(refN int, refScale, scale float64, offset int) int {
	return int(float64(refN)*refScale/scale + float64(offset))
}

// HasParameterized reports whether any input axis is parameterized.
func HasParameterized(m *spec.Model) bool {
	for _, t := range m.Inputs {
		for _, a := range t.Axes {
			if a.Size.Kind == spec.SizeParameterized {
				return true
			}
		}
	}
	return false
}

// InputSizes is get_axis_sizes for the inputs: the input sizes for size
// parameter n on every parameterized axis and the given batch size (a
// batch axis of literal size 1 stays 1). Size references are resolved
// after the independent axes.
func InputSizes(m *spec.Model, n, batch int) (Sizes, error) {
	s := Sizes{}
	for _, t := range m.Inputs {
		s[t.ID] = map[string]int{}
		for _, a := range t.Axes {
			switch a.Size.Kind {
			case spec.SizeAny:
				s[t.ID][a.ID] = batch
			case spec.SizeFixed:
				s[t.ID][a.ID] = a.Size.Fixed
			case spec.SizeParameterized:
				s[t.ID][a.ID] = a.Size.Min + n*a.Size.Step
			}
		}
	}
	for _, t := range m.Inputs {
		for _, a := range t.Axes {
			if a.Size.Kind != spec.SizeReference {
				continue
			}
			n, err := resolveRef(m, s, &a)
			if err != nil {
				return nil, zoo.E("runner.InputSizes", zoo.Invalid, err, "input %s axis %s", t.ID, a.ID)
			}
			s[t.ID][a.ID] = n
		}
	}
	return s, nil
}

func resolveRef(m *spec.Model, known Sizes, a *spec.Axis) (int, error) {
	ref := AxisRef{a.Size.Ref.TensorID, a.Size.Ref.AxisID}
	target, ok := findAxis(m, ref)
	if !ok {
		return 0, fmt.Errorf("references unknown axis %s", ref)
	}
	n, ok := known[ref.Tensor][ref.Axis]
	if !ok {
		return 0, fmt.Errorf("references %s, whose size is not known yet", ref)
	}
	return refSize(n, target.Scale, a.Scale, a.Size.Ref.Offset), nil
}

// OutputSizes is get_output_tensor_sizes: the output sizes the model gives
// for the input sizes in. The batch size is that of the inputs; a
// data-dependent axis has size -1.
func OutputSizes(m *spec.Model, in Sizes) (Sizes, error) {
	batch, err := BatchSize(m, in)
	if err != nil {
		return nil, err
	}
	known := Sizes{}
	for t, axes := range in {
		known[t] = axes
	}
	out := Sizes{}
	for _, t := range m.Outputs {
		out[t.ID] = map[string]int{}
		known[t.ID] = out[t.ID]
		for _, a := range t.Axes {
			switch a.Size.Kind {
			case spec.SizeAny:
				out[t.ID][a.ID] = batch
			case spec.SizeFixed:
				out[t.ID][a.ID] = a.Size.Fixed
				if a.Type == spec.AxisBatch {
					out[t.ID][a.ID] = batch
				}
			case spec.SizeDataDependent:
				out[t.ID][a.ID] = -1
			}
		}
	}
	for _, t := range m.Outputs {
		for _, a := range t.Axes {
			if a.Size.Kind != spec.SizeReference {
				continue
			}
			n, err := resolveRef(m, known, &a)
			if err != nil {
				return nil, zoo.E("runner.OutputSizes", zoo.Invalid, err, "output %s axis %s", t.ID, a.ID)
			}
			out[t.ID][a.ID] = n
		}
	}
	return out, nil
}

// BatchSize returns the batch size of input sizes: 1 unless a batch axis
// says otherwise; all batch axes other than 1 must agree.
func BatchSize(m *spec.Model, in Sizes) (int, error) {
	batch := 1
	for _, t := range m.Inputs {
		for _, a := range t.Axes {
			if a.Type != spec.AxisBatch {
				continue
			}
			n, ok := in[t.ID][a.ID]
			if !ok || n == 1 {
				continue
			}
			if batch != 1 && n != batch {
				return 0, zoo.E("runner.BatchSize", zoo.Invalid, nil, "batch size mismatch: input %s has batch %d, another input %d", t.ID, n, batch)
			}
			batch = n
		}
	}
	return batch, nil
}

// CheckInputs reports, as one zoo.Invalid error, every input axis whose
// size in s the model does not accept.
func CheckInputs(m *spec.Model, s Sizes) error {
	var probs []string
	if _, err := BatchSize(m, s); err != nil {
		probs = append(probs, zoo.MessageOf(err))
	}
	for _, t := range m.Inputs {
		for _, a := range t.Axes {
			n, ok := s[t.ID][a.ID]
			if !ok {
				if !t.Optional {
					probs = append(probs, fmt.Sprintf("input %s has no axis %s", t.ID, a.ID))
				}
				continue
			}
			switch a.Size.Kind {
			case spec.SizeFixed:
				if n != a.Size.Fixed {
					probs = append(probs, fmt.Sprintf("input %s axis %s has size %d; the model takes %d", t.ID, a.ID, n, a.Size.Fixed))
				}
			case spec.SizeParameterized:
				if !ValidSize(&a, n) {
					probs = append(probs, fmt.Sprintf("input %s axis %s has size %d; the model takes %d + k·%d (e.g. %d or %d)",
						t.ID, a.ID, n, a.Size.Min, a.Size.Step, ValidAtMost(&a, n), NextValid(&a, n)))
				}
			case spec.SizeReference:
				want, err := resolveRef(m, s, &a)
				if err == nil && want != n {
					probs = append(probs, fmt.Sprintf("input %s axis %s has size %d; its reference %s.%s makes it %d",
						t.ID, a.ID, n, a.Size.Ref.TensorID, a.Size.Ref.AxisID, want))
				}
			}
		}
	}
	if len(probs) > 0 {
		return zoo.E("runner.CheckInputs", zoo.Invalid, nil, "%s", strings.Join(probs, "; "))
	}
	return nil
}

// CheckOutputs compares the output shapes got (by output id, in axis
// order) with the sizes want from OutputSizes; a data-dependent axis must
// lie within its min…max.
func CheckOutputs(m *spec.Model, want Sizes, got map[string][]int) error {
	var probs []string
	for _, t := range m.Outputs {
		shape, ok := got[t.ID]
		if !ok {
			probs = append(probs, fmt.Sprintf("output %s is missing", t.ID))
			continue
		}
		if len(shape) != len(t.Axes) {
			probs = append(probs, fmt.Sprintf("output %s has %d dimensions %v; the description has %d axes", t.ID, len(shape), shape, len(t.Axes)))
			continue
		}
		exp := want.Shape(&t)
		bad := false
		for i, a := range t.Axes {
			if a.Size.Kind == spec.SizeDataDependent {
				bad = bad || shape[i] < a.Size.Min || (a.Size.Max > 0 && shape[i] > a.Size.Max)
				continue
			}
			bad = bad || shape[i] != exp[i]
		}
		if bad {
			probs = append(probs, fmt.Sprintf("output %s has shape %s, expected %s", t.ID, fmtShape(shape), fmtShape(exp)))
		}
	}
	if len(probs) > 0 {
		return zoo.E("runner.CheckOutputs", zoo.Invalid, nil, "%s", strings.Join(probs, "; "))
	}
	return nil
}

// fmtShape prints a shape like numpy, with -1 (data-dependent) as "?".
func fmtShape(s []int) string {
	parts := make([]string, len(s))
	for i, n := range s {
		if n < 0 {
			parts[i] = "?"
		} else {
			parts[i] = fmt.Sprint(n)
		}
	}
	if len(s) == 1 {
		return "(" + parts[0] + ",)"
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// TestBatchSizes are the batch sizes the parameterized test runs
// (reference §18.3): {1} without a batch axis or when a batch axis is
// declared of size 1, else {1, 2}.
func TestBatchSizes(m *spec.Model) []int {
	hasBatch, fixed := false, false
	for _, t := range m.Inputs {
		for _, a := range t.Axes {
			if a.Type == spec.AxisBatch {
				hasBatch = true
				fixed = fixed || a.Size.Kind == spec.SizeFixed
			}
		}
	}
	if !hasBatch || fixed {
		return []int{1}
	}
	return []int{1, 2}
}

// TestNs are the size parameters the parameterized test runs: {0, 1, 2}
// when an input axis is parameterized, else {0}.
func TestNs(m *spec.Model) []int {
	if HasParameterized(m) {
		return []int{0, 1, 2}
	}
	return []int{0}
}

// ratio is an output-per-input scale factor num/den in lowest terms.
type ratio struct{ num, den int }

// scaleRatio returns refScale/scale as a fraction with a denominator of at
// most 1000, or ok false when the scales have no such ratio.
func scaleRatio(refScale, scale float64) (ratio, bool) {
	r := refScale / scale
	for den := 1; den <= 1000; den++ {
		num := math.Round(r * float64(den))
		if num >= 1 && math.Abs(num/float64(den)-r) < 1e-9*math.Max(1, r) {
			return ratio{int(num), den}, true
		}
	}
	return ratio{}, false
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func lcm(a, b int) int { return a / gcd(a, b) * b }

// sortedKeys returns the keys of a map, sorted.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// FixedSize is the size of axis a of m when the description fixes it —
// a fixed size, a parameterized size with step 0, or a reference to such an
// axis (int(ref · refScale / scale + offset), as refSize) — else -1. Used
// where a shape must be declared before any input is seen (protocol
// metadata, exported model configurations).
func FixedSize(m *spec.Model, a *spec.Axis) int64 { return fixedSize(m, a, 0) }

func fixedSize(m *spec.Model, a *spec.Axis, depth int) int64 {
	switch a.Size.Kind {
	case spec.SizeFixed:
		return int64(a.Size.Fixed)
	case spec.SizeParameterized:
		if a.Size.Step == 0 {
			return int64(a.Size.Min)
		}
	case spec.SizeReference:
		if depth > 8 {
			return -1
		}
		for _, ts := range [][]spec.Tensor{m.Inputs, m.Outputs} {
			for i := range ts {
				if ts[i].ID != a.Size.Ref.TensorID {
					continue
				}
				for j := range ts[i].Axes {
					target := &ts[i].Axes[j]
					if target.ID != a.Size.Ref.AxisID {
						continue
					}
					if n := fixedSize(m, target, depth+1); n >= 0 {
						return int64(refSize(int(n), scaleOf(target), scaleOf(a), a.Size.Ref.Offset))
					}
				}
			}
		}
	}
	return -1
}

// scaleOf is an axis's scale, 1 when not given.
func scaleOf(a *spec.Axis) float64 {
	if a.Scale == 0 {
		return 1
	}
	return a.Scale
}
