package spec

import (
	"testing"
)

// TestToleranceFor checks the reproduction tolerance rules of reference
// §18.2 step 5 in the package that owns them, from descriptions: defaults
// 1e-3 / 1e-3 / 100 per million; the legacy test_kwargs of the weight
// format; then the first reproducibility_tolerance entry whose output_ids
// and weights_formats are empty or contain the output and format, fields
// left out taking the defaults.
func TestToleranceFor(t *testing.T) {
	type want struct {
		rel, abs float64
		ppm      int
	}
	def := want{1e-3, 1e-3, 100}
	cases := []struct {
		name   string
		config string
		output string
		format string
		want   want
	}{
		{"no config", "", "probability", "onnx", def},
		{"config without bioimageio", "config: {mytool: {x: 1}}", "probability", "onnx", def},
		{"an entry for every output and format", "config: {bioimageio: {reproducibility_tolerance: [{relative_tolerance: 0.002, absolute_tolerance: 0.5, mismatched_elements_per_million: 7}]}}",
			"probability", "onnx", want{0.002, 0.5, 7}},
		{"fields left out take the defaults", "config: {bioimageio: {reproducibility_tolerance: [{absolute_tolerance: 0.5}]}}",
			"probability", "onnx", want{1e-3, 0.5, 100}},
		{"explicit zeros stay zero", "config: {bioimageio: {reproducibility_tolerance: [{relative_tolerance: 0, absolute_tolerance: 0, mismatched_elements_per_million: 0}]}}",
			"probability", "onnx", want{0, 0, 0}},
		{"output_ids naming the output", "config: {bioimageio: {reproducibility_tolerance: [{absolute_tolerance: 0.5, output_ids: [probability]}]}}",
			"probability", "onnx", want{1e-3, 0.5, 100}},
		{"output_ids naming another output", "config: {bioimageio: {reproducibility_tolerance: [{absolute_tolerance: 0.5, output_ids: [probability]}]}}",
			"mask", "onnx", def},
		{"weights_formats naming the format", "config: {bioimageio: {reproducibility_tolerance: [{absolute_tolerance: 0.5, weights_formats: [onnx]}]}}",
			"probability", "onnx", want{1e-3, 0.5, 100}},
		{"weights_formats naming another format", "config: {bioimageio: {reproducibility_tolerance: [{absolute_tolerance: 0.5, weights_formats: [torchscript]}]}}",
			"probability", "onnx", def},
		{"first matching entry wins", "config: {bioimageio: {reproducibility_tolerance: [{absolute_tolerance: 0.5, output_ids: [mask]}, {absolute_tolerance: 0.25}, {absolute_tolerance: 0.125}]}}",
			"probability", "onnx", want{1e-3, 0.25, 100}},
		{"legacy test_kwargs of the format", "config: {bioimageio: {test_kwargs: {onnx: {relative_tolerance: 0.005, absolute_tolerance: 0.02}}}}",
			"probability", "onnx", want{0.005, 0.02, 100}},
		{"legacy test_kwargs: missing values default", "config: {bioimageio: {test_kwargs: {onnx: {absolute_tolerance: 0.02}}}}",
			"probability", "onnx", want{1e-3, 0.02, 100}},
		{"legacy test_kwargs of another format", "config: {bioimageio: {test_kwargs: {torchscript: {absolute_tolerance: 0.02}}}}",
			"probability", "onnx", def},
		{"legacy test_kwargs that are not numbers", "config: {bioimageio: {test_kwargs: {onnx: {absolute_tolerance: lots}, keras_hdf5: 3}}}",
			"probability", "onnx", def},
		{"reproducibility_tolerance over test_kwargs", "config: {bioimageio: {test_kwargs: {onnx: {absolute_tolerance: 0.02}}, reproducibility_tolerance: [{absolute_tolerance: 0.5}]}}",
			"probability", "onnx", want{1e-3, 0.5, 100}},
		{"test_kwargs when no entry matches", "config: {bioimageio: {test_kwargs: {onnx: {absolute_tolerance: 0.02}}, reproducibility_tolerance: [{absolute_tolerance: 0.5, output_ids: [mask]}]}}",
			"probability", "onnx", want{1e-3, 0.02, 100}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Decode([]byte(minimalModel05+tc.config+"\n"), "tol.yaml")
			if err != nil {
				t.Fatal(err)
			}
			got := m.ToleranceFor(tc.output, tc.format)
			if got.Relative != tc.want.rel || got.Absolute != tc.want.abs || got.MismatchedPerMillion != tc.want.ppm {
				t.Errorf("output %s, %s: rel %g abs %g ppm %d; want rel %g abs %g ppm %d", tc.output, tc.format,
					got.Relative, got.Absolute, got.MismatchedPerMillion, tc.want.rel, tc.want.abs, tc.want.ppm)
			}
		})
	}
}
