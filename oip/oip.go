// Package oip serves zoo's published models over the Open Inference
// Protocol v2 (KServe / Triton REST, with the binary tensor extension).
//
// Routes (not under /api/; errors are {"error": "…"}):
//
//	GET  /v2                                      server metadata
//	GET  /v2/health/live, /v2/health/ready        probes
//	GET  /v2/models/{id}[/versions/{n}]           model metadata
//	GET  /v2/models/{id}[/versions/{n}]/ready     model readiness
//	POST /v2/models/{id}[/versions/{n}]/infer     inference
//
// The model name is the zoo id; without /versions/{n} the latest published
// version is used. Drafts and versions under review are never served (they
// do not exist to this API). Input and output names are the description's
// tensor ids; shapes follow the description's axes, in its order, with -1
// for sizes that are not fixed.
//
// Processing. By default the description's preprocessing runs before the
// network and its postprocessing after it (what `zoo predict` does), so a
// client sends the raw image and gets the final output; metadata datatypes
// are the description's. The request parameter "zoo_processing": false
// feeds the inputs to the network as they are and returns its raw
// outputs. Inputs must have a size the model accepts (no tiling here:
// large images go through asynchronous jobs).
//
// Statistics. A request is processed like one image of `zoo predict`:
// statistics the description takes over the dataset (reductions over the
// batch axis, or over all axes) are those of the request's own sample, so
// an answer never depends on earlier requests (other users' images).
// Requests to such a model run one at a time per loaded model.
//
// Limits (Limits): body size, elements per tensor, tensors per request,
// JSON nesting no deeper than the shape. Float inputs must be finite;
// outputs with NaN or infinities can only be returned as binary data.
//
// Memory. The model, the body's announced length (Content-Length is
// required: 411 without it) and the room left are checked before the body
// is read: at most MaxConcurrent requests are served at once, MaxPerClient
// per client (web.ClientKey), and together they hold at most MaxInFlight
// bytes (bodies, decoded inputs, expected outputs; one client at most
// half). A request waits up to QueueWait for room, then gets 429 with
// Retry-After. Only the JSON part of a body is held in memory: its tensor
// text is parsed in place, binary tensors are read straight into their
// tensors, and input names, dimensions and sizes are checked against the
// model before any tensor is allocated. Answers are streamed (JSON element
// by element; binary outputs from their tensors) and bounded by
// MaxResponse: a larger answer is refused with 413 before the model runs
// when the description gives the output sizes, and before any byte is
// sent otherwise; the message points to binary outputs and to jobs. Every
// refusal by a limit is counted (metrics.Refuse) and logged with the
// limit's name.
package oip

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/metrics"
	"github.com/zoo-bioimage/zoo/modelcache"
	"github.com/zoo-bioimage/zoo/onnx"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/web"
)

// Options tune a Server.
type Options struct {
	Limits  Limits
	Version string        // zoo's version, reported by GET /v2
	Timeout time.Duration // of one inference, including waiting for the model; default 2 minutes
	Logger  *slog.Logger  // for internal errors; default slog.Default()
}

// Server answers the protocol's requests for the published models of a
// repository, running them through a model cache.
type Server struct {
	svc   *repo.Service
	cache *modelcache.Cache
	opts  Options
	adm   *admission
}

// New returns a server. The cache is shared with other users (e.g. job
// workers) and is not closed by the server.
func New(svc *repo.Service, cache *modelcache.Cache, opts Options) *Server {
	opts.Limits = opts.Limits.withDefaults()
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Server{svc: svc, cache: cache, opts: opts, adm: newAdmission(opts.Limits)}
}

