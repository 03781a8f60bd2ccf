package testview

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/onnx"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// Tester is the reproducibility test of `zoo test` (runner.Test) on the
// package unpacked in dir, as a repo.Tester: runner.Test writes
// the produced tensor of every output that mismatches into out
// (<format>_<output>.npy), and Tester hands them to the repository with
// their shape and dtype; their temporary paths are left out of the
// report. A test interrupted by shutdown, or a worker that cannot load
// ONNX Runtime at all, is an Unavailable error (the job runs again), not a
// failure.
func Tester(ctx context.Context, dir, out string) (*repo.TestResult, error) {
	rep := runner.Test(ctx, dir, runner.TestOptions{SaveDir: out})
	if err := ctx.Err(); err != nil {
		return nil, zoo.E("test", zoo.Unavailable, err, "the test was interrupted")
	}
	if rep.Status == runner.StatusFailed {
		if err := onnx.Init(); err != nil {
			return nil, zoo.E("test", zoo.Unavailable, err, "this worker cannot run the test; the job will run again")
		}
	}
	rep.Source = "rdf.yaml"
	var produced []repo.Produced
	var saved []string
	for _, f := range rep.Order {
		for _, c := range rep.Formats[f].Outputs {
			if c.Saved == "" {
				continue
			}
			if h, err := npyHeader(c.Saved); err == nil {
				produced = append(produced, repo.Produced{Format: f, Output: c.Output, Path: c.Saved, Shape: h.Shape, DType: string(h.DType)})
			}
			saved = append(saved, c.Saved)
			c.Saved = "" // a path in this worker's temporary folder
		}
	}
	data, err := json.Marshal(rep)
	if err != nil {
		return nil, zoo.E("test", zoo.Internal, err, "cannot encode the test report")
	}
	// The messages name the saved files too (runner.Comparison.Summary).
	for _, p := range saved {
		data = []byte(strings.ReplaceAll(string(data), jsonString("; produced tensor saved to "+p), ""))
		data = []byte(strings.ReplaceAll(string(data), jsonString(p), "(kept by the repository)"))
	}
	// Paths of the server's temporary folders mean nothing to readers.
	data = []byte(strings.ReplaceAll(string(data), jsonString(dir+string(filepath.Separator)), ""))
	status := zoo.TestFailed
	switch rep.Status {
	case runner.StatusPassed:
		status = zoo.TestPassed
	case runner.StatusNotSupported:
		status = zoo.TestNotSupported
	}
	return &repo.TestResult{Status: status, Report: data, Produced: produced}, nil
}

// npyHeader reads the header of the .npy file at name.
func npyHeader(name string) (npy.Header, error) {
	f, err := os.Open(name)
	if err != nil {
		return npy.Header{}, err
	}
	defer f.Close()
	return npy.ReadHeader(f)
}

// jsonString is s as it appears inside a JSON string.
func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
