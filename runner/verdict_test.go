package runner

import (
	"math"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

// The reproducibility verdict, rule by rule of reference §18.2: each case
// sits at the edge of one rule, so that breaking the rule (dropping a
// term, flipping a comparison, treating NaN like a number) changes the
// verdict. The tests were checked against hand-applied mutants of
// Compare and tolerance (see bench/RESULTS.md, "Mutation testing").

func vec(v ...float32) *tensor.Tensor {
	t, err := tensor.FromFloat32([]int{len(v)}, v)
	if err != nil {
		panic(err)
	}
	t.Axes = []string{"x"}
	return t
}

// TestCompareElementRule checks the element rule
// |got − want| > atol + rtol·|want| at its edges, one element at a time
// (with no mismatches allowed, so one mismatch decides the verdict).
func TestCompareElementRule(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	cases := []struct {
		name      string
		got, want float32
		tol       spec.Tolerance
		mismatch  bool
	}{
		// The relative term: a difference beyond atol but within
		// atol + rtol·|want| matches.
		{"within the relative term", 1010, 1000, spec.Tolerance{Absolute: 1, Relative: 0.01}, false},
		{"beyond the relative term", 1012, 1000, spec.Tolerance{Absolute: 1, Relative: 0.01}, true},
		// The relative term scales |want|, not |got|, and its absolute value.
		{"relative term of a negative expected value", -1010, -1000, spec.Tolerance{Absolute: 1, Relative: 0.01}, false},
		{"relative term uses want, not got", 2000, 1000, spec.Tolerance{Absolute: 0, Relative: 0.6}, true},
		{"relative term alone", 100.5, 100, spec.Tolerance{Relative: 0.01}, false},
		// The absolute term alone, at its edge (the comparison is strict).
		{"absolute term alone", 0.5, 0, spec.Tolerance{Absolute: 1}, false},
		{"exactly at the tolerance matches", 2, 1, spec.Tolerance{Absolute: 1}, false},
		{"just beyond the tolerance", 2.0001, 1, spec.Tolerance{Absolute: 1}, true},
		{"below, not only above", -0.5, 1, spec.Tolerance{Absolute: 1}, true},
		{"zero tolerance, equal values", 3, 3, spec.Tolerance{}, false},
		{"zero tolerance, different values", 3, 3.0001, spec.Tolerance{}, true},
		// Non-finite values: NaN against NaN matches, NaN against a
		// number does not (either way round), infinities match only
		// themselves.
		{"NaN against NaN", nan, nan, spec.Tolerance{}, false},
		{"NaN against a number", nan, 1, spec.Tolerance{Absolute: 1e9, Relative: 1e9}, true},
		{"a number against NaN", 1, nan, spec.Tolerance{Absolute: 1e9, Relative: 1e9}, true},
		{"+Inf against +Inf", inf, inf, spec.Tolerance{}, false},
		{"-Inf against -Inf", -inf, -inf, spec.Tolerance{}, false},
		{"+Inf against -Inf", inf, -inf, spec.Tolerance{Absolute: 1e9, Relative: 1e9}, true},
		{"+Inf against a number", inf, 1, spec.Tolerance{Absolute: 1e9, Relative: 1e9}, true},
		{"a number against -Inf", 1, -inf, spec.Tolerance{Absolute: 1e9, Relative: 1e9}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Compare("y", vec(tc.got), vec(tc.want), tc.tol)
			if err != nil {
				t.Fatal(err)
			}
			if (c.Mismatched == 1) != tc.mismatch || c.OK == tc.mismatch {
				t.Errorf("got %g, want %g under abs %g + rel %g: mismatched %d, ok %v; want mismatch %v",
					tc.got, tc.want, tc.tol.Absolute, tc.tol.Relative, c.Mismatched, c.OK, tc.mismatch)
			}
			nonFinite := tc.mismatch && (isNonFinite(tc.got) || isNonFinite(tc.want))
			if (c.NonFinite == 1) != nonFinite {
				t.Errorf("NonFinite = %d, want %v", c.NonFinite, nonFinite)
			}
		})
	}
}

func isNonFinite(v float32) bool { return v != v || math.IsInf(float64(v), 0) }