// Routes returns the protocol's routes, to mount through web.Options.Routes.
func (s *Server) Routes() []web.Route {
	h := func(pattern string, f http.HandlerFunc) web.Route {
		return web.Route{Pattern: pattern, Handler: f}
	}
	return []web.Route{
		h("GET /v2", s.serverMetadata),
		h("GET /v2/health/live", func(w http.ResponseWriter, r *http.Request) {
			web.WriteJSON(w, http.StatusOK, map[string]bool{"live": true})
		}),
		h("GET /v2/health/ready", s.serverReady),
		h("GET /v2/models/{id}", s.modelMetadata),
		h("GET /v2/models/{id}/versions/{n}", s.modelMetadata),
		h("GET /v2/models/{id}/ready", s.modelReady),
		h("GET /v2/models/{id}/versions/{n}/ready", s.modelReady),
		h("POST /v2/models/{id}/infer", s.infer),
		h("POST /v2/models/{id}/versions/{n}/infer", s.infer),
	}
}

// fail writes err as the protocol's error object.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	kind := zoo.KindOf(err)
	if kind == zoo.Internal && zoo.Unreachable(err) {
		kind = zoo.Unavailable // a store is down: try again later
	}
	status := http.StatusBadRequest
	switch kind {
	case zoo.NotFound:
		status = http.StatusNotFound
	case zoo.Internal:
		status = http.StatusInternalServerError
		s.opts.Logger.Error("oip: internal error", "path", r.URL.Path, "err", err)
	case zoo.TooLarge:
		status = http.StatusRequestEntityTooLarge
	case zoo.Unavailable:
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
	}
	web.WriteJSON(w, status, map[string]string{"error": message(err)})
}

// message is the first non-empty user-safe message in err's chain.
func message(err error) string {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if ze, ok := e.(*zoo.Error); ok {
			if ze.Kind == zoo.Internal {
				return "internal error"
			}
			if ze.Message != "" {
				return zoo.MessageOf(ze)
			}
		}
	}
	if zoo.KindOf(err) == zoo.Internal {
		return "internal error"
	}
	return err.Error()
}

func (s *Server) serverMetadata(w http.ResponseWriter, r *http.Request) {
	web.WriteJSON(w, http.StatusOK, map[string]any{
		"name":       "zoo",
		"version":    s.opts.Version,
		"extensions": []string{"binary_tensor_data"},
	})
}

func (s *Server) serverReady(w http.ResponseWriter, r *http.Request) {
	if err := onnx.Init(); err != nil {
		web.WriteJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "error": "ONNX Runtime cannot be loaded: " + zoo.MessageOf(err)})
		return
	}
	web.WriteJSON(w, http.StatusOK, map[string]bool{"ready": true})
}

// version resolves the {id} and optional {n} of a path to a published
// version (n absent = latest published).
func (s *Server) version(r *http.Request) (*zoo.Version, error) {
	id, n := r.PathValue("id"), 0
	if ns := r.PathValue("n"); ns != "" {
		v, err := strconv.Atoi(ns)
		if err != nil || v <= 0 {
			return nil, zoo.E("oip", zoo.Invalid, nil, "model version %q must be a positive integer", truncate(ns))
		}
		n = v
	}
	v, err := s.svc.Get(r.Context(), nil, id, n)
	if err != nil {
		return nil, err
	}
	if v.State != zoo.StatePublished && n == 0 {
		return nil, zoo.E("oip", zoo.NotFound, nil, "model %s has no published version", id)
	}
	return v, nil
}

// TensorMetadata is the protocol's tensor metadata.
type TensorMetadata struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// ModelMetadata is the protocol's model metadata.
type ModelMetadata struct {
	Name     string           `json:"name"`
	Versions []string         `json:"versions,omitempty"`
	Platform string           `json:"platform"`
	Inputs   []TensorMetadata `json:"inputs"`
	Outputs  []TensorMetadata `json:"outputs"`
}

// platforms names weight formats in the protocol's <project>_<format> form.
var platforms = map[string]string{
	"onnx":                          "onnx_onnxv1",
	"torchscript":                   "pytorch_torchscript",
	"pytorch_state_dict":            "pytorch_statedict",
	"tensorflow_saved_model_bundle": "tensorflow_savedmodel",
	"keras_hdf5":                    "tensorflow_keras",
	"tensorflow_js":                 "tensorflow_js",
}

