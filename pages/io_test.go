package pages

import "testing"

func TestCaptionID(t *testing.T) {
	for _, c := range []struct {
		kind, id string
		of       int
		want     string
	}{
		{"Input", "input", 1, ""},
		{"Input", "input0", 1, ""},
		{"Output", "output_1", 1, ""},
		{"Input", "raw", 1, "raw"},
		{"Input", "input_image", 1, "input_image"},
		{"Output", "output0", 2, "output0"}, // several: keep them apart
	} {
		if got := captionID(c.kind, c.id, c.of); got != c.want {
			t.Errorf("captionID(%q, %q, %d) = %q, want %q", c.kind, c.id, c.of, got, c.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, c := range []struct {
		a, b  string
		limit int
		want  int
	}{
		{"segmentaton", "segmentation", 2, 1},
		{"nucleus", "nuclei", 2, 2},
		{"cell", "segmentation", 2, 3},
		{"", "ab", 2, 2},
		{"kitten", "sitting", 3, 3},
		{"über", "uber", 1, 1},
	} {
		if got := editDistance(c.a, c.b, c.limit); got != c.want {
			t.Errorf("editDistance(%q, %q, %d) = %d, want %d", c.a, c.b, c.limit, got, c.want)
		}
	}
}
