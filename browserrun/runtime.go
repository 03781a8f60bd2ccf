//go:build !js

package browserrun

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/libfind"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/web"
)

// DirName is the folder scripts/install-browser-runtime.sh fills (make
// build): ONNX Runtime Web, zoo.wasm, wasm_exec.js and MANIFEST.
const DirName = "browser-runtime"

// Runtime is an installed browser runtime that zoo serves at
// Base() = /browser-runtime/STAMP/, STAMP being a hash of its MANIFEST, so
// that every URL names fixed bytes and is cached by browsers for a year.
type Runtime struct {
	Dir   string
	Stamp string
	files map[string]manifestEntry // by path relative to Dir
}

type manifestEntry struct {
	sha256 string
	size   int64
}

// FindRuntime locates the runtime: $ZOO_BROWSER_RUNTIME, else
// browser-runtime/ beside the executable, one folder up from it (bin/zoo)
// or in the Go module root above the working directory (tests). It returns
// nil and why (in words for a visitor: the page says the model runs on
// the server because of it) when none is complete.
func FindRuntime() (*Runtime, string) {
	var dirs []string
	if d := os.Getenv("ZOO_BROWSER_RUNTIME"); d != "" {
		dirs = []string{d}
	} else {
		if exe, err := os.Executable(); err == nil {
			if r, err := filepath.EvalSymlinks(exe); err == nil {
				exe = r
			}
			dirs = append(dirs, filepath.Join(filepath.Dir(exe), DirName), filepath.Join(filepath.Dir(exe), "..", DirName))
		}
		if root := libfind.ModuleRoot(); root != "" {
			dirs = append(dirs, filepath.Join(root, DirName))
		}
	}
	why := "this server has no in-browser runtime installed (make build installs it)"
	for _, d := range dirs {
		rt, err := OpenRuntime(d)
		if err == nil {
			return rt, ""
		}
		if !os.IsNotExist(err) {
			why = "this server's in-browser runtime is incomplete (" + err.Error() + "; make build reinstalls it)"
		}
	}
	return nil, why
}

// OpenRuntime reads dir's MANIFEST and checks that every file it lists is
// there with its size.
func OpenRuntime(dir string) (*Runtime, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "MANIFEST"))
	if err != nil {
		return nil, err
	}
	rt := &Runtime{Dir: filepath.Clean(dir), files: map[string]manifestEntry{}}
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			continue
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || !fileNameOK(f[2]) {
			return nil, zoo.E("browserrun.OpenRuntime", zoo.Invalid, nil, "bad MANIFEST line %q", sc.Text())
		}
		fi, err := os.Stat(filepath.Join(dir, filepath.FromSlash(f[2])))
		if err != nil || fi.Size() != size {
			return nil, zoo.E("browserrun.OpenRuntime", zoo.Invalid, err, "%s is missing or changed", f[2])
		}
		rt.files[f[2]] = manifestEntry{sha256: f[0], size: size}
	}
	for _, need := range []string{"zoo.wasm", "wasm_exec.js", "ort/ort.wasm.min.js", "ort/ort-wasm-simd-threaded.wasm", "ort/ort-wasm-simd-threaded.mjs"} {
		if _, ok := rt.files[need]; !ok {
			return nil, zoo.E("browserrun.OpenRuntime", zoo.Invalid, nil, "%s is missing", need)
		}
	}
	h := sha256.Sum256(raw)
	rt.Stamp = hex.EncodeToString(h[:8])
	return rt, nil
}

func fileNameOK(p string) bool {
	return p != "" && path.Clean(p) == p && !strings.HasPrefix(p, "/") && !strings.HasPrefix(p, "..") && !strings.Contains(p, "\\")
}

// Base is the URL prefix of the runtime's files (ends with /).
func (rt *Runtime) Base() string { return "/" + DirName + "/" + rt.Stamp + "/" }

// Size is the size in bytes of a runtime file ("zoo.wasm", "ort/…"), 0 if
// not listed.
func (rt *Runtime) Size(name string) int64 { return rt.files[name].size }

// Isolate sets the headers that give a page cross-origin isolation
// (threaded WebAssembly needs SharedArrayBuffer): the page and every
// resource it loads are then same-origin or say they may be embedded.
func Isolate(h http.Header) {
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Embedder-Policy", "require-corp")
}

// immutable is the caching of URLs that name fixed bytes.
const immutable = "public, max-age=31536000, immutable"

// Routes serve the runtime (GET /browser-runtime/{stamp}/{file...}) and,
// with svc, the runnable files of published versions for the browser
// (GET /browser-models/{id}/{n}/{sha256}/{path...}, see ModelFiles).
func (rt *Runtime) Routes(svc *repo.Service) []web.Route {
	routes := []web.Route{{Pattern: "GET /" + DirName + "/{stamp}/{file...}", Handler: http.HandlerFunc(rt.serve)}}
	if svc != nil {
		routes = append(routes, web.Route{Pattern: "GET /browser-models/{id}/{n}/{sha}/{path...}", Auth: true, Handler: modelFiles(svc)})
	}
	return routes
}

