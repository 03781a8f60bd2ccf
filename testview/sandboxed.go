package testview

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/modelhost"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/sandbox"
)

// ChildCommand is the hidden zoo subcommand that runs one test inside the
// sandbox: `zoo sandbox-test PACKAGE OUT` (see RunChild).
const ChildCommand = "sandbox-test"

// Exit statuses of the child beyond 0 (a result was printed).
const (
	childUnavailable = 75 // EX_TEMPFAIL: this machine cannot run the test now
	childInternal    = 70 // EX_SOFTWARE
)

// Sandboxed runs the reproducibility test of an uploaded package in a
// child process (the zoo binary itself, `zoo sandbox-test`) bounded by
// sandbox.Run: a model that allocates without bound, spins or crashes
// ends its own test, never the server or worker that started it. The
// child is contained (bubblewrap: no network, read-only package, only
// the output folder writable) where the machine allows, and runs under
// the limits alone otherwise. A test that hits a limit is a failed test
// whose report names the limit; it is not retried.
type Sandboxed struct {
	// Exe is the zoo binary (os.Executable() of zoo serve or worker);
	// Args come before the child command (empty for zoo itself).
	Exe  string
	Args []string
	// Env is added to the child's environment (e.g. to make a test binary
	// run as zoo).
	Env    []string
	Limits sandbox.Limits
}

// childResult is what the child prints on stdout.
type childResult struct {
	Status   zoo.TestStatus  `json:"status"`
	Report   json.RawMessage `json:"report"`
	Produced []childProduced `json:"produced"`
}

type childProduced struct {
	Format string `json:"format"`
	Output string `json:"output"`
	Shape  []int  `json:"shape"`
	DType  string `json:"dtype"`
	Path   string `json:"path"`
}

// Test is a repo.Tester.
func (s Sandboxed) Test(ctx context.Context, dir, out string) (*repo.TestResult, error) {
	const op = "test"
	const pkgInside, outInside, exeInside = "/pkg", "/out", "/zoo/bin/zoo"
	mounts := []sandbox.Mount{
		{Host: dir, Inside: pkgInside},
		{Host: out, Inside: outInside, Writable: true},
		{Host: s.Exe, Inside: exeInside},
	}
	engines, env := modelhost.EngineMounts()
	mounts = append(mounts, engines...)
	env = append(env, s.Env...)
	args := append(append([]string{}, s.Args...), ChildCommand, pkgInside, outInside)
	res, err := sandbox.Run(ctx, sandbox.Command{Path: exeInside, Args: args, Env: env, Mounts: mounts, Limits: s.Limits})
	if err != nil {
		if ctx.Err() != nil {
			return nil, zoo.E(op, zoo.Unavailable, err, "the test was interrupted")
		}
		return nil, err
	}
	if res.ExitCode == childUnavailable {
		return nil, zoo.E(op, zoo.Unavailable, nil, "this worker cannot run the test (%s); the job will run again", sandbox.LastLine(res.Stderr))
	}
	if res.ExitCode == 0 && res.Limit == "" {
		var cr childResult
		if err := json.Unmarshal(res.Stdout, &cr); err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "the test's child process gave an unreadable result")
		}
		if cr.Status == zoo.TestFailed && sandbox.OutOfMemory(cr.Report) {
			// The engine caught the failed allocation and reported it.
			res.Limit = sandbox.LimitMemory
			return stoppedReport(res), nil
		}
		produced := make([]repo.Produced, 0, len(cr.Produced))
		for _, c := range cr.Produced {
			p := repo.Produced{Format: c.Format, Output: c.Output, Shape: c.Shape, DType: c.DType, Path: c.Path}
			rel, err := filepath.Rel(outInside, p.Path)
			if res.Contained && (err != nil || !filepath.IsLocal(rel)) {
				return nil, zoo.E(op, zoo.Internal, nil, "the test's child process named a file outside its output folder")
			}
			if res.Contained {
				p.Path = filepath.Join(out, rel)
			}
			if !strings.HasPrefix(p.Path, out+string(filepath.Separator)) {
				return nil, zoo.E(op, zoo.Internal, nil, "the test's child process named a file outside its output folder")
			}
			produced = append(produced, p)
		}
		return &repo.TestResult{Status: cr.Status, Report: cr.Report, Produced: produced}, nil
	}
	return stoppedReport(res), nil
}

// stoppedReport is the failed test of a run that the model ended itself:
// a limit, a crash of the engine.
func stoppedReport(res *sandbox.Result) *repo.TestResult {
	var why string
	if res.Limit != "" {
		why = "The test was stopped: the model " + strings.TrimPrefix(zoo.MessageOf(res.Err()), "it ") + ". "
		switch res.Limit {
		case sandbox.LimitMemory:
			why += "Look for very large intermediate tensors in the model, or give it a smaller test input."
		case sandbox.LimitTime, sandbox.LimitCPU:
			why += "Give the model a smaller test input, or make it faster."
		}
	} else {
		why = fmt.Sprintf("The model's test crashed the engine running it (%s). This is a fault of the model or of the engine; the test is not retried.", zoo.MessageOf(res.Err()))
	}
	report, _ := json.Marshal(map[string]any{
		"source":  "rdf.yaml",
		"status":  "failed",
		"message": why,
		"limit":   res.Limit,
		"formats": map[string]any{},
	})
	return &repo.TestResult{Status: zoo.TestFailed, Report: report}
}

// RunChild is the body of `zoo sandbox-test PACKAGE OUT`: it runs Tester
// and prints the result as JSON on stdout. Its exit status is 0 with a
// result, 75 when this machine cannot run the test (ONNX Runtime missing),
// 70 otherwise.
func RunChild(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) != 2 {
		fmt.Fprintln(stderr, "usage: zoo sandbox-test PACKAGE OUT")
		return 2
	}
	res, err := Tester(ctx, args[0], args[1])
	if err != nil {
		fmt.Fprintln(stderr, zoo.MessageOf(err))
		if zoo.KindOf(err) == zoo.Unavailable {
			return childUnavailable
		}
		return childInternal
	}
	cr := childResult{Status: res.Status, Report: res.Report}
	for _, p := range res.Produced {
		cr.Produced = append(cr.Produced, childProduced{Format: p.Format, Output: p.Output, Shape: p.Shape, DType: p.DType, Path: p.Path})
	}
	b, err := json.Marshal(cr)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return childInternal
	}
	stdout.Write(b)
	return 0
}
