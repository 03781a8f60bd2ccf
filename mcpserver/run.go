package mcpserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/jobs"
	"github.com/zoo-bioimage/zoo/jobs/infer"
	"github.com/zoo-bioimage/zoo/modelcache"
	"github.com/zoo-bioimage/zoo/preview"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// localImageFactor is how much larger than an image sent in a call a
// local image file may be (it is not held in a protocol message).
const localImageFactor = 8

// RunInput is one run of a published version on one image.
type RunInput struct {
	Version *zoo.Version
	// Path is a local image file (Config.Files only); else Image holds
	// the image's bytes (TIFF, PNG or NumPy, found by its first bytes).
	Path  string
	Image []byte
	Axes  string // the image's axis letters, "" to guess
	// OutDir is where a Files-mode run writes its outputs.
	OutDir string
	// BaseURL prefixes the links of a remote run ("" = relative links).
	BaseURL string
}

// RunResult is what a run produced.
type RunResult struct {
	Job         string            // the inference job's id (jobs runner)
	Files       []string          // outputs written (Files mode), absolute
	Links       map[string]string // result and preview URLs (jobs runner)
	Output      *tensor.Tensor    // the (first) output, for its preview and shape
	Notes       []string
	Tiles       int
	Description string // what ran, e.g. the weight format
}

// Progress reports a run's progress: tiles done of total (0 of 0 until
// planned) and a line for people.
type Progress func(done, total int, msg string)

// A Runner runs a model on one image for run_model.
type Runner interface {
	Run(ctx context.Context, u *zoo.User, in RunInput, progress Progress) (*RunResult, error)
}

// RunIn are run_model's arguments.
type RunIn struct {
	Model       string `json:"model" jsonschema:"the published model to run: ID (its latest version) or ID/N"`
	Path        string `json:"path,omitempty" jsonschema:"a .tif/.tiff/.png/.npy image on this computer (local zoo mcp only)"`
	ImageBase64 string `json:"image_base64,omitempty" jsonschema:"the image's bytes (TIFF, PNG or NumPy .npy) in base64, when no path can be given (size-limited)"`
	Axes        string `json:"axes,omitempty" jsonschema:"the image's axes, one letter each among b c t i z y x (e.g. yx, cyx, zyx); omit to let zoo guess"`
	OutputDir   string `json:"output_dir,omitempty" jsonschema:"where to write the result (local zoo mcp only; default: a folder zoo-results beside the image)"`
}

// RunOut is run_model's result.
type RunOut struct {
	Model       string            `json:"model" jsonschema:"ID/N that ran"`
	Job         string            `json:"job,omitempty" jsonschema:"the inference job (remote runs)"`
	ResultPaths []string          `json:"result_paths,omitempty" jsonschema:"the output files written on this computer"`
	ResultURL   string            `json:"result_url,omitempty" jsonschema:"where to download the result as TIFF (valid for 24 hours)"`
	Links       map[string]string `json:"links,omitempty" jsonschema:"the result as TIFF and NumPy, previews of input and output"`
	Shape       []int             `json:"shape" jsonschema:"the output's shape"`
	Axes        []string          `json:"axes" jsonschema:"the output's axes"`
	DType       string            `json:"dtype"`
	Tiles       int               `json:"tiles" jsonschema:"blocks the image was run in"`
	Seconds     float64           `json:"seconds"`
	Notes       []string          `json:"notes,omitempty"`
	Meaning     string            `json:"meaning,omitempty" jsonschema:"what the output's values mean"`
}

