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
package oip

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
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
	return &Server{svc: svc, cache: cache, opts: opts}
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
	v, err := s.version(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	body, err := s.readBody(w, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	hl := int64(-1)
	if h := r.Header.Get(HeaderLength); h != "" {
		if hl, err = strconv.ParseInt(h, 10, 64); err != nil || hl < 0 {
			s.fail(w, r, zoo.E("oip", zoo.Invalid, nil, "%s must be a non-negative integer", HeaderLength))
			return
		}
	}
	req, err := DecodeRequest(body, hl, s.opts.Limits)
	if err != nil {
		s.fail(w, r, err)
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
	resp, bin, err := EncodeResponse(v.ModelID, strconv.Itoa(v.Number), req, e.Model(), out)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(bin) > 0 {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set(HeaderLength, strconv.Itoa(len(resp)))
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(resp)+len(bin)))
	w.WriteHeader(http.StatusOK)
	w.Write(resp)
	w.Write(bin)
}

// readBody reads the request body within the body limit.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	max := s.opts.Limits.MaxBody
	if r.ContentLength > max {
		return nil, zoo.E("oip", zoo.TooLarge, nil, "the request body is larger than %d bytes; use an asynchronous job for large images", max)
	}
	rd := http.MaxBytesReader(w, r.Body, max)
	var buf []byte
	if r.ContentLength > 0 {
		buf = make([]byte, 0, r.ContentLength+1)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, zoo.E("oip", zoo.TooLarge, err, "the request body is larger than %d bytes; use an asynchronous job for large images", max)
			}
			return nil, zoo.E("oip", zoo.Invalid, err, "cannot read the request body")
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

// EncodeResponse writes the inference response for the outputs req asks
// for (all, in the description's order, when it names none): the JSON
// part, and the binary part that follows it when any output is binary.
func EncodeResponse(name, version string, req *Request, m *spec.Model, out runner.Sample) (head, bin []byte, err error) {
	specs := req.Outputs
	if specs == nil {
		for _, d := range m.Outputs {
			specs = append(specs, OutputSpec{Name: d.ID, Binary: req.BinaryOutput})
		}
	}
	b := make([]byte, 0, 256)
	b = append(b, `{"model_name":`...)
	b = appendString(b, name)
	b = append(b, `,"model_version":`...)
	b = appendString(b, version)
	if req.ID != "" {
		b = append(b, `,"id":`...)
		b = appendString(b, req.ID)
	}
	b = append(b, `,"outputs":[`...)
	first := true
	for _, o := range specs {
		t := out[o.Name]
		if t == nil {
			continue // an optional output the model did not produce
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, `{"name":`...)
		b = appendString(b, o.Name)
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
		if o.Binary {
			b = append(b, `,"parameters":{"binary_data_size":`...)
			b = strconv.AppendInt(b, int64(len(t.Data)), 10)
			b = append(b, "}}"...)
			bin = append(bin, t.Data...)
			continue
		}
		b = append(b, `,"data":`...)
		if b, err = appendJSONData(b, o.Name, t); err != nil {
			return nil, nil, err
		}
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	return b, bin, nil
}

func appendString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}
