package web

import (
	"cmp"
	"context"
	"io"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
)

// download describes one blob to serve.
type download struct {
	v      *zoo.Version
	latest bool   // addressed as latest (the bytes behind the URL may change)
	sha256 string // blob key, also the ETag
	name   string // file name for Content-Disposition
	ctype  string
	counts bool  // a whole GET counts as a download (repo.Counts)
	size   int64 // bytes, as the catalog records them (0: unknown)
}

// file serves GET|HEAD /files/{id}/{n}/{path...} and /files/{id}/{file}
// (one segment: the mux would redirect /files/{id}/x to /files/{id}/x/
// for a {path...} pattern). The segment after the id is the version when it
// is "latest" or made of digits (and then must be a version number);
// otherwise the whole rest is a path in the latest published version,
// like {n} = latest. So one URL pattern, BASE/files/{id}/rdf.yaml with
// {id} either "ID" or "ID/N", names a description whose files are beside
// it (bioimageio.spec's BIOIMAGEIO_COLLECTION_HTTP_PATTERN). A file in a
// top-level folder named by digits or "latest" of the latest version is
// reached with /files/{id}/latest/{path...}.
func (s *server) file(w http.ResponseWriter, r *http.Request) {
	n, p := 0, cmp.Or(r.PathValue("file"), r.PathValue("path"))
	if seg := r.PathValue("n"); versionLike(seg) {
		var err error
		if n, err = versionNumber(seg, true); err != nil {
			s.fail(w, r, err)
			return
		}
	} else if seg != "" {
		p = seg + "/" + p
	}
	v, err := s.svc.Get(r.Context(), userOf(r), r.PathValue("id"), n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, err := repo.FileOf(v, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.serve(w, r, download{v: v, latest: n == 0, sha256: f.SHA256, name: path.Base(f.Path),
		ctype: contentType(f.Path), counts: repo.Counts(v, f.Path), size: f.Size})
}

// versionLike reports whether a path segment after a model id names a
// version: "latest" or ASCII digits.
func versionLike(seg string) bool {
	if seg == "latest" {
		return true
	}
	for _, c := range []byte(seg) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return seg != ""
}

// pkg serves GET|HEAD /packages/{id} and /packages/{id}/{n}.
func (s *server) pkg(w http.ResponseWriter, r *http.Request) {
	n := 0
	if ns := r.PathValue("n"); ns != "" {
		var err error
		if n, err = versionNumber(ns, true); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	v, err := s.svc.Get(r.Context(), userOf(r), r.PathValue("id"), n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.serve(w, r, download{v: v, latest: n == 0, sha256: v.PackageSHA256,
		name: v.ModelID + "-" + strconv.Itoa(v.Number) + ".zip", ctype: "application/zip", counts: repo.Counts(v, ""), size: v.PackageSize})
}

// convertedPkg serves GET|HEAD /api/v1/models/{id}/versions/{n}/converted.zip:
// the runnable package of a version whose weights zoo converted (the
// uploaded files, the converted weights and the description naming them);
// NotFound when it has none. The package as uploaded stays the default
// download (pkg).
func (s *server) convertedPkg(w http.ResponseWriter, r *http.Request) {
	n, err := versionNumber(r.PathValue("n"), true)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.svc.Get(r.Context(), userOf(r), r.PathValue("id"), n)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c := v.Converted
	if c == nil || c.Package == nil {
		msg := "%s/%d has no converted weights: its package as uploaded is at /packages/%s/%d"
		if c != nil && c.Status == zoo.ConversionWaiting {
			msg = "%s/%d is waiting for a converter; until then its package as uploaded is at /packages/%s/%d"
		}
		s.fail(w, r, zoo.E("web.convertedPkg", zoo.NotFound, nil, msg, v.ModelID, v.Number, v.ModelID, v.Number))
		return
	}
	s.serve(w, r, download{v: v, latest: n == 0, sha256: c.Package.SHA256,
		name: v.ModelID + "-" + strconv.Itoa(v.Number) + "-converted.zip", ctype: "application/zip", counts: repo.Counts(v, ""), size: c.Package.Size})
}

// serve streams a blob with http.ServeContent (Range, If-Range,
// If-None-Match, HEAD) and counts the download by the rule in the package
// documentation.
func (s *server) serve(w http.ResponseWriter, r *http.Request, d download) {
	const op = "web.download"
	if s.redirect(w, r, d) {
		return
	}
	b, err := s.svc.Blobs().Open(r.Context(), d.sha256)
	if err != nil {
		if zoo.KindOf(err) == zoo.NotFound {
			// The catalog refers to it: a lost blob is the server's fault.
			err = zoo.E(op, zoo.Internal, err, "the stored file is missing")
		}
		s.fail(w, r, err)
		return
	}
	defer b.Close()
	h := w.Header()
	h.Set("ETag", `"`+d.sha256+`"`)
	h.Set("Content-Type", d.ctype)
	h.Set("Content-Disposition", d.disposition())
	h.Set("Cache-Control", d.cacheControl())
	modtime := d.v.CreatedAt
	if d.v.PublishedAt != nil {
		modtime = *d.v.PublishedAt
	}
	if d.latest {
		modtime = time.Time{} // the ETag alone validates a moving target
	}
	sw := &statusWriter{ResponseWriter: &contentErrors{ResponseWriter: w, s: s, r: r}}
	http.ServeContent(sw, r, d.name, modtime, b)
	if d.counts && d.v.State.Public() && s.whole(r, sw) {
		if err := s.svc.CountDownload(context.WithoutCancel(r.Context()), d.v); err != nil {
			s.log.Warn("download not counted", "request_id", requestID(r.Context()), "id", d.v.ModelID, "version", d.v.Number, "err", err)
		}
	}
}

// disposition is the download's Content-Disposition.
func (d download) disposition() string {
	disp := "attachment"
	if inline[d.ctype] {
		disp = "inline"
	}
	if cd := mime.FormatMediaType(disp, map[string]string{"filename": d.name}); cd != "" {
		return cd
	}
	return disp
}

// cacheControl is the download's Cache-Control.
func (d download) cacheControl() string {
	switch {
	case !d.v.State.Public():
		return "private, no-cache"
	case d.latest:
		return "public, no-cache" // revalidate: a new version changes the bytes
	}
	return "public, max-age=31536000, immutable"
}

// whole reports whether a response counts as a download: a GET without
// ?silent=1, answered 200, or 206 to a range starting at byte 0, and sent
// completely.
func (s *server) whole(r *http.Request, sw *statusWriter) bool {
	if r.Method != http.MethodGet {
		return false
	}
	if silent, err := flag(r.URL.Query(), "silent"); err != nil || silent {
		return false
	}
	switch sw.status {
	case http.StatusOK:
	case http.StatusPartialContent:
		spec, ok := strings.CutPrefix(strings.TrimSpace(r.Header.Get("Range")), "bytes=")
		if !ok || !strings.HasPrefix(strings.TrimSpace(spec), "0-") {
			return false
		}
	default:
		return false
	}
	n, err := strconv.ParseInt(sw.Header().Get("Content-Length"), 10, 64)
	return err == nil && sw.bytes == n
}

// contentTypes are the types of the files packages commonly hold; others
// are application/octet-stream (never sniffed).
var contentTypes = map[string]string{
	".yaml": "application/yaml", ".yml": "application/yaml",
	".json": "application/json",
	".md":   "text/markdown; charset=utf-8",
	".txt":  "text/plain; charset=utf-8",
	".csv":  "text/csv; charset=utf-8",
	".py":   "text/x-python; charset=utf-8",
	".png":  "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp",
	".tif": "image/tiff", ".tiff": "image/tiff", ".svg": "image/svg+xml",
	".zip": "application/zip", ".npy": "application/octet-stream", ".npz": "application/zip",
	".onnx": "application/octet-stream", ".pt": "application/octet-stream", ".h5": "application/x-hdf5",
}

// inline are the types a browser may show in place (with the sandbox
// Content-Security-Policy every response has); everything else downloads.
var inline = map[string]bool{
	"application/yaml": true, "application/json": true,
	"text/markdown; charset=utf-8": true, "text/plain; charset=utf-8": true, "text/csv; charset=utf-8": true,
	"text/x-python; charset=utf-8": true,
	"image/png":                    true, "image/jpeg": true, "image/gif": true, "image/webp": true,
}

func contentType(p string) string {
	if t, ok := contentTypes[strings.ToLower(path.Ext(p))]; ok {
		return t
	}
	return "application/octet-stream"
}

// contentErrors turns the plain-text errors of http.ServeContent (416
// Range Not Satisfiable, 412 Precondition Failed) into problem documents.
type contentErrors struct {
	http.ResponseWriter
	s      *server
	r      *http.Request
	failed bool
}

func (w *contentErrors) WriteHeader(code int) {
	if code < 400 {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	w.failed = true
	detail := http.StatusText(code)
	switch code {
	case http.StatusRequestedRangeNotSatisfiable:
		detail = "the requested range is outside the file (its size is in Content-Range)"
	case http.StatusPreconditionFailed:
		detail = "the file no longer matches the request's If-Match or If-Unmodified-Since"
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Del("Content-Encoding")
	w.s.problem(w.ResponseWriter, w.r, problemOf(code, http.StatusText(code), detail))
}

func (w *contentErrors) Write(b []byte) (int, error) {
	if w.failed {
		return len(b), nil // the plain-text message; the problem is written
	}
	return w.ResponseWriter.Write(b)
}

func (w *contentErrors) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *contentErrors) ReadFrom(r io.Reader) (int64, error) {
	if w.failed {
		return io.Copy(io.Discard, r)
	}
	return io.Copy(w.ResponseWriter, r)
}