func (ss *session) runModel(ctx context.Context, req *mcp.CallToolRequest, in RunIn) (*mcp.CallToolResult, RunOut, error) {
	const tool = "run_model"
	cfg := &ss.s.cfg
	if cfg.Runner == nil {
		return nil, RunOut{}, fmt.Errorf("this zoo instance runs no models; download the package (see describe_model's run_elsewhere) and run it with zoo predict")
	}
	ri := RunInput{Axes: in.Axes, BaseURL: ss.baseURL(req)}
	switch {
	case in.Path != "" && in.ImageBase64 != "":
		return nil, RunOut{}, userError("give either path or image_base64, not both")
	case in.Path != "":
		if !cfg.Files {
			return nil, RunOut{}, userError("this zoo server cannot read files on your computer; send the image's bytes in image_base64 (at most %d MiB), or run zoo mcp locally", cfg.MaxImageBytes>>20)
		}
		p, err := filepath.Abs(in.Path)
		if err != nil {
			return nil, RunOut{}, userError("path %q: %v", in.Path, err)
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, RunOut{}, userError("cannot read %s: %v; give the full path of an image file", in.Path, unwrapPath(err))
		}
		if st.IsDir() || runner.ImageFormat(p) == "" {
			return nil, RunOut{}, userError("%s is not a .tif, .tiff, .png or .npy file; zoo reads those", in.Path)
		}
		if st.Size() > cfg.MaxImageBytes*localImageFactor {
			return nil, RunOut{}, userError("%s is %d MiB; this server runs images of at most %d MiB: crop it or use zoo predict", in.Path, st.Size()>>20, cfg.MaxImageBytes*localImageFactor>>20)
		}
		ri.Path = p
		ri.OutDir = in.OutputDir
		if ri.OutDir == "" {
			ri.OutDir = cfg.OutDir
		}
		if ri.OutDir == "" {
			ri.OutDir = filepath.Join(filepath.Dir(p), "zoo-results")
		}
	case in.ImageBase64 != "":
		if int64(base64.StdEncoding.DecodedLen(len(in.ImageBase64))) > cfg.MaxImageBytes+3 {
			return nil, RunOut{}, userError("the image is larger than %d MiB, the limit of images sent in a call; crop or downsample it, or use the jobs API (POST /api/v1/jobs) or zoo predict", cfg.MaxImageBytes>>20)
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(in.ImageBase64))
		if err != nil {
			return nil, RunOut{}, userError("image_base64 is not valid base64 (standard alphabet, with padding): %v", err)
		}
		ri.Image = b
		if cfg.Files {
			ri.OutDir = in.OutputDir
			if ri.OutDir == "" {
				ri.OutDir = cfg.OutDir
			}
			if ri.OutDir == "" {
				ri.OutDir = filepath.Join(os.TempDir(), "zoo-results")
			}
		}
	default:
		if cfg.Files {
			return nil, RunOut{}, userError("give the image: path (a .tif, .png or .npy file on this computer) or image_base64")
		}
		return nil, RunOut{}, userError("give the image's bytes in image_base64 (TIFF, PNG or NumPy .npy, at most %d MiB)", cfg.MaxImageBytes>>20)
	}
	if in.OutputDir != "" && !cfg.Files {
		return nil, RunOut{}, userError("output_dir is for local zoo mcp only; this server returns a download URL")
	}
	u := ss.caller(req)
	v, err := ss.version(ctx, u, in.Model)
	if err != nil {
		return nil, RunOut{}, ss.s.toolError(tool, err)
	}
	if v.State != zoo.StatePublished {
		return nil, RunOut{}, userError("%s/%d is %s, not published; run_model runs published versions only (test a draft with zoo test or zoo predict)", v.ModelID, v.Number, v.State)
	}
	ri.Version = v
	release, err := ss.s.acquireRun(ss.clientKey(req))
	if err != nil {
		return nil, RunOut{}, ss.s.toolError(tool, err)
	}
	defer release()
	ctx, cancel := context.WithTimeout(ctx, cfg.RunTimeout)
	defer cancel()

	token := req.Params.GetProgressToken()
	progress := func(done, total int, msg string) {
		if token == nil || req.Session == nil {
			return
		}
		req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: token, Progress: float64(done), Total: float64(total), Message: msg})
	}
	start := time.Now()
	res, err := cfg.Runner.Run(ctx, u, ri, progress)
	if err != nil {
		return nil, RunOut{}, ss.s.toolError(tool, err)
	}
	out := RunOut{Model: fmt.Sprintf("%s/%d", v.ModelID, v.Number), Job: res.Job, ResultPaths: res.Files, Links: res.Links,
		Tiles: res.Tiles, Seconds: time.Since(start).Seconds(), Notes: res.Notes, Shape: []int{}, Axes: []string{}}
	if res.Links != nil {
		out.ResultURL = res.Links["result_tif"]
	}
	result := &mcp.CallToolResult{}
	desc, err := cfg.Repo.Description(ctx, v)
	if err == nil && len(desc.Outputs) > 0 {
		out.Meaning = meaning(&desc.Outputs[0])
		if y := res.Output; y != nil && y.Axes == nil && len(desc.Outputs[0].Axes) == len(y.Shape) {
			y.Axes = desc.Outputs[0].AxisIDs() // .npy results carry no axis names
		}
	}
	if y := res.Output; y != nil {
		out.Shape, out.Axes, out.DType = y.Shape, y.Axes, string(y.DType)
		var png bytes.Buffer
		if err := preview.PNG(&png, y, preview.Options{MaxSize: 256}); err == nil {
			result.Content = append(result.Content, &mcp.ImageContent{MIMEType: "image/png", Data: png.Bytes()})
		}
	}
	text := fmt.Sprintf("%s ran on the image in %.1f s (%d tile(s)); output shape %v (%s).", out.Model, out.Seconds, out.Tiles, out.Shape, strings.Join(out.Axes, ","))
	if len(out.ResultPaths) > 0 {
		text += " Written: " + strings.Join(out.ResultPaths, ", ") + "."
	}
	if out.ResultURL != "" {
		text += " Download: " + out.ResultURL + " (TIFF; NumPy at links.result_npy; kept 24 h)."
	}
	if out.Meaning != "" {
		text += " Values: " + out.Meaning + "."
	}
	result.Content = append([]mcp.Content{&mcp.TextContent{Text: text}}, result.Content...)
	return result, out, nil
}