// Metadata describes model m (zoo id id) for the protocol: shapes from the
// description's axes (fixed sizes, and sizes referring to a fixed size;
// -1 otherwise), datatypes from its data descriptions.
func Metadata(id string, m *spec.Model) ModelMetadata {
	md := ModelMetadata{Name: id}
	if f, err := runner.PickFormat(m); err == nil {
		md.Platform = platforms[f]
	} else if fs := m.Weights.Formats(); len(fs) > 0 {
		md.Platform = platforms[fs[0]]
	}
	for i := range m.Inputs {
		md.Inputs = append(md.Inputs, tensorMetadata(m, &m.Inputs[i]))
	}
	for i := range m.Outputs {
		md.Outputs = append(md.Outputs, tensorMetadata(m, &m.Outputs[i]))
	}
	return md
}

func tensorMetadata(m *spec.Model, t *spec.Tensor) TensorMetadata {
	dt, err := tensor.ParseDType(t.DType())
	name := strings.ToUpper(t.DType())
	if err == nil {
		name = Datatype(dt)
	}
	shape := make([]int64, len(t.Axes))
	for i := range t.Axes {
		shape[i] = runner.FixedSize(m, &t.Axes[i])
	}
	return TensorMetadata{Name: t.ID, Datatype: name, Shape: shape}
}

