package main

// The server side of conversion (package convert): serve and worker
// convert the pytorch_state_dict weights of uploads that need it
// (repo.RunConvert) in the job queue repo.QueueConvert, which a process
// works only when it can convert — Debian's PyTorch (ZOO_CONVERT_PYTHON,
// default /usr/bin/python3) and the sandbox (bubblewrap). Every working
// process registers the job kind, so River's leader retries a conversion
// whose worker died instead of discarding it; only capable processes take
// conversions from the queue.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/convert"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/sandbox"
)

// convertPythonEnv names the interpreter with PyTorch the converter uses
// (default convert.Python, Debian's /usr/bin/python3).
const convertPythonEnv = "ZOO_CONVERT_PYTHON"

var defaultPython = convert.Python

// canConvert returns nil when this process can convert PyTorch weights on
// a server (PyTorch and the sandbox; never unsandboxed), else an error
// saying what the machine lacks.
func canConvert() error {
	convert.Python = defaultPython
	if p := os.Getenv(convertPythonEnv); p != "" {
		convert.Python = p
	}
	if err := sandbox.Available(); err != nil {
		return zoo.E("convert", zoo.NotSupported, err, "converting PyTorch weights on a server needs the sandbox: %s", zoo.MessageOf(err))
	}
	return convert.Available()
}

// zooVersion is the version of this zoo binary recorded with conversions.
func zooVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " (" + s.Value[:12] + ")"
		}
	}
	return v
}

// serverConverter is the repo.Converter of serve and worker: convert.Convert
// in the sandbox, each converted format verified by tester (the sandboxed
// test of uploads) rather than in this process.
func serverConverter(tester repo.Tester) repo.Converter {
	return func(ctx context.Context, dir, out string) (*repo.Converted, error) {
		const op = "convert"
		if err := canConvert(); err != nil {
			return nil, zoo.E(op, zoo.Unavailable, err, "this process cannot convert PyTorch weights (%s); the job runs again", zoo.MessageOf(err))
		}
		v := &verifier{tester: tester}
		defer v.close()
		rep, err := convert.Convert(ctx, dir, convert.Options{Out: out, Verify: v.verify})
		if err != nil {
			if ctx.Err() != nil {
				return nil, zoo.E(op, zoo.Unavailable, err, "the conversion was interrupted")
			}
			return nil, err
		}
		// The server's temporary paths mean nothing to readers.
		rep.Source, rep.Output = "", ""
		report, err := json.Marshal(rep)
		if err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "cannot encode the conversion report")
		}
		c := &repo.Converted{Status: rep.Status, Message: rep.Message, TorchVersion: rep.TorchVersion, Report: report}
		for _, f := range convert.Formats {
			if fr := rep.Formats[f]; fr != nil && fr.Status == "added" {
				c.Formats = append(c.Formats, zoo.ConvertedFormat{Format: f, Path: fr.Source, Method: fr.Method, Opset: fr.Opset})
			}
		}
		return c, nil
	}
}

// verifier runs the sandboxed test once on the converted package (every
// converted format at once) and answers convert's per-format Verify from
// that report.
type verifier struct {
	tester repo.Tester
	done   bool
	rep    runner.TestReport
	tmp    string
}

func (v *verifier) verify(ctx context.Context, dir, format string) *runner.FormatReport {
	if !v.done {
		v.done = true
		v.rep.Status, v.rep.Message = runner.StatusFailed, "the test of the converted package did not run"
		tmp, err := sandbox.MkdirTemp("", "zoo-convert-test-*")
		if err == nil {
			v.tmp = tmp
			var res *repo.TestResult
			if res, err = v.tester(ctx, dir, tmp); err == nil {
				v.rep = runner.TestReport{}
				if jerr := json.Unmarshal(res.Report, &v.rep); jerr != nil {
					v.rep.Status, v.rep.Message = runner.StatusFailed, "the test of the converted package gave an unreadable report"
				}
			}
		}
		if err != nil {
			v.rep.Message = "the test of the converted package did not run: " + zoo.MessageOf(err)
		}
	}
	if fr := v.rep.Formats[format]; fr != nil {
		return fr
	}
	msg := v.rep.Message
	if msg == "" {
		msg = "the test did not report on the " + format + " weights"
	}
	return &runner.FormatReport{Status: runner.StatusFailed, Message: msg}
}

func (v *verifier) close() {
	if v.tmp != "" {
		os.RemoveAll(v.tmp)
	}
}

// convertHandler runs JobConvert jobs.
func convertHandler(svc func() *repo.Service, log *slog.Logger) queue.Handler {
	return func(ctx context.Context, job *queue.Job) error {
		var args repo.ConvertArgs
		if err := json.Unmarshal(job.Args, &args); err != nil || args.ID == "" || args.Version < 1 {
			return queue.Cancel(fmt.Errorf("bad arguments %s", job.Args))
		}
		start := time.Now()
		log.Info("converting", "model", args.ID, "version", args.Version, "attempt", job.Attempt)
		if err := svc().RunConvert(ctx, args); err != nil {
			log.Warn("conversion job failed", "model", args.ID, "version", args.Version, "attempt", job.Attempt, "err", err)
			if zoo.KindOf(err) == zoo.NotFound {
				return queue.Cancel(err) // the version is gone
			}
			return err
		}
		log.Info("converted", "model", args.ID, "version", args.Version, "took", time.Since(start).Round(time.Millisecond))
		return nil
	}
}

// converterNote says in a few words whether this process converts.
func converterNote(err error) string {
	if err == nil {
		return "converts PyTorch weights"
	}
	return "does not convert PyTorch weights: " + zoo.MessageOf(err)
}