func (rt *Runtime) serve(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	ent, ok := rt.files[name]
	if r.PathValue("stamp") != rt.Stamp || !ok {
		w.Header().Set("Cache-Control", "no-store")
		web.Fail(w, r, zoo.E("browserrun", zoo.NotFound, nil, "no such runtime file (the server was updated: reload the page)"))
		return
	}
	h := w.Header()
	switch path.Ext(name) {
	case ".wasm":
		h.Set("Content-Type", "application/wasm")
	case ".js", ".mjs":
		h.Set("Content-Type", "text/javascript; charset=utf-8")
	default:
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	h.Set("Cache-Control", immutable)
	h.Set("ETag", `"`+ent.sha256+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	Isolate(h) // ONNX Runtime's worker scripts run under the page's isolation
	h.Add("Vary", "Accept-Encoding")
	file := filepath.Join(rt.Dir, filepath.FromSlash(name))
	if acceptsGzip(r) {
		if f, err := os.Open(file + ".gz"); err == nil {
			defer f.Close()
			h.Set("Content-Encoding", "gzip")
			http.ServeContent(w, r, "", time.Time{}, f)
			return
		}
	}
	f, err := os.Open(file)
	if err != nil {
		web.Fail(w, r, zoo.E("browserrun", zoo.NotFound, err, "the runtime file %s is gone (make build reinstalls it)", name))
		return
	}
	defer f.Close()
	http.ServeContent(w, r, "", time.Time{}, f)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && strings.ReplaceAll(q, " ", "") != "q=0" {
			return true
		}
	}
	return false
}

// modelFiles serves a file of a published version's runnable package
// (repo.RunnableFiles: converted weights count) by path and sha256, so the
// URL names fixed bytes: cached for a year, ETag = sha256.
func modelFiles(svc *repo.Service) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil || n < 1 {
			web.Fail(w, r, zoo.E("browserrun", zoo.NotFound, nil, "no such version"))
			return
		}
		v, err := svc.Get(r.Context(), web.UserOf(r), r.PathValue("id"), n)
		if err != nil {
			web.Fail(w, r, err)
			return
		}
		if v.State != zoo.StatePublished {
			web.Fail(w, r, zoo.E("browserrun", zoo.NotFound, nil, "%s/%d is not published; only published versions run in the browser", v.ModelID, v.Number))
			return
		}
		sha, p := r.PathValue("sha"), r.PathValue("path")
		for _, f := range repo.RunnableFiles(v) {
			if f.Path != p || f.SHA256 != sha {
				continue
			}
			if match := r.Header.Get("If-None-Match"); match == `"`+sha+`"` {
				w.Header().Set("ETag", `"`+sha+`"`)
				w.WriteHeader(http.StatusNotModified)
				return
			}
			b, err := svc.Blobs().Open(r.Context(), sha)
			if err != nil {
				web.Fail(w, r, err)
				return
			}
			defer b.Close()
			h := w.Header()
			h.Set("Content-Type", "application/octet-stream")
			h.Set("Cache-Control", immutable)
			h.Set("ETag", `"`+sha+`"`)
			h.Set("Cross-Origin-Resource-Policy", "same-origin")
			h.Set("X-Content-Type-Options", "nosniff")
			http.ServeContent(w, r, "", time.Time{}, b)
			return
		}
		web.Fail(w, r, zoo.E("browserrun", zoo.NotFound, nil, "%s/%d has no file %s with that sha256", v.ModelID, v.Number, p))
	}
}

// Offer is what a model page needs to run version v in the browser: the
// runtime's URL prefix and the URLs of the runnable description and ONNX
// weights, or why the browser cannot run it (then the page uses the
// server path and says so). desc is v's runnable description
// (repo.Description).
type Offer struct {
	Runtime      string // runtime URL prefix
	Description  string // URL of the runnable rdf.yaml
	Weights      string // URL of the ONNX weights
	WeightsBytes int64
	// TestInput and TestOutput are the URLs of the model's test tensors
	// (.npy), which the page reproduces in the browser (SelfTest) before
	// it runs the visitor's image.
	TestInput, TestOutput string
	// Why is "" when the browser can run v, else the reason in words.
	Why string
}

// OfferFor says whether and how v runs in the browser. rt may be nil
// (no runtime installed: whyNoRuntime says why).
func OfferFor(rt *Runtime, whyNoRuntime string, v *zoo.Version, desc *spec.Model) Offer {
	if err := Supported(desc); err != nil {
		why := err.Error()
		if ze := (*zoo.Error)(nil); errors.As(err, &ze) && ze.Message != "" {
			why = ze.Message // the page words the kind itself
		}
		return Offer{Why: why}
	}
	if rt == nil {
		return Offer{Why: whyNoRuntime}
	}
	w := desc.Weights.Get("onnx")
	if w.ExternalData != nil {
		return Offer{Why: "the ONNX weights keep their data in a separate file, which the browser runner does not load yet"}
	}
	files := repo.RunnableFiles(v)
	find := func(p string) (string, int64) {
		p = path.Clean(strings.TrimPrefix(p, "./"))
		for _, f := range files {
			if f.Path == p {
				return "/browser-models/" + v.ModelID + "/" + strconv.Itoa(v.Number) + "/" + f.SHA256 + "/" + f.Path, f.Size
			}
		}
		return "", 0
	}
	o := Offer{Runtime: rt.Base()}
	o.Description, _ = find(v.DescriptionFile)
	o.Weights, o.WeightsBytes = find(w.Source)
	if o.Description == "" || o.Weights == "" {
		return Offer{Why: "the ONNX weights are not a file of the package"}
	}
	if ti, to := desc.Inputs[0].TestTensor, desc.Outputs[0].TestTensor; ti != nil && to != nil {
		o.TestInput, _ = find(ti.Source)
		o.TestOutput, _ = find(to.Source)
	}
	if o.TestInput == "" || o.TestOutput == "" {
		return Offer{Why: "the model has no test tensors in its package, so the browser's numbers cannot be checked against the server's"}
	}
	return o
}
