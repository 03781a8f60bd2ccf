package spec

import "testing"

// TestNumericRangeEdges checks numeric field rules on both sides of each
// bound, open and closed: the value at a closed bound is valid, at an open
// bound invalid, and one step beyond either is invalid. A rule whose
// comparison is flipped or loosened by one changes a verdict here.
func TestNumericRangeEdges(t *testing.T) {
	tol := func(kv string) func(testing.TB, editDoc) {
		return setv("config", yv("{bioimageio: {reproducibility_tolerance: [{"+kv+"}]}}"))
	}
	zmuv := func(eps string) func(testing.TB, editDoc) {
		return setv("inputs.0.preprocessing", yv("[{id: zero_mean_unit_variance, kwargs: {axes: [x, y], eps: "+eps+"}}]"))
	}
	scaleRange := func(kv string) func(testing.TB, editDoc) {
		return setv("inputs.0.preprocessing", yv("[{id: scale_range, kwargs: {axes: [x, y], "+kv+"}}]"))
	}
	const relLoc = "config.bioimageio.reproducibility_tolerance.0.relative_tolerance"
	const ppmLoc = "config.bioimageio.reproducibility_tolerance.0.mismatched_elements_per_million"
	const epsLoc = "inputs.0.preprocessing.0.kwargs.eps"
	cases := []model05Case{
		// relative_tolerance in [0, 0.01]
		{name: "relative_tolerance 0", edit: tol("relative_tolerance: 0"), valid: true},
		{name: "relative_tolerance 0.01", edit: tol("relative_tolerance: 0.01"), valid: true},
		{name: "relative_tolerance above 0.01", edit: tol("relative_tolerance: 0.0100001"), loc: relLoc, msg: "must be ≤ 0.01"},
		{name: "relative_tolerance below 0", edit: tol("relative_tolerance: -0.000001"), loc: relLoc, msg: "must be ≥ 0"},
		// mismatched_elements_per_million in [0, 1000]
		{name: "mismatched 0", edit: tol("mismatched_elements_per_million: 0"), valid: true},
		{name: "mismatched 1000", edit: tol("mismatched_elements_per_million: 1000"), valid: true},
		{name: "mismatched 1001", edit: tol("mismatched_elements_per_million: 1001"), loc: ppmLoc, msg: "must be ≤ 1000"},
		{name: "mismatched -1", edit: tol("mismatched_elements_per_million: -1"), loc: ppmLoc, msg: "must be ≥ 0"},
		// eps in (0, 0.1]
		{name: "eps 0.1", edit: zmuv("0.1"), valid: true},
		{name: "eps tiny", edit: zmuv("1e-12"), valid: true},
		{name: "eps 0", edit: zmuv("0"), loc: epsLoc, msg: "must be > 0"},
		{name: "eps above 0.1", edit: zmuv("0.1000001"), loc: epsLoc, msg: "must be ≤ 0.1"},
		// min_percentile in [0, 100), max_percentile in (1, 100]
		{name: "min_percentile 0", edit: scaleRange("min_percentile: 0"), valid: true},
		{name: "min_percentile 100", edit: scaleRange("min_percentile: 100"), loc: "inputs.0.preprocessing.0.kwargs.min_percentile", msg: "must be < 100"},
		{name: "max_percentile 100", edit: scaleRange("max_percentile: 100"), valid: true},
		{name: "max_percentile 1", edit: scaleRange("max_percentile: 1"), loc: "inputs.0.preprocessing.0.kwargs.max_percentile", msg: "must be > 1"},
		// halo ≥ 1
		{name: "halo 1", edit: setv("outputs.0.axes.2.halo", 1), valid: true},
		{name: "halo 0", edit: setv("outputs.0.axes.2.halo", 0), loc: "outputs.0.axes.2.halo", msg: "must be ≥ 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := edParse(t, minimalModel05)
			tc.edit(t, d)
			data := edMarshal(t, d)
			rep := Validate(data, tc.name+".yaml", tc.opts).Report
			checkOutcome(t, rep, tc.valid, tc.loc, tc.msg, tc.sev)
		})
	}
}
