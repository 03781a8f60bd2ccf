package pages

import (
	"net/http"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/spec"
)

// BrowserRun is how the model page's try-it runs a version in the
// visitor's browser (package browserrun, served by cmd/zoo's browser
// feature). Why is "" when it can; else the page uses the server path and
// shows Why.
type BrowserRun struct {
	Runtime      string // URL prefix of the runtime files (ONNX Runtime Web, zoo.wasm)
	Description  string // URL of the runnable rdf.yaml
	Weights      string // URL of the ONNX weights
	WeightsBytes int64
	// TestInput, TestOutput: URLs of the test tensors the page reproduces
	// before it runs the visitor's image.
	TestInput, TestOutput string
	Why                   string
}

// cspWasm is csp plus what WebAssembly needs ('wasm-unsafe-eval': compiling
// WebAssembly modules, no JavaScript eval), for pages that run a model in
// the browser.
const cspWasm = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// browserRun asks Options.BrowserRun about v; where the browser can run
// it, the page gets cross-origin isolation (threaded WebAssembly; every
// resource of the model page is same-origin) and cspWasm.
func (p *Pages) browserRun(w http.ResponseWriter, v *zoo.Version, desc *spec.Model) *BrowserRun {
	if p.opts.BrowserRun == nil || v.State != zoo.StatePublished {
		return nil
	}
	b := p.opts.BrowserRun(v, desc)
	if b.Why == "" {
		w.Header().Set("Cross-Origin-Opener-Policy", "same-origin")
		w.Header().Set("Cross-Origin-Embedder-Policy", "require-corp")
	}
	return &b
}

// Is3D reports whether the model's first input has a z axis (the
// browser's stack note says it takes whole stacks).
func (d modelPage) Is3D() bool {
	if d.Desc == nil || len(d.Desc.Inputs) == 0 {
		return false
	}
	for _, a := range d.Desc.Inputs[0].Axes {
		if a.Type == spec.AxisSpace && strings.EqualFold(a.ID, "z") {
			return true
		}
	}
	return false
}