func unwrapPath(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// DirectRunner runs models in this process from a model cache, writing
// results as zoo predict does (runner.PredictFile: same reading, tiling,
// processing and writing). It is the runner of zoo mcp --data.
type DirectRunner struct {
	Cache *modelcache.Cache
	// MaxElements bounds a decoded image (default 1<<26).
	MaxElements int
}

// Run implements Runner. Images sent inline are written to a temporary
// file first (named by their format), so that reading follows one path.
func (d *DirectRunner) Run(ctx context.Context, u *zoo.User, in RunInput, progress Progress) (*RunResult, error) {
	const op = "mcp.run"
	if in.OutDir == "" {
		return nil, zoo.E(op, zoo.Invalid, nil, "no output folder: this runner writes files")
	}
	progress(0, 0, "loading the model")
	e, err := d.Cache.Get(ctx, in.Version)
	if err != nil {
		return nil, err
	}
	defer e.Release()
	p := e.Predictor()
	if len(p.Model.Inputs) != 1 {
		return nil, zoo.E(op, zoo.NotSupported, nil, "not supported: run_model runs models with one input; this one has %d", len(p.Model.Inputs))
	}
	path := in.Path
	if path == "" {
		format, err := infer.Sniff("", bytes.NewReader(in.Image))
		if err != nil {
			return nil, err
		}
		dir, err := os.MkdirTemp("", "zoo-mcp-")
		if err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "")
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "image."+format)
		if err := os.WriteFile(path, in.Image, 0o600); err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "")
		}
	}
	var axes []string
	if in.Axes != "" {
		if axes, err = runner.ParseAxes(in.Axes); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(in.OutDir, 0o755); err != nil {
		return nil, zoo.E(op, zoo.Invalid, err, "cannot create the output folder %s: %v", in.OutDir, unwrapPath(err))
	}
	progress(0, 0, "reading the image")
	tiles := 0
	unlock := p.LockDatasetStats()
	written, notes, err := runner.PredictFile(ctx, p, path, in.OutDir, axes, runner.Tiling{Progress: func(done, total int) {
		tiles = total
		progress(done, total, fmt.Sprintf("tile %d of %d", done, total))
	}})
	unlock()
	if err != nil {
		return nil, err
	}
	res := &RunResult{Notes: notes, Tiles: tiles}
	for _, w := range written {
		abs, err := filepath.Abs(w)
		if err != nil {
			abs = w
		}
		res.Files = append(res.Files, abs)
	}
	if len(written) > 0 {
		if y, err := readImage(written[0], max(d.MaxElements, 1<<26)); err == nil {
			res.Output = y
		}
	}
	return res, nil
}

