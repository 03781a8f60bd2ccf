// Package testview keeps and shows what a failed reproducibility test
// produced: Tester runs runner.Test as a repo.Tester (the produced
// tensors of outputs that did not reproduce go to the repository, which
// stores them as blobs and references them from the report, see
// repo.Produced), and Routes serves them:
//
//	GET /api/v1/models/{id}/versions/{n}/test/produced/{format}/{output}.npy
//	GET /api/v1/models/{id}/versions/{n}/test/produced/{format}/{output}.png?view=expected|produced|diff
//
// The .npy is the stored tensor (ETag = sha256, attachment). The .png is an
// 8-bit image of the y×x plane at index 0 of every other axis: of the
// package's test output (expected), of the produced tensor, both on the
// display range of the expected plane (its 0.5th–99.5th percentiles), or
// of |produced − expected| on a black–red–yellow–white scale up to its own
// maximum (view=diff). Both follow the version's visibility
// (repo.Service.Get): a draft's or submission's produced tensors are seen
// only by its uploader and reviewers, everyone else gets 404.
package testview

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/web"
)

// Pattern is the route of both files.
const Pattern = "GET /api/v1/models/{id}/versions/{n}/test/produced/{format}/{file}"

// URL is the path of the produced tensor's file of kind ext ("npy" or
// "png") for output of format in version n of model id.
func URL(id string, n int, format, output, ext string) string {
	return "/api/v1/models/" + url.PathEscape(id) + "/versions/" + strconv.Itoa(n) + "/test/produced/" +
		url.PathEscape(format) + "/" + url.PathEscape(output) + "." + ext
}

// Routes are the produced-tensor routes over svc.
func Routes(svc *repo.Service) []web.Route {
	return []web.Route{{Pattern: Pattern, Auth: true, Handler: &handler{svc: svc}, Doc: doc}}
}

type handler struct{ svc *repo.Service }

// maxSegment bounds each path segment the handler reads.
const maxSegment = 256

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	req, err := parse(r)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	v, err := h.svc.Get(ctx, web.UserOf(r), req.id, req.n)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	p, err := repo.ProducedTensor(v, req.format, req.output)
	if err != nil {
		web.Fail(w, r, err)
		return
	}
	if req.ext == "npy" {
		h.serveNPY(w, r, v, p)
		return
	}
	if err := h.servePNG(w, r, v, p, req.view); err != nil {
		web.Fail(w, r, err)
	}
}

// request is a parsed request.
type request struct {
	id, format, output, ext, view string
	n                             int
}

// parse checks the path and query: an unknown version number, format,
// output or extension is NotFound; a bad view Invalid.
func parse(r *http.Request) (request, error) {
	const op = "testview"
	q := request{id: r.PathValue("id"), format: r.PathValue("format")}
	ns, file := r.PathValue("n"), r.PathValue("file")
	if len(q.id) > maxSegment || len(ns) > 12 || len(q.format) > maxSegment || len(file) > maxSegment {
		return q, zoo.E(op, zoo.NotFound, nil, "no such produced tensor")
	}
	n, err := strconv.Atoi(ns)
	if err != nil || n < 1 || strconv.Itoa(n) != ns {
		return q, zoo.E(op, zoo.NotFound, nil, "no version %.20q: versions are numbered 1, 2, …", ns)
	}
	q.n = n
	ext := path.Ext(file)
	q.output = strings.TrimSuffix(file, ext)
	switch ext {
	case ".npy", ".png":
		q.ext = ext[1:]
	default:
		return q, zoo.E(op, zoo.NotFound, nil, "no file %.80q: produced tensors are served as OUTPUT.npy or OUTPUT.png", file)
	}
	if !repo.ValidProducedName(q.format) || !repo.ValidProducedName(q.output) {
		return q, zoo.E(op, zoo.NotFound, nil, "no produced tensor for weight format %.80q, output %.80q", q.format, q.output)
	}
	query := r.URL.Query()
	if len(r.URL.RawQuery) > 1024 {
		return q, zoo.E(op, zoo.Invalid, nil, "the query is too long")
	}
	for k := range query {
		if k != "view" {
			return q, zoo.E(op, zoo.Invalid, nil, "unknown query parameter %.40q; only view is read", k)
		}
	}
	if vs := query["view"]; len(vs) > 1 {
		return q, zoo.E(op, zoo.Invalid, nil, "view given %d times; give it once", len(vs))
	}
	q.view = query.Get("view")
	switch {
	case q.ext == "npy" && q.view != "":
		return q, zoo.E(op, zoo.Invalid, nil, "view applies to the .png image, not to the .npy file")
	case q.ext == "png" && q.view == "":
		q.view = ViewProduced
	case q.ext == "png" && q.view != ViewExpected && q.view != ViewProduced && q.view != ViewDiff:
		return q, zoo.E(op, zoo.Invalid, nil, "view=%.40q: use expected, produced or diff", q.view)
	}
	return q, nil
}