// TestCompareMismatchedPerMillion checks the count rule: the verdict
// passes while mismatched / size · 10⁶ ≤ the allowed count per million,
// inclusive, and the statistics name the worst elements.
func TestCompareMismatchedPerMillion(t *testing.T) {
	// 1000 elements, 3 mismatched → 3000 per million.
	got := make([]float32, 1000)
	want := make([]float32, 1000)
	got[10], got[500], got[999] = 5, -7, 6
	for _, tc := range []struct {
		allowed int
		ok      bool
	}{{2999, false}, {3000, true}, {3001, true}, {0, false}} {
		c, err := Compare("y", vec(got...), vec(want...), spec.Tolerance{Absolute: 1, MismatchedPerMillion: tc.allowed})
		if err != nil {
			t.Fatal(err)
		}
		if c.Mismatched != 3 || c.PerMillion != 3000 {
			t.Fatalf("mismatched %d (%g per million), want 3 (3000)", c.Mismatched, c.PerMillion)
		}
		if c.OK != tc.ok {
			t.Errorf("allowed %d per million: ok = %v, want %v", tc.allowed, c.OK, tc.ok)
		}
	}
	c, _ := Compare("y", vec(got...), vec(want...), spec.Tolerance{Absolute: 1})
	if c.MaxAbs != 7 || len(c.MaxAbsAt) != 1 || c.MaxAbsAt[0] != 500 {
		t.Errorf("max abs error %g at %v, want 7 at [500]", c.MaxAbs, c.MaxAbsAt)
	}
	if want := 7 / 1e-6; math.Abs(c.MaxRel-want) > 1e-6*want || len(c.MaxRelAt) != 1 || c.MaxRelAt[0] != 500 {
		t.Errorf("max rel error %g at %v, want %g at [500]", c.MaxRel, c.MaxRelAt, want)
	}
	// All equal: no mismatch, no relative error position.
	c, _ = Compare("y", vec(want...), vec(want...), spec.Tolerance{})
	if c.Mismatched != 0 || !c.OK || c.MaxRelAt != nil {
		t.Errorf("equal tensors: %+v", c)
	}
	// A shape difference is an error, not a verdict.
	if _, err := Compare("y", vec(1, 2), vec(1, 2, 3), spec.Tolerance{}); err == nil {
		t.Error("shapes 2 and 3 compared without an error")
	}
}

// TestToleranceSelection checks which tolerance an output gets (§18.2
// step 5): a 0.5 description without configured tolerances gets the
// defaults (1e-3, 1e-3, 100 per million); a 0.4 description without
// them gets none (no mismatched element allowed); otherwise the first
// entry whose output_ids and weights_formats are empty or contain the
// output and format — an entry for one output applies to no other.
func TestToleranceSelection(t *testing.T) {
	tol := func(rel, abs float64, ppm int, outs, formats []string) spec.Tolerance {
		return spec.Tolerance{Relative: rel, Absolute: abs, MismatchedPerMillion: ppm, OutputIDs: outs, WeightsFormats: formats}
	}
	withConfig := func(ts ...spec.Tolerance) *spec.Model {
		m := &spec.Model{Config: &spec.ModelConfig{}}
		m.Config.Bioimageio.ReproducibilityTolerance = ts
		return m
	}
	forMask := tol(0.1, 0.2, 7, []string{"mask"}, nil)
	forTorch := tol(0.3, 0.4, 9, nil, []string{"torchscript"})
	catchAll := tol(0.5, 0.6, 11, nil, nil)
	cases := []struct {
		name    string
		version string
		model   *spec.Model
		output  string
		format  string
		want    spec.Tolerance
	}{
		{"0.5 without config", "0.5.4", &spec.Model{}, "y", "onnx", spec.DefaultTolerance},
		{"0.5 with an empty list", "0.5.4", withConfig(), "y", "onnx", spec.DefaultTolerance},
		{"0.4 without config", "0.4.10", &spec.Model{}, "y", "onnx", tol(1e-3, 1e-3, 0, nil, nil)},
		{"0.4 with an empty list", "0.4.9", withConfig(), "y", "onnx", tol(1e-3, 1e-3, 0, nil, nil)},
		{"0.3 without config", "0.3.6", &spec.Model{}, "y", "onnx", tol(1e-3, 1e-3, 0, nil, nil)},
		{"0.4 with a configured tolerance", "0.4.10", withConfig(catchAll), "y", "onnx", catchAll},
		{"output_ids: the named output", "0.5.4", withConfig(forMask), "mask", "onnx", forMask},
		{"output_ids: another output gets the defaults", "0.5.4", withConfig(forMask), "y", "onnx", spec.DefaultTolerance},
		{"output_ids: another output gets the next entry", "0.5.4", withConfig(forMask, catchAll), "y", "onnx", catchAll},
		{"weights_formats: the named format", "0.5.4", withConfig(forTorch), "y", "torchscript", forTorch},
		{"weights_formats: another format", "0.5.4", withConfig(forTorch), "y", "onnx", spec.DefaultTolerance},
		{"both must match", "0.5.4", withConfig(tol(0.1, 0.2, 7, []string{"mask"}, []string{"onnx"}), catchAll), "mask", "torchscript", catchAll},
		{"the first match wins", "0.5.4", withConfig(forMask, catchAll), "mask", "onnx", forMask},
		{"the first match wins over a later specific one", "0.5.4", withConfig(catchAll, forMask), "mask", "onnx", catchAll},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := tolerance(&Package{Model: tc.model, FormatVersion: tc.version}, tc.output, tc.format)
			if got.Relative != tc.want.Relative || got.Absolute != tc.want.Absolute || got.MismatchedPerMillion != tc.want.MismatchedPerMillion {
				t.Errorf("output %s, %s: got rel %g abs %g ppm %d, want rel %g abs %g ppm %d", tc.output, tc.format,
					got.Relative, got.Absolute, got.MismatchedPerMillion, tc.want.Relative, tc.want.Absolute, tc.want.MismatchedPerMillion)
			}
		})
	}
}

