package spec

import (
	"strings"
	"testing"
)

// The halo rule (reference §6.1, §15): an output axis's minimum size minus
// its halo on *both* sides must leave at least one element
// (min_size − 2·halo ≥ 1). Each case below sits exactly at the edge of
// the rule — one element left (valid) or none (invalid) — so that
// counting the halo once, or moving the edge by one, changes the verdict.
// The minimum size is reached through every way an output axis gets it:
// a parameterized input minimum, a fixed input size, a scale and an
// offset.

func TestModel05HaloBoundary(t *testing.T) {
	halo := func(h int) func(testing.TB, editDoc) {
		return setv("outputs.0.axes.2.halo", h) // y; x keeps halo 8
	}
	inMin := func(min int) func(testing.TB, editDoc) {
		return setv("inputs.0.axes.2.size", yv("{min: "+itoa(min)+", step: 16}"))
	}
	cases := []model05Case{
		// Parameterized input y with minimum 65: halo 32 leaves 1.
		{name: "min 65, halo 32 leaves one element", edit: edAll(inMin(65), halo(32)), valid: true},
		{name: "min 65, halo 33 leaves none", edit: edAll(inMin(65), halo(33)),
			loc: "outputs", msg: "axis y with minimum size 65 is too small for halo 33"},
		{name: "min 64, halo 32 leaves none", edit: edAll(inMin(64), halo(32)),
			loc: "outputs", msg: "axis y with minimum size 64 is too small for halo 32"},
		{name: "min 64, halo 31 leaves two", edit: edAll(inMin(64), halo(31)), valid: true},
		// Fixed input size 65.
		{name: "fixed 65, halo 32", edit: edAll(setv("inputs.0.axes.2.size", 65), halo(32)), valid: true},
		{name: "fixed 65, halo 33", edit: edAll(setv("inputs.0.axes.2.size", 65), halo(33)),
			loc: "outputs", msg: "minimum size 65 is too small for halo 33"},
		// An offset of −1 on the reference: minimum 64 − 1 = 63.
		{name: "offset -1, halo 31", edit: edAll(inMin(64), halo(31),
			setv("outputs.0.axes.2.size", yv("{tensor_id: raw, axis_id: y, offset: -1}"))), valid: true},
		{name: "offset -1, halo 32", edit: edAll(inMin(64), halo(32),
			setv("outputs.0.axes.2.size", yv("{tensor_id: raw, axis_id: y, offset: -1}"))),
			loc: "outputs", msg: "minimum size 63 is too small for halo 32"},
		// An output scale of 2 (half as many elements as the input):
		// minimum 66 / 2 = 33.
		{name: "scale 2, halo 16", edit: edAll(inMin(66), halo(16),
			setv("outputs.0.axes.2.scale", 2.0)), valid: true},
		{name: "scale 2, halo 17", edit: edAll(inMin(66), halo(17),
			setv("outputs.0.axes.2.scale", 2.0)),
			loc: "outputs", msg: "minimum size 33 is too small for halo 17"},
		// A reference scale other than 1: input scale 2, output scale 4
		// gives minimum 66·2/4 = 33.
		{name: "reference scale 2, output scale 4, halo 16", edit: edAll(inMin(66), halo(16),
			setv("inputs.0.axes.2.scale", 2.0), setv("outputs.0.axes.2.scale", 4.0)), valid: true},
		// The halo in input elements is halo·scale/reference scale:
		// 3·1/2 = 1.5 is not a whole number of input elements.
		{name: "halo 3 at reference scale 2 is 1.5 input elements", edit: edAll(inMin(66), halo(3),
			setv("inputs.0.axes.2.scale", 2.0)),
			loc: "outputs", msg: "Inferred halo for raw.y is not an integer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := edParse(t, minimalModel05)
			tc.edit(t, d)
			data := edMarshal(t, d)
			rep := Validate(data, tc.name+".yaml", tc.opts).Report
			checkOutcome(t, rep, tc.valid, tc.loc, tc.msg, tc.sev)
			if t.Failed() {
				t.Logf("document:\n%s", data)
			}
		})
	}
}

func TestModel04HaloBoundary(t *testing.T) {
	cases := []struct {
		name  string
		valid bool
		edits []string
	}{
		{"fixed 65, halo 32 leaves one element", true, []string{"inputs.0.shape=[1, 1, 65, 64]", "outputs.0.halo=[0, 0, 32, 0]"}},
		{"fixed 65, halo 33 leaves none", false, []string{"inputs.0.shape=[1, 1, 65, 64]", "outputs.0.halo=[0, 0, 33, 0]"}},
		{"fixed 64, halo 32 leaves none", false, []string{"outputs.0.halo=[0, 0, 0, 32]"}},
		{"parameterized min 17, halo 8", true, []string{"inputs.0.shape={min: [1, 1, 17, 17], step: [0, 0, 16, 16]}", "outputs.0.halo=[0, 0, 8, 8]"}},
		{"parameterized min 17, halo 9", false, []string{"inputs.0.shape={min: [1, 1, 17, 17], step: [0, 0, 16, 16]}", "outputs.0.halo=[0, 0, 9, 0]"}},
		// Output offset −1 per side: 64 + 2·(−1) = 62.
		{"offset -1, halo 30", true, []string{"outputs.0.shape={reference_tensor: raw, scale: [1, 1, 1, 1], offset: [0, 0, -1, 0]}", "outputs.0.halo=[0, 0, 30, 0]"}},
		{"offset -1, halo 31", false, []string{"outputs.0.shape={reference_tensor: raw, scale: [1, 1, 1, 1], offset: [0, 0, -1, 0]}", "outputs.0.halo=[0, 0, 31, 0]"}},
		// Output scale 0.5: 65 · 0.5 = 32.5 → 32.
		{"scale 0.5, halo 15", true, []string{"inputs.0.shape=[1, 1, 65, 64]", "outputs.0.shape={reference_tensor: raw, scale: [1, 1, 0.5, 1], offset: [0, 0, 0, 0]}", "outputs.0.halo=[0, 0, 15, 0]"}},
		{"scale 0.5, halo 16", false, []string{"inputs.0.shape=[1, 1, 65, 64]", "outputs.0.shape={reference_tensor: raw, scale: [1, 1, 0.5, 1], offset: [0, 0, 0, 0]}", "outputs.0.halo=[0, 0, 16, 0]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep := validateEdited(t, tc.edits...)
			if tc.valid {
				for _, e := range rep.Errors {
					t.Errorf("want valid: %s: %s", e.Loc, e.Msg)
				}
				return
			}
			found := false
			for _, e := range rep.Errors {
				found = found || strings.Contains(e.Msg, "too small for halo")
			}
			if !found {
				t.Errorf("want a \"too small for halo\" error; errors:%s", probList(rep.Errors))
			}
		})
	}
}
