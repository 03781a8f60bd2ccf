package pages

import (
	"fmt"
	"strconv"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/testview"
)

// producedView is one produced tensor of a failed reproduction as the
// test report parts of the model and review pages show it: the expected
// test output, the produced tensor and their difference side by side
// (testview's images), the errors from the report and the .npy download.
type producedView struct {
	Format, Output             string
	Expected, Produced, Diff   string // image URLs
	NPY                        string // download URL
	Size                       string // of the .npy, e.g. "1.0 MiB"
	MaxAbs, MaxRel, PerMillion string
	Shape                      string
}

// comparison is the part of runner.Comparison the pages show.
type comparison struct {
	Output     string  `json:"output"`
	MaxAbs     float64 `json:"max_abs_error"`
	MaxRel     float64 `json:"max_rel_error"`
	PerMillion float64 `json:"mismatched_per_million"`
}

// linkProduced fills the Views of every format of tr that has produced
// tensors in v's stored report (repo.ProducedOf).
func (tr *testReport) linkProduced(v *zoo.Version) {
	for _, p := range repo.ProducedOf(v.TestReport) {
		f := tr.Formats[p.Format]
		if f == nil {
			continue
		}
		pv := producedView{
			Format: p.Format, Output: p.Output,
			NPY:      testview.URL(v.ModelID, v.Number, p.Format, p.Output, "npy"),
			Expected: testview.URL(v.ModelID, v.Number, p.Format, p.Output, "png") + "?view=expected",
			Produced: testview.URL(v.ModelID, v.Number, p.Format, p.Output, "png") + "?view=produced",
			Diff:     testview.URL(v.ModelID, v.Number, p.Format, p.Output, "png") + "?view=diff",
			Size:     humanSize(p.Size),
			Shape:    fmt.Sprint(p.Shape),
		}
		for _, c := range f.Outputs {
			if c.Output == p.Output {
				pv.MaxAbs = strconv.FormatFloat(c.MaxAbs, 'g', 3, 64)
				pv.MaxRel = strconv.FormatFloat(c.MaxRel, 'g', 3, 64)
				pv.PerMillion = strconv.FormatFloat(c.PerMillion, 'f', 1, 64)
			}
		}
		f.Views = append(f.Views, pv)
	}
}
