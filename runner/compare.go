package runner

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

// Comparison is how closely one output reproduced its test tensor
// (reference §18.2). Values are compared in float32: an element
// mismatches when |got − want| > Absolute + Relative·|want|. Unlike numpy
// (where NaN compares false), a NaN against a number counts as a mismatch;
// NaN against NaN matches.
type Comparison struct {
	Output     string  `json:"output"`
	Shape      []int   `json:"shape"`
	Mismatched int     `json:"mismatched"`
	PerMillion float64 `json:"mismatched_per_million"`
	// Allowed is the tolerance's mismatched elements per million.
	Allowed   int            `json:"allowed_per_million"`
	Tolerance spec.Tolerance `json:"tolerance"`
	// MaxAbs is the largest |got − want| over all elements, at MaxAbsAt.
	MaxAbs   float64 `json:"max_abs_error"`
	MaxAbsAt []int   `json:"max_abs_error_at,omitempty"`
	// MaxRel is the largest |got − want| / (|want| + 1e-6) among the
	// mismatched elements, at MaxRelAt.
	MaxRel   float64 `json:"max_rel_error"`
	MaxRelAt []int   `json:"max_rel_error_at,omitempty"`
	// NonFinite counts mismatches where one side is NaN or infinite
	// (they are left out of MaxAbs and MaxRel).
	NonFinite int  `json:"non_finite_mismatched,omitempty"`
	OK        bool `json:"ok"`
	// Saved is where the produced tensor was written, when it mismatched.
	Saved string `json:"saved,omitempty"`
	axes  []string
}

// Compare compares got with want (same shape) under tol.
func Compare(output string, got, want *tensor.Tensor, tol spec.Tolerance) (*Comparison, error) {
	if !slices.Equal(got.Shape, want.Shape) {
		return nil, fmt.Errorf("output %s has shape %s, but the test output has %s", output, tensor.FormatShape(got.Shape), tensor.FormatShape(want.Shape))
	}
	c := &Comparison{Output: output, Shape: got.Shape, Allowed: tol.MismatchedPerMillion, Tolerance: tol, axes: got.Axes}
	n := got.Len()
	worstAbs, worstRel := -1, -1
	for i := 0; i < n; i++ {
		g, w := float32(got.Float64At(i)), float32(want.Float64At(i))
		d := math.Abs(float64(g) - float64(w))
		if math.IsNaN(d) || math.IsInf(d, 0) {
			// NaN or ±Inf on one side (or Infs of opposite signs).
			if g != w && !(g != g && w != w) {
				c.Mismatched++
				c.NonFinite++
			}
			continue
		}
		if d > c.MaxAbs || worstAbs < 0 {
			c.MaxAbs, worstAbs = d, i
		}
		if float32(d) > float32(tol.Absolute)+float32(tol.Relative)*float32(math.Abs(float64(w))) {
			c.Mismatched++
			if r := d / (math.Abs(float64(w)) + 1e-6); r > c.MaxRel || worstRel < 0 {
				c.MaxRel, worstRel = r, i
			}
		}
	}
	if n > 0 {
		c.PerMillion = float64(c.Mismatched) / float64(n) * 1e6
	}
	if worstAbs >= 0 {
		c.MaxAbsAt = unravel(worstAbs, got.Shape)
	}
	if worstRel >= 0 {
		c.MaxRelAt = unravel(worstRel, got.Shape)
	}
	c.OK = c.PerMillion <= float64(tol.MismatchedPerMillion)
	return c, nil
}

// Summary describes the comparison in one line.
func (c *Comparison) Summary() string {
	if c.Mismatched == 0 {
		return fmt.Sprintf("output %s reproduces (max abs error %.3g)", c.Output, c.MaxAbs)
	}
	verdict := "within"
	if !c.OK {
		verdict = "over"
	}
	s := fmt.Sprintf("output %s: %d of %d elements mismatched (%.1f per million, %s the allowed %d; tolerance abs %g + rel %g); max abs error %.3g at %s; max rel error %.3g at %s",
		c.Output, c.Mismatched, tensor.NumElements(c.Shape), c.PerMillion, verdict, c.Allowed, c.Tolerance.Absolute, c.Tolerance.Relative,
		c.MaxAbs, c.where(c.MaxAbsAt), c.MaxRel, c.where(c.MaxRelAt))
	if c.NonFinite > 0 {
		s += fmt.Sprintf("; %d of the mismatches are NaN or infinite values", c.NonFinite)
	}
	if c.Saved != "" {
		s += "; produced tensor saved to " + c.Saved
	}
	return s
}

func (c *Comparison) where(idx []int) string {
	parts := make([]string, len(idx))
	for i, v := range idx {
		if i < len(c.axes) {
			parts[i] = fmt.Sprintf("%s %d", c.axes[i], v)
		} else {
			parts[i] = fmt.Sprint(v)
		}
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func unravel(i int, shape []int) []int {
	idx := make([]int, len(shape))
	for d := len(shape) - 1; d >= 0; d-- {
		if shape[d] > 0 {
			idx[d] = i % shape[d]
			i /= shape[d]
		}
	}
	return idx
}
