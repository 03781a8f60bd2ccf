package pages_test

import (
	"archive/zip"
	"bytes"
	"context"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/browserrun"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/pages"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/tensor/tiff"
	"github.com/zoo-bioimage/zoo/web"
)

// requireRuntime returns the installed in-browser runtime (make build),
// skipping the test without it (failing when CI is set).
func requireRuntime(t *testing.T) *browserrun.Runtime {
	t.Helper()
	rt, why := browserrun.FindRuntime()
	if rt == nil {
		testenv.Missing(t, testenv.BrowserRuntime, why)
	}
	return rt
}

// browserEnv is a test server whose model pages run models in the browser
// (as cmd/zoo's browser feature wires it), with the jobs API as the
// server path. swap, if set, may change a page's offer (see
// TestBrowserRunFallbacks).
func browserEnv(t *testing.T, rt *browserrun.Runtime, swap func(v *zoo.Version, desc *spec.Model, o *pages.BrowserRun), extra ...web.Route) *testEnv {
	pagesOptionsHook = func(o *pages.Options) {
		o.BrowserRun = func(v *zoo.Version, desc *spec.Model) pages.BrowserRun {
			of := browserrun.OfferFor(rt, "", v, desc)
			b := pages.BrowserRun{Runtime: of.Runtime, Description: of.Description, Weights: of.Weights, WeightsBytes: of.WeightsBytes, TestInput: of.TestInput, TestOutput: of.TestOutput, Why: of.Why}
			if swap != nil {
				swap(v, desc, &b)
			}
			return b
		}
	}
	defer func() { pagesOptionsHook = nil }()
	return newTestEnv(t, func(e *testEnv) []web.Route {
		return append(append(jobRoutes(e), rt.Routes(e.svc)...), extra...)
	})
}

// netLog records every request the page sends (Chrome DevTools Protocol
// Network domain), with its body.
type netLog struct {
	b    *browserSession
	mu   sync.Mutex
	reqs []*network.EventRequestWillBeSent
}