func (s *Server) modelMetadata(w http.ResponseWriter, r *http.Request) {
	v, err := s.version(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.svc.Description(r.Context(), v)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	md := Metadata(v.ModelID, m)
	vs, err := s.svc.Versions(r.Context(), nil, v.ModelID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for _, x := range vs {
		if x.State == zoo.StatePublished {
			md.Versions = append(md.Versions, strconv.Itoa(x.Number))
		}
	}
	web.WriteJSON(w, http.StatusOK, md)
}

// modelReady answers 200 {ready: true} when zoo can run one of the model's
// weight formats here, else 400 {ready: false, error}.
func (s *Server) modelReady(w http.ResponseWriter, r *http.Request) {
	v, err := s.version(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.svc.Description(r.Context(), v)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := runner.PickFormat(m); err != nil {
		web.WriteJSON(w, http.StatusBadRequest, map[string]any{"name": v.ModelID, "ready": false, "error": message(err)})
		return
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"name": v.ModelID, "ready": true})
}

func (s *Server) infer(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), s.opts.Timeout)
	defer cancel()
	lim := s.opts.Limits
	// The model first: an unknown model or input costs no memory.
	v, err := s.version(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.svc.Description(ctx, v)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if r.ContentLength < 0 {
		s.refuse(w, r, &refusal{"oip_length_required", http.StatusLengthRequired, "send the request with a Content-Length header (the body's size is checked before it is read)"})
		return
	}
	if r.ContentLength > lim.MaxBody {
		s.refuse(w, r, &refusal{"oip_body", http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is larger than %d bytes; use an asynchronous job (/api/v1/jobs) for large images", lim.MaxBody)})
		return
	}
	hl := int64(-1)
	if h := r.Header.Get(HeaderLength); h != "" {
		if hl, err = strconv.ParseInt(h, 10, 64); err != nil || hl < 0 {
			s.fail(w, r, zoo.E("oip", zoo.Invalid, nil, "%s must be a non-negative integer", HeaderLength))
			return
		}
	}
	tk, err := s.adm.admit(ctx, web.ClientKey(r), r.ContentLength)
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	defer tk.release()
	body := http.MaxBytesReader(w, r.Body, r.ContentLength)
	req, err := ReadRequest(body, r.ContentLength, hl, lim, func(req *Request) error {
		need, err := s.plan(m, req)
		if err != nil {
			return err
		}
		return tk.grow(need)
	})
	if err != nil {
		s.refuse(w, r, err)
		return
	}
	e, err := s.cache.Get(ctx, v)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer e.Release()
	out, err := Run(ctx, e.Predictor(), req, usesDatasetStats(e.Model()))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req.Inputs = nil // not needed while the answer is written
	plans := planResponse(req, e.Model(), out)
	if n := responseBytes(plans); n > lim.MaxResponse {
		s.refuse(w, r, tooLargeAnswer(n, lim.MaxResponse))
		return
	}
	if err := checkJSONFinite(plans); err != nil {
		s.fail(w, r, err)
		return
	}
	s.writeResponse(w, r, v.ModelID, strconv.Itoa(v.Number), req, plans)
}

// drainMax is the largest request body received and dropped after a
// refusal, so that the client reads the answer (see refuse).
const drainMax = 16 << 20

// tooLargeAnswer is the refusal of an answer of n bytes over the limit.
func tooLargeAnswer(n, limit int64) *refusal {
	return &refusal{"oip_response", http.StatusRequestEntityTooLarge, fmt.Sprintf(
		"the answer would take up to %d MiB, more than this server sends for one /v2 request (%d MiB); request the outputs as binary data (parameters {\"binary_data_output\": true}, the binary tensor extension: 4 bytes per FP32 element instead of up to 15), send a smaller image, or submit it as an asynchronous job (/api/v1/jobs), whose result is downloaded as a file",
		(n+(1<<20)-1)>>20, limit>>20)}
}

// plan checks a request's inputs against the model before their data is
// allocated (names, dimensions, sizes the model accepts) and returns the
// bytes the request will hold beyond its body: its decoded inputs and its
// outputs. An answer the description shows to be larger than MaxResponse
// is refused here, before the model runs.
func (s *Server) plan(m *spec.Model, req *Request) (int64, error) {
	const op = "oip.plan"
	sizes := runner.Sizes{}
	var need int64
	for _, x := range req.Inputs {
		d := findTensor(m.Inputs, x.Name)
		if d == nil {
			return 0, zoo.E(op, zoo.Invalid, nil, "the model has no input %q; its inputs are %s", truncate(x.Name), ids(m.Inputs))
		}
		if len(x.Tensor.Shape) != len(d.Axes) {
			return 0, zoo.E(op, zoo.Invalid, nil, "input %s has %d dimensions, but the model's axes are %s", x.Name, len(x.Tensor.Shape), strings.Join(d.AxisIDs(), ", "))
		}
		sizes[d.ID] = map[string]int{}
		for i, a := range d.Axes {
			sizes[d.ID][a.ID] = x.Tensor.Shape[i]
		}
		need += int64(x.Tensor.Len()) * int64(x.Tensor.DType.Size())
	}
	for _, d := range m.Inputs {
		if _, ok := sizes[d.ID]; !ok && !d.Optional {
			return 0, zoo.E(op, zoo.Invalid, nil, "input %s is missing; the model's inputs are %s", d.ID, ids(m.Inputs))
		}
	}
	for _, o := range req.Outputs {
		if findTensor(m.Outputs, o.Name) == nil {
			return 0, zoo.E(op, zoo.Invalid, nil, "the model has no output %q; its outputs are %s", truncate(o.Name), ids(m.Outputs))
		}
	}
	if err := runner.CheckInputs(m, sizes); err != nil {
		return 0, err
	}
	outSizes, err := runner.OutputSizes(m, sizes)
	if err != nil {
		return need, nil // the outputs' sizes show only after the run (checked then)
	}
	specs := req.Outputs
	if specs == nil {
		for _, d := range m.Outputs {
			specs = append(specs, OutputSpec{Name: d.ID, Binary: req.BinaryOutput})
		}
	}
	var plans []outPlan
	for _, o := range specs {
		d := findTensor(m.Outputs, o.Name)
		dt, err := tensor.ParseDType(d.DType())
		if err != nil {
			dt = tensor.Float64
		}
		shape := make([]int, len(d.Axes))
		for i, a := range d.Axes {
			shape[i] = max(outSizes[d.ID][a.ID], 1) // data-dependent (-1): counted after the run
		}
		t := &tensor.Tensor{DType: dt, Shape: shape}      // sizes only
		need += int64(t.Len()) * int64(max(dt.Size(), 4)) // raw outputs are float32 or wider before postprocessing
		plans = append(plans, outPlan{o, t})
	}
	if n := responseBytes(plans); n > s.opts.Limits.MaxResponse {
		return 0, tooLargeAnswer(n, s.opts.Limits.MaxResponse)
	}
	return need, nil
}

func findTensor(ts []spec.Tensor, id string) *spec.Tensor {
	for i := range ts {
		if ts[i].ID == id {
			return &ts[i]
		}
	}
	return nil
}

// refuse answers err: a limit's refusal with its status (and Retry-After
// for 429), counted and logged with the limit's name; other errors as
// fail does.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	var rf *refusal
	if !errors.As(err, &rf) {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			rf = &refusal{"oip_body", http.StatusRequestEntityTooLarge, "the request body is longer than its Content-Length"}
		case zoo.KindOf(err) == zoo.TooLarge:
			rf = &refusal{"oip_decode", http.StatusRequestEntityTooLarge, message(err)}
		default:
			s.fail(w, r, err)
			return
		}
	}
	metrics.Refuse(r.Context(), s.opts.Logger, rf.limit, rf.status, "client", web.ClientKey(r), "path", r.URL.Path)
	if rf.status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "2")
	}
	// A client still sending its body reads the answer only once the
	// body is taken: receive (and drop) what is left of a body of
	// moderate size; a larger one ends the connection instead.
	if r.ContentLength >= 0 && r.ContentLength <= drainMax {
		io.Copy(io.Discard, io.LimitReader(r.Body, drainMax))
	} else {
		w.Header().Set("Connection", "close")
	}
	web.WriteJSON(w, rf.status, map[string]string{"error": rf.msg})
}