func cacheControl(v *zoo.Version) string {
	// A later test run replaces the tensor under the same URL: revalidate
	// (the ETag is the content's sha256).
	if v.State.Public() {
		return "public, no-cache"
	}
	return "private, no-cache"
}

func (h *handler) serveNPY(w http.ResponseWriter, r *http.Request, v *zoo.Version, p repo.Produced) {
	b, err := h.svc.Blobs().Open(r.Context(), p.SHA256)
	if err != nil {
		if zoo.KindOf(err) == zoo.NotFound {
			err = zoo.E("testview", zoo.Internal, err, "the stored produced tensor is missing")
		}
		web.Fail(w, r, err)
		return
	}
	defer b.Close()
	name := v.ModelID + "-" + strconv.Itoa(v.Number) + "-" + p.Format + "-" + p.Output + ".npy"
	hd := w.Header()
	hd.Set("ETag", `"`+p.SHA256+`"`)
	hd.Set("Content-Type", "application/octet-stream")
	hd.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	hd.Set("Cache-Control", cacheControl(v))
	http.ServeContent(w, r, name, v.CreatedAt, b)
}

func (h *handler) servePNG(w http.ResponseWriter, r *http.Request, v *zoo.Version, p repo.Produced, view string) error {
	const op = "testview"
	ctx := r.Context()
	etag := `"` + p.SHA256[:32] + "-" + view + `"`
	if match := r.Header.Get("If-None-Match"); match != "" && match == etag {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	desc, err := h.svc.Description(ctx, v)
	if err != nil {
		return err
	}
	var out *spec.Tensor
	for i := range desc.Outputs {
		if desc.Outputs[i].ID == p.Output {
			out = &desc.Outputs[i]
		}
	}
	if out == nil || out.TestTensor == nil {
		return zoo.E(op, zoo.NotFound, nil, "the description has no test output %q to compare with", p.Output)
	}
	f, ok := findFile(v, out.TestTensor.Source)
	if !ok {
		return zoo.E(op, zoo.NotFound, nil, "the package has no test output file %q", out.TestTensor.Source)
	}
	axes := out.AxisIDs()
	expT, err := h.readNPY(ctx, f.SHA256)
	if err != nil {
		return err
	}
	expected, err := PlaneOf(expT, axes)
	if err != nil {
		return err
	}
	var produced *Plane
	if view != ViewExpected {
		prodT, err := h.readNPY(ctx, p.SHA256)
		if err != nil {
			return err
		}
		if produced, err = PlaneOf(prodT, axes); err != nil {
			return err
		}
	}
	img, err := Render(view, expected, produced)
	if err != nil {
		return err
	}
	// Encoded before anything is written, so that an error can still be
	// a problem response; a client that goes away while the bytes are
	// sent is not an error to report.
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestSpeed}
	if err := enc.Encode(&buf, img); err != nil {
		return zoo.E(op, zoo.Internal, err, "cannot encode the picture")
	}
	hd := w.Header()
	hd.Set("Content-Type", "image/png")
	hd.Set("Content-Length", strconv.Itoa(buf.Len()))
	hd.Set("Content-Security-Policy", "default-src 'none'")
	hd.Set("Cache-Control", cacheControl(v))
	hd.Set("ETag", etag)
	w.Write(buf.Bytes())
	return nil
}