func recordNetwork(t *testing.T, b *browserSession) *netLog {
	l := &netLog{b: b}
	if _, err := chromedp.Call(b.ctx, network.Enable, network.EnableParams{MaxPostDataSize: ptr(int64(1 << 30))}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Listen(b.ctx, func(ev any) {
		if r, ok := ev.(*network.EventRequestWillBeSent); ok {
			l.mu.Lock()
			l.reqs = append(l.reqs, r)
			l.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	return l
}

// take returns the requests recorded so far and forgets them.
func (l *netLog) take() []*network.EventRequestWillBeSent {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.reqs
	l.reqs = nil
	return out
}

// body returns a request's body (entries, else asked from the browser).
func (l *netLog) body(r *network.EventRequestWillBeSent) []byte {
	if !r.Request.HasPostData {
		return nil
	}
	var out []byte
	for _, e := range r.Request.PostDataEntries {
		out = append(out, e.Bytes...)
	}
	if len(out) == 0 {
		if res, err := chromedp.Call(l.b.ctx, network.GetRequestPostData, network.GetRequestPostDataParams{RequestID: r.RequestID}); err == nil {
			out = res.PostData // decoded by cdproto
		}
	}
	return out
}

// carrying returns the requests whose URL or body holds a 256-byte run of
// img (from its middle: past the file header).
func (l *netLog) carrying(reqs []*network.EventRequestWillBeSent, img []byte) []string {
	mid := len(img) / 2
	probe := img[mid : mid+256]
	var out []string
	for _, r := range reqs {
		if body := l.body(r); bytes.Contains(body, probe) || strings.Contains(r.Request.URL, string(probe)) {
			out = append(out, r.Request.Method+" "+r.Request.URL)
		}
	}
	return out
}

// nucleiInputs writes the nuclei model's test input as a 512×512 float32
// TIFF and a 2048×2048 one (the input mirrored 4×4 times: every block
// boundary sees real structure).
func nucleiInputs(t *testing.T) (small, large string) {
	x, err := npy.ReadFile(fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx", "test_input.npy"))
	if err != nil {
		t.Fatal(err)
	}
	x, err = x.Convert(tensor.Float32)
	if err != nil {
		t.Fatal(err)
	}
	v := x.Float32s()
	const n, m = 512, 2048
	big := make([]float32, m*m)
	for y := 0; y < m; y++ {
		sy := y % n
		if (y/n)%2 == 1 {
			sy = n - 1 - sy
		}
		for xx := 0; xx < m; xx++ {
			sx := xx % n
			if (xx/n)%2 == 1 {
				sx = n - 1 - sx
			}
			big[y*m+xx] = v[sy*n+sx]
		}
	}
	dir := t.TempDir()
	small, large = filepath.Join(dir, "nuclei512.tif"), filepath.Join(dir, "nuclei2048.tif")
	if err := tiff.WriteFile(small, &tensor.Tensor{DType: tensor.Float32, Shape: []int{n, n}, Axes: []string{"y", "x"}, Data: x.Data}); err != nil {
		t.Fatal(err)
	}
	bt, _ := tensor.New(tensor.Float32, []int{m, m})
	copy(bt.Float32s(), big)
	bt.Axes = []string{"y", "x"}
	if err := tiff.WriteFile(large, bt); err != nil {
		t.Fatal(err)
	}
	return small, large
}

// predictLikeZoo runs what zoo predict runs (runner.ReadInput +
// runner.PredictInput, default tiling) on file with the fixture package,
// returning the output.
func predictLikeZoo(t *testing.T, pkgDir, file string) (*tensor.Tensor, *runner.Package) {
	pkg, err := runner.Load(pkgDir, runner.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := runner.NewPredictor(pkg, "onnx", runner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	x, _, err := runner.ReadInput(pkg.Model, file, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stem := strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	written, _, err := runner.PredictInput(context.Background(), p, x, stem+".npy", dir, runner.Tiling{})
	if err != nil {
		t.Fatal(err)
	}
	y, err := npy.ReadFile(written[0])
	if err != nil {
		t.Fatal(err)
	}
	return y, pkg
}

// runInBrowser opens a model page, runs file in the browser and returns
// the .npy it offers for download and the status text; where the page
// offers the server path instead (a fallback), it returns nil and the
// page's reason.
func runInBrowser(t *testing.T, b *browserSession, modelID, file string, shotRunning string) ([]byte, string) {
	t.Helper()
	b.do("open "+modelID,
		chromedp.Navigate(b.base+"/models/"+modelID),
		chromedp.WaitVisible(chromedp.CSS("#try-form")),
	)
	if !b.eval(`self.crossOriginIsolated === true`) {
		t.Errorf("%s: the model page is not cross-origin isolated (threaded WebAssembly needs it)", modelID)
	}
	b.do("run in the browser",
		chromedp.SetUploadFiles(chromedp.CSS("#try-file"), []string{file}),
		chromedp.Click(chromedp.CSS(`#try-form button[type=submit]`)),
	)
	if shotRunning != "" {
		b.poll("running", `/block \d+ of/.test(document.getElementById('try-status').textContent)`, 3*time.Minute)
		b.do("scroll to the status", chromedp.ScrollIntoView(chromedp.CSS("#try-status")))
		b.shot(shotRunning)
	}
	b.poll("browser result", `!document.getElementById('try-result').hidden || document.getElementById('try-status').className.includes('error') || document.getElementById('try-form').dataset.path !== 'browser'`, 5*time.Minute)
	if b.eval(`document.getElementById('try-form').dataset.path === 'fallback'`) {
		return nil, b.text("#try-path")
	}
	st := b.text("#try-status")
	if path := b.text("#try-path"); !strings.HasPrefix(path, "Ran in this browser") {
		b.shot("failure-browser-path")
		t.Fatalf("%s: path %q, status %q", modelID, path, st)
	}
	if !strings.HasPrefix(st, "Done") {
		t.Fatalf("%s: status %q", modelID, st)
	}
	return b.download("#try-download-npy"), st
}

// TestBrowserRunMatchesPredict: for the fixture models, the result
// computed in headless Chromium (zoo.wasm + ONNX Runtime Web) equals
// zoo predict's on the same image within the model's test tolerance,
// including a tiled 2048×2048 run; and no request the page sends carries
// the image's bytes (the server path's upload does, which shows the check
// can see them).
func TestBrowserRunMatchesPredict(t *testing.T) {
	rt := requireRuntime(t)
	e := browserEnv(t, rt, nil)
	nuclei := e.publish("unet2d-nuclei-broad-onnx", "")
	diff := e.publish("unet2d-diff-output-shape-onnx", "")
	up := e.publish("upsample-onnx", "")
	b := newBrowser(t, e.srv.URL)
	netlog := recordNetwork(t, b)
	small, large := nucleiInputs(t)

	cases := []struct {
		name, model, pkg, file, shot string
		tiled                        bool
		// fallback: the page offers the server path, saying this.
		fallback string
	}{
		{"nuclei 512", nuclei.ModelID, "unet2d-nuclei-broad-onnx", small, "", false, ""},
		{"nuclei 2048 tiled", nuclei.ModelID, "unet2d-nuclei-broad-onnx", large, "browser-run-running", true, ""},
		{"diff output shape", diff.ModelID, "unet2d-diff-output-shape-onnx", fixtures.Path(t, "packages", "unet2d-diff-output-shape-onnx", "test_input.npy"), "", false,
			// ONNX Runtime Web's WebAssembly kernels differ from native ONNX
			// Runtime on this model by up to 5.4e-4 (its tolerance is 1e-4;
			// the same in Node.js without zoo): the in-browser check of the
			// model's test catches it.
			"does not reproduce the model's test output"},
		{"upsample", up.ModelID, "upsample-onnx", fixtures.Path(t, "packages", "upsample-onnx", "test_input.npy"), "", false, ""},
	}
	for _, c := range cases {
		got, st := runInBrowser(t, b, c.model, c.file, c.shot)
		t.Logf("%s: %s", c.name, st)
		img, _ := os.ReadFile(c.file)
		reqs := netlog.take()
		for _, r := range reqs {
			if r.Request.Method != http.MethodGet || r.Request.HasPostData {
				t.Errorf("%s: the page sent %s %s", c.name, r.Request.Method, r.Request.URL)
			}
			if u := r.Request.URL; !strings.HasPrefix(u, e.srv.URL+"/models/") && !strings.HasPrefix(u, e.srv.URL+"/static/") && !strings.HasPrefix(u, e.srv.URL+"/files/") &&
				!strings.HasPrefix(u, e.srv.URL+"/browser-runtime/") && !strings.HasPrefix(u, e.srv.URL+"/browser-models/") &&
				!strings.HasPrefix(u, "blob:") && !strings.HasPrefix(u, "data:") {
				t.Errorf("%s: unexpected request %s", c.name, u)
			}
		}
		if got := netlog.carrying(reqs, img); len(got) > 0 {
			t.Errorf("%s: requests carried the image: %v", c.name, got)
		}
		t.Logf("%s: %d requests, all GETs of the page, the runtime and the model; none with the image", c.name, len(reqs))
		if c.fallback != "" {
			if got != nil || !strings.Contains(st, c.fallback) {
				t.Errorf("%s: want the server path offered (%q), got %q", c.name, c.fallback, st)
			}
			continue
		}
		if got == nil {
			t.Fatalf("%s: the page offers the server path: %s", c.name, st)
		}
		if c.tiled {
			if !strings.Contains(st, "blocks") {
				t.Errorf("%s: not tiled: %q", c.name, st)
			}
			b.eval(`(() => { document.getElementById('try-path').scrollIntoView({block: 'start'}); return true })()`)
			b.shot("browser-run-done")
		}
		y, err := npy.Read(bytes.NewReader(got))
		if err != nil {
			t.Fatalf("%s: the downloaded .npy: %v", c.name, err)
		}
		want, pkg := predictLikeZoo(t, fixtures.Path(t, "packages", c.pkg), c.file)
		o := pkg.Model.Outputs[0]
		cmp, err := runner.Compare(o.ID, y, want, pkg.Model.ToleranceFor(o.ID, "onnx"))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		t.Logf("%s: browser vs zoo predict: %s", c.name, cmp.Summary())
		if !cmp.OK {
			t.Errorf("%s: the browser's result differs from zoo predict's: %s", c.name, cmp.Summary())
		}
	}
	b.noConsoleErrors("browser runs")

	// The server path, chosen by the visitor: the upload carries the image,
	// and the network log sees it.
	b.do("open nuclei", chromedp.Navigate(e.srv.URL+"/models/"+nuclei.ModelID), chromedp.WaitVisible(chromedp.CSS("#try-form")))
	netlog.take()
	b.do("run on the server",
		chromedp.Click(chromedp.CSS(`input[name=where][value=server]`)),
		chromedp.SetUploadFiles(chromedp.CSS("#try-file"), []string{small}),
		chromedp.Click(chromedp.CSS(`#try-form button[type=submit]`)),
	)
	b.poll("server result", `!document.getElementById('try-result').hidden || document.getElementById('try-status').className.includes('error')`, 2*time.Minute)
	if st, path := b.text("#try-status"), b.text("#try-path"); !strings.HasPrefix(st, "Done") || !strings.Contains(path, "your choice") {
		t.Errorf("server path: status %q, path %q", st, path)
	}
	// Chromium does not hand a file body over the DevTools protocol, so
	// the log sees the upload as a POST with a body, which the checks
	// above refuse.
	uploads := 0
	for _, r := range netlog.take() {
		if r.Request.Method == http.MethodPost && r.Request.HasPostData && strings.Contains(r.Request.URL, "/api/v1/jobs") {
			uploads++
		}
	}
	if uploads != 1 {
		t.Errorf("the network log saw %d uploads on the server path, want 1: the checks above prove nothing", uploads)
	}
}

// TestBrowserRunFallbacks: a model without ONNX weights, and one whose
// ONNX uses an operator ONNX Runtime Web lacks, run on the server and the
// page says why; a model with two inputs says what is supported and
// offers no form.
func TestBrowserRunFallbacks(t *testing.T) {
	rt := requireRuntime(t)
	// ONNX Runtime Web 1.30's WebAssembly build has the same CPU kernels as
	// native ONNX Runtime 1.30 (checked op by op): no model that passes
	// zoo's test on the server lacks an operator in the browser. So the
	// page of a published model is offered, in the browser, an ONNX file
	// whose Erf runs on float64, which neither runtime implements: what the
	// page does with the refusal is what is tested.
	bad, err := os.ReadFile("testdata/browserrun/erf-double.onnx")
	if err != nil {
		t.Fatal(err)
	}
	swap := func(v *zoo.Version, desc *spec.Model, o *pages.BrowserRun) {
		if desc.Name == "op-missing" {
			o.Weights = "/test/erf-double.onnx"
		}
	}
	serveBad := web.Route{Pattern: "GET /test/erf-double.onnx", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cross-Origin-Resource-Policy", "same-origin")
		w.Write(bad)
	})}
	e := browserEnv(t, rt, swap, serveBad)
	opMissing := e.publish("unet2d-nuclei-broad-onnx", "op-missing")
	multi := e.publish("unet2d-multi-tensor-onnx", "")
	ts := e.upload("alice", torchscriptNuclei(t), repo.UploadOptions{})
	if tv := e.waitTest(ts.ModelID, ts.Number); tv.TestStatus != zoo.TestPassed {
		testenv.Missing(t, testenv.Libtorch, "the TorchScript nuclei model's test "+string(tv.TestStatus))
	}
	if _, err := e.svc.Review(context.Background(), e.users["rita"], ts.ModelID, ts.Number, repo.Accept, ""); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, e.srv.URL)
	small, _ := nucleiInputs(t)

	// No ONNX weights: the page says so before anything runs.
	b.do("open the TorchScript model", chromedp.Navigate(e.srv.URL+"/models/"+ts.ModelID), chromedp.WaitVisible(chromedp.CSS("#try-form")))
	if why := b.text("#try-browser-why"); !strings.Contains(why, "no ONNX weights") {
		t.Errorf("TorchScript model: %q", why)
	}
	b.do("run it", chromedp.SetUploadFiles(chromedp.CSS("#try-file"), []string{small}), chromedp.Click(chromedp.CSS(`#try-form button[type=submit]`)))
	b.poll("server result", `!document.getElementById('try-result').hidden || document.getElementById('try-status').className.includes('error')`, 3*time.Minute)
	if st := b.text("#try-status"); !strings.HasPrefix(st, "Done") {
		t.Errorf("TorchScript model on the server: %q", st)
	}
	b.do("scroll", chromedp.ScrollIntoView(chromedp.CSS("#try")))
	b.shot("browser-run-no-onnx")

	// An operator ONNX Runtime Web lacks: found when the session starts,
	// then the server path runs and the page says why.
	b.do("open the op-missing model", chromedp.Navigate(e.srv.URL+"/models/"+opMissing.ModelID), chromedp.WaitVisible(chromedp.CSS("#try-form")))
	b.do("run it", chromedp.SetUploadFiles(chromedp.CSS("#try-file"), []string{small}), chromedp.Click(chromedp.CSS(`#try-form button[type=submit]`)))
	b.poll("fallback offered", `document.getElementById('try-form').dataset.path === 'fallback'`, 3*time.Minute)
	if offer := b.text("#try-path"); !strings.Contains(offer, "operator Erf") || !strings.Contains(offer, "again") {
		t.Errorf("op missing: offer %q", offer)
	}
	b.do("scroll", chromedp.ScrollIntoView(chromedp.CSS("#try")))
	b.shot("browser-run-op-missing-offer")
	b.do("run it on the server", chromedp.Click(chromedp.CSS(`#try-form button[type=submit]`)))
	b.poll("server result", `!document.getElementById('try-result').hidden || document.getElementById('try-status').className.includes('error')`, 3*time.Minute)
	path, st := b.text("#try-path"), b.text("#try-status")
	t.Logf("op missing: %q / %q", path, st)
	if !strings.Contains(path, "Running on this server") || !strings.Contains(path, "operator Erf") {
		t.Errorf("op missing: path %q", path)
	}
	if !strings.HasPrefix(st, "Done") {
		t.Errorf("op missing, on the server: %q", st)
	}
	b.do("scroll", chromedp.ScrollIntoView(chromedp.CSS("#try")))
	b.shot("browser-run-op-missing")

	// Two inputs: what is supported, no form.
	b.do("open the multi-tensor model", chromedp.Navigate(e.srv.URL+"/models/"+multi.ModelID), chromedp.WaitVisible(chromedp.CSS("#try-unavailable")))
	if why := b.text("#try-unavailable"); !strings.Contains(why, "one input and one output") {
		t.Errorf("multi-tensor: %q", why)
	}
	if b.eval(`!!document.getElementById('try-form')`) {
		t.Error("multi-tensor: a try-it form is offered")
	}
	b.mu.Lock()
	b.errors = nil // ONNX Runtime logs the refused session to the console: expected
	b.mu.Unlock()
}

// torchscriptNuclei is the nuclei package with only TorchScript weights
// (the published weights.pt of bioimage.io's example).
func torchscriptNuclei(t *testing.T) []byte {
	root := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx")
	pt, err := os.ReadFile(fixtures.Path(t, "bioimageio-examples", "models", "unet2d_nuclei_broad", "weights.pt"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	ents, _ := os.ReadDir(root)
	for _, d := range ents {
		if d.IsDir() || d.Name() == "weights.onnx" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, d.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if d.Name() == "bioimageio.yaml" {
			s := string(b)
			i := strings.Index(s, "\nweights:")
			s = s[:i] + "\nweights:\n  torchscript:\n    source: weights.pt\n    sha256: a4b0659a1b48454588b12179855ad0a0c9b69ccaa89b8bb06e6271e8f60b02fe\n    pytorch_version: 2.5.1\n"
			b = renameYAML([]byte(s), "torchscript-only")
		}
		w, _ := zw.Create(d.Name())
		w.Write(b)
	}
	w, _ := zw.Create("weights.pt")
	w.Write(pt)
	zw.Close()
	return buf.Bytes()
}

// TestBrowserRunHeaders: the model page that runs in the browser is
// cross-origin isolated with 'wasm-unsafe-eval' as the only addition to
// the CSP; other pages are not; the model's files are served by sha256,
// cached for a year and revalidated with the sha256 as ETag; unpublished
// versions are not served.
func TestBrowserRunHeaders(t *testing.T) {
	rt := requireRuntime(t)
	e := browserEnv(t, rt, nil)
	v := e.publish("unet2d-nuclei-broad-onnx", "")
	draft := e.upload("alice", zipFixture(t, "unet2d-nuclei-broad-onnx", "draft"), repo.UploadOptions{})
	get := func(path string, h map[string]string) *http.Response {
		req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	res := get("/models/"+v.ModelID, nil)
	csp := res.Header.Get("Content-Security-Policy")
	if res.Header.Get("Cross-Origin-Embedder-Policy") != "require-corp" || res.Header.Get("Cross-Origin-Opener-Policy") != "same-origin" ||
		!strings.Contains(csp, "script-src 'self' 'wasm-unsafe-eval';") || strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "'unsafe-eval'") {
		t.Errorf("model page: COEP %q, COOP %q, CSP %q", res.Header.Get("Cross-Origin-Embedder-Policy"), res.Header.Get("Cross-Origin-Opener-Policy"), csp)
	}
	if res := get("/", nil); res.Header.Get("Cross-Origin-Embedder-Policy") != "" || strings.Contains(res.Header.Get("Content-Security-Policy"), "wasm") {
		t.Errorf("home page: %v", res.Header)
	}
	desc, err := e.svc.Description(context.Background(), v)
	if err != nil {
		t.Fatal(err)
	}
	o := browserrun.OfferFor(rt, "", v, desc)
	if o.Why != "" || o.Weights == "" || o.TestInput == "" {
		t.Fatalf("offer: %+v", o)
	}
	w := get(o.Weights, nil)
	etag := w.Header.Get("ETag")
	if w.StatusCode != 200 || !strings.Contains(w.Header.Get("Cache-Control"), "immutable") || !strings.Contains(o.Weights, strings.Trim(etag, `"`)) {
		t.Errorf("weights: %d %v", w.StatusCode, w.Header)
	}
	if w := get(o.Weights, map[string]string{"If-None-Match": etag}); w.StatusCode != http.StatusNotModified {
		t.Errorf("revalidation: %d", w.StatusCode)
	}
	if w := get(strings.Replace(o.Weights, "/"+v.ModelID+"/", "/"+draft.ModelID+"/", 1), nil); w.StatusCode != http.StatusNotFound {
		t.Errorf("unpublished version: %d", w.StatusCode)
	}
	if w := get(strings.Replace(o.Weights, strings.Trim(etag, `"`), strings.Repeat("0", 64), 1), nil); w.StatusCode != http.StatusNotFound {
		t.Errorf("wrong sha256: %d", w.StatusCode)
	}
}

// TestBrowserRunCancel: a tiled run in the browser shows its progress by
// block and stops when the visitor cancels.
func TestBrowserRunCancel(t *testing.T) {
	rt := requireRuntime(t)
	e := browserEnv(t, rt, nil)
	nuclei := e.publish("unet2d-nuclei-broad-onnx", "")
	b := newBrowser(t, e.srv.URL)
	_, large := nucleiInputs(t)
	b.do("run a 2048² image",
		chromedp.Navigate(e.srv.URL+"/models/"+nuclei.ModelID),
		chromedp.WaitVisible(chromedp.CSS("#try-form")),
		chromedp.SetUploadFiles(chromedp.CSS("#try-file"), []string{large}),
		chromedp.Click(chromedp.CSS(`#try-form button[type=submit]`)),
	)
	b.poll("progress", `/block [2-9] of 25/.test(document.getElementById('try-status').textContent) && document.getElementById('try-progress').value > 0`, 5*time.Minute)
	// One evaluation, not chromedp.Click's several round trips: the page
	// answers between blocks (a block holds its main thread).
	b.eval(`(() => { document.getElementById('try-cancel').click(); return true })()`)
	b.poll("cancelled", `document.getElementById('try-status').textContent === 'Cancelled.'`, 2*time.Minute)
	if b.eval(`!document.getElementById('try-result').hidden || !document.getElementById('try-progress').hidden`) {
		t.Error("a cancelled run shows a result or progress")
	}
	b.noConsoleErrors("cancel")
}