// writeResponse streams the answer: a JSON answer element by element
// through a buffer (chunked), a binary one as its JSON part, then each
// binary output straight from its tensor.
func (s *Server) writeResponse(w http.ResponseWriter, r *http.Request, name, version string, req *Request, plans []outPlan) {
	binary := false
	var binLen int64
	for _, p := range plans {
		if p.Binary {
			binary = true
			binLen += int64(len(p.t.Data))
		}
	}
	if !binary {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		bw := bufio.NewWriterSize(w, 64<<10)
		if err := writeHead(bw, name, version, req, plans); err == nil {
			bw.Flush()
		}
		return
	}
	var head bytes.Buffer
	if err := writeHead(&head, name, version, req, plans); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(HeaderLength, strconv.Itoa(head.Len()))
	w.Header().Set("Content-Length", strconv.FormatInt(int64(head.Len())+binLen, 10))
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(head.Bytes()); err != nil {
		return
	}
	for _, p := range plans {
		if p.Binary {
			if _, err := w.Write(p.t.Data); err != nil {
				return
			}
		}
	}
}

// Run runs a decoded request on a predictor: it matches the inputs to the
// description's inputs by id (axes in the description's order), then runs
// preprocessing, the network and postprocessing (or the network alone when
// req.Processing is false). It returns every output by id. With
// ownStats, the dataset statistics are fixed to the request's sample and
// the processing holds p.LockDatasetStats (see the package comment).
func Run(ctx context.Context, p *runner.Predictor, req *Request, ownStats bool) (runner.Sample, error) {
	const op = "oip.Run"
	m := p.Model
	in := runner.Sample{}
	for _, x := range req.Inputs {
		var d *spec.Tensor
		for i := range m.Inputs {
			if m.Inputs[i].ID == x.Name {
				d = &m.Inputs[i]
			}
		}
		if d == nil {
			return nil, zoo.E(op, zoo.Invalid, nil, "the model has no input %q; its inputs are %s", truncate(x.Name), ids(m.Inputs))
		}
		if len(x.Tensor.Shape) != len(d.Axes) {
			return nil, zoo.E(op, zoo.Invalid, nil, "input %s has %d dimensions, but the model's axes are %s", x.Name, len(x.Tensor.Shape), strings.Join(d.AxisIDs(), ", "))
		}
		x.Tensor.Axes = d.AxisIDs()
		in[x.Name] = x.Tensor
	}
	for _, d := range m.Inputs {
		if _, ok := in[d.ID]; !ok && !d.Optional {
			return nil, zoo.E(op, zoo.Invalid, nil, "input %s is missing; the model's inputs are %s", d.ID, ids(m.Inputs))
		}
	}
	for _, o := range req.Outputs {
		found := false
		for _, d := range m.Outputs {
			found = found || d.ID == o.Name
		}
		if !found {
			return nil, zoo.E(op, zoo.Invalid, nil, "the model has no output %q; its outputs are %s", truncate(o.Name), ids(m.Outputs))
		}
	}
	if req.Processing {
		if ownStats {
			defer p.LockDatasetStats()()
			if err := p.UseDatasetStats([]runner.Sample{in}); err != nil {
				return nil, err
			}
		}
		return p.Predict(ctx, in)
	}
	if err := runner.CheckInputs(m, sizesOf(m, in)); err != nil {
		return nil, err
	}
	return p.Forward(ctx, in)
}