// readImage decodes an output file for its preview.
func readImage(path string, maxElements int) (*tensor.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(path)), ".")
	if format == "tiff" {
		format = infer.FormatTIFF
	}
	return infer.Decode(format, f, st.Size(), maxElements)
}

// JobsRunner runs models as inference jobs (zoo serve's /mcp): the image
// is submitted as a job, which the instance's workers run; Run polls it,
// reporting its progress, cancels it when the call ends early, and
// returns the job's links.
type JobsRunner struct {
	Jobs  *infer.Service
	Blobs zoo.BlobStore // where results are (repo.Service.Blobs)
	// Poll is the polling interval (default 250 ms).
	Poll time.Duration
}

// Run implements Runner.
func (j *JobsRunner) Run(ctx context.Context, u *zoo.User, in RunInput, progress Progress) (*RunResult, error) {
	const op = "mcp.run"
	if in.Path != "" {
		return nil, zoo.E(op, zoo.Invalid, nil, "this server cannot read local files; send the image's bytes")
	}
	// The submission is not cut short by the call's deadline: a job
	// stored but not reported back could not be cancelled.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	job, err := j.Jobs.Submit(sctx, u, infer.Submission{
		Model: fmt.Sprintf("%s/%d", in.Version.ModelID, in.Version.Number), Axes: in.Axes,
		Body: bytes.NewReader(in.Image),
	})
	scancel()
	if err != nil {
		if be, ok := err.(*infer.BusyError); ok {
			return nil, zoo.E(op, zoo.Unavailable, err, "the server is busy (%d jobs queued or running); wait %s and call run_model again", be.Active, be.RetryAfter)
		}
		return nil, err
	}
	poll := j.Poll
	if poll <= 0 {
		poll = 250 * time.Millisecond
	}
	// Whatever ends the wait early (the time limit, the client, a failed
	// poll), the job must not run on for nobody.
	finished, id := false, job.ID
	defer func() {
		if !finished {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			j.Jobs.Cancel(cctx, id)
			cancel()
		}
	}()
	lastDone, lastTotal, lastMsg := -1, -1, ""
	for {
		if job.Done != lastDone || job.Total != lastTotal || job.Message != lastMsg {
			lastDone, lastTotal, lastMsg = job.Done, job.Total, job.Message
			msg := job.Message
			if msg == "" {
				msg = string(job.State)
			}
			progress(job.Done, job.Total, msg)
		}
		finished = job.State.Terminal()
		switch job.State {
		case jobs.Succeeded:
			return j.result(ctx, job, in.BaseURL)
		case jobs.Failed:
			return nil, zoo.E(op, zoo.Invalid, nil, "the run failed: %s", job.Error)
		case jobs.Cancelled, jobs.Expired:
			return nil, zoo.E(op, zoo.Conflict, nil, "the job %s was %s", job.ID, job.State)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(poll):
		}
		if job, err = j.Jobs.Job(ctx, id); err != nil {
			return nil, err
		}
	}
}

func (j *JobsRunner) result(ctx context.Context, job *jobs.Job, base string) (*RunResult, error) {
	v := infer.ViewOf(job)
	res := &RunResult{Job: job.ID, Tiles: job.Total, Links: map[string]string{}}
	for k, l := range v.Links {
		res.Links[k] = strings.TrimSuffix(base, "/") + l
	}
	b, err := j.Blobs.Open(ctx, job.ResultSHA256)
	if err != nil {
		return res, nil // the links still work, or say why
	}
	defer b.Close()
	if y, err := npy.Read(io.LimitReader(b, 1<<30)); err == nil {
		res.Output = y
	}
	return res, nil
}