// TestVerdictPerOutputTolerance runs the two rules together as Test does:
// two outputs, a loose tolerance configured for one of them only; the
// same error is accepted in that output and refused in the other.
func TestVerdictPerOutputTolerance(t *testing.T) {
	m := &spec.Model{Config: &spec.ModelConfig{}}
	m.Config.Bioimageio.ReproducibilityTolerance = []spec.Tolerance{{Absolute: 0.5, OutputIDs: []string{"loose"}}}
	pkg := &Package{Model: m, FormatVersion: "0.5.4"}
	want := vec(make([]float32, 10)...)
	got := vec(0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.25)
	for _, tc := range []struct {
		output string
		ok     bool
	}{{"loose", true}, {"strict", false}} {
		c, err := Compare(tc.output, got, want, tolerance(pkg, tc.output, "onnx"))
		if err != nil {
			t.Fatal(err)
		}
		if c.OK != tc.ok {
			t.Errorf("output %s: ok = %v, want %v (%s)", tc.output, c.OK, tc.ok, c.Summary())
		}
	}
}

// TestCompareWorstPositions: the report names the first element with the
// largest absolute error (index 0 when nothing differs) and the first with
// the largest relative error among the mismatched ones.
func TestCompareWorstPositions(t *testing.T) {
	cases := []struct {
		got, want []float32
		maxAbs    float64
		absAt     int
		relAt     int // -1: none
	}{
		{[]float32{1, 2, 3}, []float32{1, 2, 3}, 0, 0, -1},
		{[]float32{6, 2, 3}, []float32{1, 1, 3}, 5, 0, 0},   // errors 5, 1, 0
		{[]float32{1, 5, 5}, []float32{1, 1, 1}, 4, 1, 1},   // a tie: the first
		{[]float32{0, 11, 2}, []float32{0, 10, 1}, 1, 1, 2}, // same abs error, relative larger at 2
		{[]float32{-4, 0, 0}, []float32{0, 0, 0}, 4, 0, 0},  // below, not above
	}
	for i, tc := range cases {
		c, err := Compare("y", vec(tc.got...), vec(tc.want...), spec.Tolerance{Absolute: 0.5})
		if err != nil {
			t.Fatal(err)
		}
		if c.MaxAbs != tc.maxAbs || len(c.MaxAbsAt) != 1 || c.MaxAbsAt[0] != tc.absAt {
			t.Errorf("case %d: max abs error %g at %v, want %g at [%d]", i, c.MaxAbs, c.MaxAbsAt, tc.maxAbs, tc.absAt)
		}
		if tc.relAt < 0 {
			if c.MaxRelAt != nil {
				t.Errorf("case %d: max rel error at %v, want none", i, c.MaxRelAt)
			}
		} else if len(c.MaxRelAt) != 1 || c.MaxRelAt[0] != tc.relAt {
			t.Errorf("case %d: max rel error %g at %v, want at [%d]", i, c.MaxRel, c.MaxRelAt, tc.relAt)
		}
	}
}

// TestCompareEmptyAndSummary: an empty output reproduces an empty test
// output; the one-line summary states the counts, the verdict against the
// allowance and where the worst elements are.
func TestCompareEmptyAndSummary(t *testing.T) {
	c, err := Compare("y", vec(), vec(), spec.Tolerance{})
	if err != nil || !c.OK || c.Mismatched != 0 || c.PerMillion != 0 {
		t.Errorf("empty tensors: %+v, %v", c, err)
	}
	got := vec(0, 5, float32(math.NaN()), 0)
	c, _ = Compare("mask", got, vec(0, 0, 0, 0), spec.Tolerance{Absolute: 1, MismatchedPerMillion: 100})
	s := c.Summary()
	for _, want := range []string{"output mask: 2 of 4 elements mismatched", "500000.0 per million", "over the allowed 100",
		"max abs error 5 at (x 1)", "1 of the mismatches are NaN or infinite"} {
		if !strings.Contains(s, want) {
			t.Errorf("summary %q lacks %q", s, want)
		}
	}
	c, _ = Compare("mask", vec(0, 5), vec(0, 0), spec.Tolerance{Absolute: 1, MismatchedPerMillion: 500000})
	if s := c.Summary(); strings.Contains(s, "NaN") || !strings.Contains(s, "within the allowed 500000") {
		t.Errorf("finite mismatch within the allowance: summary %q", s)
	}
	c, _ = Compare("mask", vec(0, 0.5), vec(0, 0), spec.Tolerance{Absolute: 1})
	if s := c.Summary(); !strings.HasPrefix(s, "output mask reproduces (max abs error 0.5)") {
		t.Errorf("summary %q", s)
	}
}