// usesDatasetStats reports whether a processing step of m takes dataset
// statistics (the rule of package process: reducing over the batch axis,
// or, except for scale_mean_variance, over unspecified axes).
func usesDatasetStats(m *spec.Model) bool {
	for _, ts := range [][]spec.Tensor{m.Inputs, m.Outputs} {
		for _, t := range ts {
			for _, steps := range [][]spec.ProcStep{t.Preprocessing, t.Postprocessing} {
				for _, s := range steps {
					batch := slices.Contains(s.Axes, spec.AxisBatch)
					switch s.ID {
					case spec.OpZeroMeanUnitVariance, spec.OpScaleRange:
						if s.Axes == nil || batch {
							return true
						}
					case spec.OpClip:
						if (s.MinPercentile != nil || s.MaxPercentile != nil) && (s.Axes == nil || batch) {
							return true
						}
					case spec.OpScaleMeanVariance:
						if batch {
							return true
						}
					}
				}
			}
		}
	}
	return false
}

func sizesOf(m *spec.Model, s runner.Sample) runner.Sizes {
	out := runner.Sizes{}
	for _, d := range m.Inputs {
		if x := s[d.ID]; x != nil {
			out[d.ID] = map[string]int{}
			for i, a := range d.Axes {
				out[d.ID][a.ID] = x.Shape[i]
			}
		}
	}
	return out
}

func ids(ts []spec.Tensor) string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.ID
	}
	return strings.Join(out, ", ")
}

// EncodeResponse returns the inference response for the outputs req asks
// for (all, in the description's order, when it names none): the JSON
// part, and the binary part that follows it when any output is binary.
// The server streams the same bytes (writeResponse) instead of building
// them in memory.
func EncodeResponse(name, version string, req *Request, m *spec.Model, out runner.Sample) (head, bin []byte, err error) {
	plans := planResponse(req, m, out)
	if err := checkJSONFinite(plans); err != nil {
		return nil, nil, err
	}
	var b bytes.Buffer
	if err := writeHead(&b, name, version, req, plans); err != nil {
		return nil, nil, err
	}
	for _, p := range plans {
		if p.Binary {
			bin = append(bin, p.t.Data...)
		}
	}
	return b.Bytes(), bin, nil
}

// outPlan is one output of a response with its tensor.
type outPlan struct {
	OutputSpec
	t *tensor.Tensor
}