// readNPY reads the .npy blob sha, refusing more than MaxElements elements
// (from its header, before the data is read).
func (h *handler) readNPY(ctx context.Context, sha string) (*tensor.Tensor, error) {
	const op = "testview"
	b, err := h.svc.Blobs().Open(ctx, sha)
	if err != nil {
		if zoo.KindOf(err) == zoo.NotFound {
			err = zoo.E(op, zoo.Internal, err, "a stored tensor is missing")
		}
		return nil, err
	}
	defer b.Close()
	hdr, err := npy.ReadHeader(b)
	if err != nil {
		return nil, err
	}
	if n := tensor.NumElements(hdr.Shape); n < 0 || n > MaxElements {
		return nil, zoo.E(op, zoo.TooLarge, nil, "the tensor of shape %v has more than %d elements; no image is made of it (download the .npy)", hdr.Shape, MaxElements)
	}
	if _, err := b.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return npy.Read(io.LimitReader(b, hdr.DataOffset+hdr.DataSize()+1))
}

// findFile is the file of v a description reference names (relative to
// the description file).
func findFile(v *zoo.Version, ref string) (zoo.File, bool) {
	want := path.Clean(strings.TrimPrefix(ref, "./"))
	if dir := path.Dir(v.DescriptionFile); dir != "." && dir != "" {
		want = path.Join(dir, want)
	}
	for _, f := range v.Files {
		if f.Path == want {
			return f, true
		}
	}
	return zoo.File{}, false
}

var doc = json.RawMessage(`{
  "tags": ["models"],
  "operationId": "getProducedTensor",
  "summary": "A tensor a failed reproducibility test produced, or an image of it",
  "description": "When a version's test finds that an output does not reproduce the package's test output, the produced tensor is kept and listed in the test report under formats.FORMAT.produced (format, output, sha256, size, shape, dtype). FILE is OUTPUT.npy (the stored tensor; ETag = sha256; attachment) or OUTPUT.png: an 8-bit image of the y×x plane (index 0 of every other axis) of the expected test output (view=expected), the produced tensor (view=produced, default), both on the 0.5–99.5 percentile range of the expected plane, or |produced − expected| (view=diff) on a black–red–yellow–white scale up to its maximum. Tensors over 64 Mi elements get 413. Drafts and submissions: only their uploader and reviewers; everyone else gets 404.",
  "parameters": [
    {"$ref": "#/components/parameters/id"},
    {"$ref": "#/components/parameters/n"},
    {"name": "format", "in": "path", "required": true, "description": "weight format, e.g. onnx", "schema": {"type": "string"}},
    {"name": "file", "in": "path", "required": true, "description": "OUTPUT.npy or OUTPUT.png", "schema": {"type": "string"}},
    {"name": "view", "in": "query", "required": false, "description": "for .png: expected, produced (default) or diff", "schema": {"type": "string", "enum": ["expected", "produced", "diff"]}}
  ],
  "responses": {
    "200": {"description": "the .npy tensor or the .png image", "headers": {"ETag": {"schema": {"type": "string"}}}, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}, "image/png": {"schema": {"type": "string", "format": "binary"}}}},
    "304": {"description": "not modified (If-None-Match)"},
    "400": {"$ref": "#/components/responses/BadRequest"},
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "404": {"$ref": "#/components/responses/NotFound"},
    "413": {"$ref": "#/components/responses/TooLarge"},
    "500": {"$ref": "#/components/responses/Internal"},
    "503": {"$ref": "#/components/responses/Unavailable"}
  }
}`)