// planResponse lists the outputs to answer: those req names, else all in
// the description's order; optional outputs the model did not produce are
// left out.
func planResponse(req *Request, m *spec.Model, out runner.Sample) []outPlan {
	specs := req.Outputs
	if specs == nil {
		for _, d := range m.Outputs {
			specs = append(specs, OutputSpec{Name: d.ID, Binary: req.BinaryOutput})
		}
	}
	var plans []outPlan
	for _, o := range specs {
		if t := out[o.Name]; t != nil {
			plans = append(plans, outPlan{o, t})
		}
	}
	return plans
}

// checkJSONFinite refuses NaN and infinities in outputs to be sent as JSON
// (before any byte of the answer is written).
func checkJSONFinite(plans []outPlan) error {
	for _, p := range plans {
		if p.Binary {
			continue
		}
		switch p.t.DType {
		case tensor.Float32, tensor.Float16, tensor.Float64:
			for i := range p.t.Len() {
				if v := p.t.Float64At(i); math.IsNaN(v) || math.IsInf(v, 0) {
					return zoo.E("oip.Encode", zoo.Invalid, nil, "output %s has NaN or infinite values, which JSON cannot carry; request it as binary data (parameters {\"binary_data\": true})", p.Name)
				}
			}
		}
	}
	return nil
}

// jsonWidth is the most bytes one element of dtype d takes in a JSON
// answer, with its separator.
func jsonWidth(d tensor.DType) int64 {
	switch d {
	case tensor.Float64:
		return 25 // -2.2250738585072014e-308,
	case tensor.Float32, tensor.Float16:
		return 15 // -1.1754944e-38,
	case tensor.Bool:
		return 6
	case tensor.Uint8, tensor.Int8:
		return 5
	case tensor.Uint16, tensor.Int16:
		return 7
	case tensor.Uint32, tensor.Int32:
		return 12
	}
	return 21
}

// responseBytes is an upper bound of an answer's size: JSON outputs at
// their widest text (jsonWidth), binary outputs at their size, plus the
// names and shapes.
func responseBytes(plans []outPlan) int64 {
	n := int64(256)
	for _, p := range plans {
		n += 256
		if p.Binary {
			n += int64(p.t.Len()) * int64(p.t.DType.Size())
		} else {
			n += int64(p.t.Len()) * jsonWidth(p.t.DType)
		}
	}
	return n
}

// writeHead writes the JSON part of a response: every output's name,
// datatype and shape, and the data of those not sent as binary, element by
// element (w should be buffered).
func writeHead(w io.Writer, name, version string, req *Request, plans []outPlan) error {
	b := make([]byte, 0, 64<<10)
	flush := func() error {
		_, err := w.Write(b)
		b = b[:0]
		return err
	}
	b = append(b, `{"model_name":`...)
	b = appendString(b, name)
	b = append(b, `,"model_version":`...)
	b = appendString(b, version)
	if req.ID != "" {
		b = append(b, `,"id":`...)
		b = appendString(b, req.ID)
	}
	b = append(b, `,"outputs":[`...)
	for k, p := range plans {
		if k > 0 {
			b = append(b, ',')
		}
		t := p.t
		b = append(b, `{"name":`...)
		b = appendString(b, p.Name)
		b = append(b, `,"datatype":`...)
		b = appendString(b, Datatype(t.DType))
		b = append(b, `,"shape":[`...)
		for i, d := range t.Shape {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(d), 10)
		}
		b = append(b, ']')
		if p.Binary {
			b = append(b, `,"parameters":{"binary_data_size":`...)
			b = strconv.AppendInt(b, int64(len(t.Data)), 10)
			b = append(b, "}}"...)
			continue
		}
		b = append(b, `,"data":[`...)
		n := t.Len()
		for i := 0; i < n; {
			end := min(n, i+2048)
			var err error
			if b, err = appendJSONData(b, p.Name, t, i, end); err != nil {
				return err
			}
			i = end
			if err := flush(); err != nil {
				return err
			}
		}
		b = append(b, "]}"...)
	}
	b = append(b, "]}"...)
	return flush()
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}
