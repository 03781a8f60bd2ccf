package pages_test

import (
	"archive/zip"
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"

	"github.com/zoo-bioimage/zoo/internal/testenv"
)

var screenshots = flag.String("screenshots", "", "folder for the browser tests' screenshots (default: a temporary folder); e.g. ../docs/screenshots")

const chromiumPath = "/usr/bin/chromium"

// browserSession is one Chromium tab driven by a test, collecting the
// console's errors.
type browserSession struct {
	t        *testing.T
	ctx      context.Context
	base     string
	shotsDir string
	dlDir    string

	mu     sync.Mutex
	errors []string
}

// newBrowser starts Chromium, or skips the test when it is not installed
// (fails instead under CI and make test: internal/testenv).
func newBrowser(t *testing.T, base string) *browserSession {
	t.Helper()
	_, err := os.Stat(chromiumPath)
	testenv.Need(t, testenv.Chromium, err)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	b := &browserSession{t: t, ctx: ctx, base: base, dlDir: t.TempDir()}
	b.shotsDir = *screenshots
	if b.shotsDir == "" {
		b.shotsDir = t.TempDir()
	}
	if err := os.MkdirAll(b.shotsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	// Start the browser (the first Run must have no deadline), then listen.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	if _, err := chromedp.Call(ctx, log.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, m.String()+" ("+m.URL+")")
				b.mu.Unlock()
			}
		}
	}()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: b.dlDir, EventsEnabled: ptr(true),
	}); err != nil {
		t.Fatal(err)
	}
	return b
}

func ptr[T any](v T) *T { return &v }

// do runs steps with a time limit, failing the test with what was being done.
func (b *browserSession) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.shot("failure-" + strings.ReplaceAll(what, " ", "-"))
		b.t.Fatalf("%s: %v", what, err)
	}
}

// text returns the text of the first element matching a CSS selector.
func (b *browserSession) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// eval evaluates a JavaScript expression.
func (b *browserSession) eval(expr string) bool {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		b.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// poll waits until a JavaScript expression is true. An evaluation that
// fails because the page is navigating (the expression often waits for a
// navigation) counts as not yet.
func (b *browserSession) poll(what, expr string, limit time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(limit)
	for !b.evalDuringNavigation(expr) {
		if time.Now().After(deadline) {
			b.shot("failure-" + strings.ReplaceAll(what, " ", "-"))
			b.t.Fatalf("%s: timed out waiting for %s", what, expr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// evalDuringNavigation is eval where an evaluation that the page's
// navigation interrupted ("Inspected target navigated or closed", a
// destroyed execution context) is false rather than fatal.
func (b *browserSession) evalDuringNavigation(expr string) bool {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		if msg := err.Error(); strings.Contains(msg, "navigated or closed") || strings.Contains(msg, "context was destroyed") ||
			strings.Contains(msg, "Cannot find context") {
			return false
		}
		b.t.Fatalf("eval %s: %v", expr, err)
	}
	return v
}

// shot saves a screenshot of the viewport as NAME.png.
func (b *browserSession) shot(name string) {
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(b.shotsDir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Error(err)
	}
	b.t.Logf("screenshot %s", path)
}

// a11yProblems is a small in-page audit: images without alt text, form
// controls without a label, buttons and links without a name, table
// columns without a heading, headings that skip a level, and a missing
// lang or h1.
const a11yProblems = `(() => {
  const out = [];
  const visible = (el) => el.type !== 'hidden' && !el.closest('[hidden]');
  document.querySelectorAll('img').forEach((i) => { if (!i.hasAttribute('alt')) out.push('img without alt: ' + i.src); });
  document.querySelectorAll('input, select, textarea').forEach((c) => {
    if (visible(c) && c.labels.length === 0 && !c.getAttribute('aria-label')) out.push('control without label: ' + (c.id || c.name));
  });
  document.querySelectorAll('button, a[href]').forEach((b) => {
    if (visible(b) && !(b.textContent.trim() || b.getAttribute('aria-label'))) out.push('unnamed ' + b.tagName + ' ' + b.outerHTML.slice(0, 80));
  });
  document.querySelectorAll('th').forEach((th) => {
    if (!th.closest('[hidden]') && !(th.textContent.trim() || th.getAttribute('aria-label'))) out.push('table column without a heading: ' + th.outerHTML.slice(0, 80));
  });
  let last = 0;
  document.querySelectorAll('main h1, main h2, main h3, main h4, main h5, main h6').forEach((h) => {
    const n = +h.tagName[1];
    if (last && n > last + 1) out.push('heading skips from h' + last + ' to ' + h.tagName + ': ' + h.textContent.trim().slice(0, 40));
    last = n;
  });
  if (!document.documentElement.lang) out.push('no lang');
  if (document.querySelectorAll('h1').length !== 1) out.push('h1 count ' + document.querySelectorAll('h1').length);
  return out.join('\n');
})()`

// checkPage runs the accessibility audit and checks the console.
func (b *browserSession) checkPage(where string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	probs, err := chromedp.Run(ctx, chromedp.Evaluate[string](a11yProblems))
	if err != nil {
		b.t.Fatalf("audit of %s: %v", where, err)
	}
	if probs != "" {
		b.t.Errorf("accessibility problems on %s:\n%s", where, probs)
	}
	b.noConsoleErrors(where)
}

// noConsoleErrors fails the test if the page logged errors.
func (b *browserSession) noConsoleErrors(where string) {
	b.t.Helper()
	time.Sleep(200 * time.Millisecond) // let the queued events arrive
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		b.t.Errorf("browser console error on %s: %s", where, e)
	}
	b.errors = nil
}

// download clicks a link and returns the downloaded file's content.
func (b *browserSession) download(sel string) []byte {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	progress := chromedp.BrowserEvents(ctx, browser.DownloadProgress)
	b.do("click "+sel, chromedp.Click(chromedp.CSS(sel)))
	for ev, err := range progress {
		if err != nil {
			b.t.Fatalf("download via %s: %v", sel, err)
		}
		switch ev.State {
		case browser.DownloadProgressStateCompleted:
			data, err := os.ReadFile(filepath.Join(b.dlDir, ev.GUID))
			if err != nil {
				b.t.Fatal(err)
			}
			return data
		case browser.DownloadProgressStateCanceled:
			b.t.Fatalf("download via %s was cancelled", sel)
		}
	}
	b.t.Fatalf("download via %s: no completion", sel)
	return nil
}

// login logs in through the login form as the user with token.
func (b *browserSession) login(token, next string) {
	b.t.Helper()
	b.do("log in",
		chromedp.Navigate(b.base+"/login?next="+next),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Submit(chromedp.CSS("#token")),
	)
}

// logout uses the header's log-out button.
func (b *browserSession) logout() {
	b.t.Helper()
	b.do("log out", chromedp.Click(chromedp.CSS("header.top button.link")), chromedp.WaitVisible(chromedp.CSS(`a[href^="/login"]`)))
}

// TestBrowserFindAndUse: an anonymous scientist searches, opens a model,
// sees its report and examples, downloads it.
func TestBrowserFindAndUse(t *testing.T) {
	e := newTestEnv(t, jobRoutes)
	v := e.publish("unet2d-nuclei-broad-onnx", "")
	e.publish("upsample-onnx", "")
	b := newBrowser(t, e.srv.URL)

	b.do("open home", chromedp.Navigate(e.srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(".model-card")))
	if n := b.text(".total"); !strings.HasPrefix(n, "2 models") {
		t.Errorf("home shows %q, want 2 models", n)
	}
	b.poll("covers load", `Array.from(document.querySelectorAll('.model-card img')).every(i => i.complete && i.naturalWidth > 0)`, 10*time.Second)
	b.shot("home")
	b.checkPage("home")

	// The audit finds what it looks for (an image without alt text).
	if probs, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(() => { const i = document.createElement('img'); i.id = 'probe'; document.querySelector('main').append(i); const p = `+a11yProblems+`; i.remove(); return p })()`)); !strings.Contains(probs, "img without alt") {
		t.Errorf("the accessibility audit missed an image without alt text: %q", probs)
	}

	// A facet filters on change (no button press needed).
	b.do("filter by license", chromedp.Click(chromedp.CSS(`input[name=license][value="CC-BY-4.0"]`)))
	b.poll("filtered", `location.search.includes('license=CC-BY-4.0') && document.readyState == 'complete' && !!document.querySelector('.total')`, 20*time.Second)
	if n := b.text(".total"); !strings.HasPrefix(n, "1 model") {
		t.Errorf("license filter: %q, want 1 model", n)
	}
	b.do("back home", chromedp.Navigate(e.srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(".model-card")))

	b.do("search", chromedp.SendKeys(chromedp.CSS("#q"), "nuclei"), chromedp.Submit(chromedp.CSS("#q")))
	b.poll("search results", `location.pathname == '/search' && document.readyState == 'complete' && !!document.querySelector('.total')`, 20*time.Second)
	if n := b.text(".total"); !strings.HasPrefix(n, "1 model ") {
		t.Errorf("search for nuclei: %q, want 1 model", n)
	}
	b.shot("search")
	b.checkPage("search")

	b.do("open the model", chromedp.Click(chromedp.CSS(".model-card a")), chromedp.WaitVisible(chromedp.CSS("#h-test")))
	b.poll("examples render", `document.querySelectorAll('section[aria-labelledby=h-examples] img').length == 2 && Array.from(document.querySelectorAll('section[aria-labelledby=h-examples] img')).every(i => i.complete && i.naturalWidth > 0)`, 20*time.Second)
	page := b.text("main")
	for _, want := range []string{"UNet 2D Nuclei Broad", v.ModelID, "onnx", "✓ yes", "Constantin Pape", "zoo predict", "Download package"} {
		if !strings.Contains(page, want) {
			t.Errorf("model page lacks %q", want)
		}
	}
	if !b.eval(`!!document.querySelector('a[href^="https://orcid.org/"]')`) {
		t.Errorf("no ORCID link on the model page")
	}
	b.shot("model")
	b.checkPage("model page")

	// On a phone-sized screen nothing overflows sideways.
	b.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	// (A mobile browser widens its layout viewport to fit wider content,
	// so the check is against the device width itself.)
	if !b.eval(`window.innerWidth <= 390 && document.documentElement.scrollWidth <= 390`) {
		w, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`JSON.stringify([window.innerWidth, document.documentElement.scrollWidth, Array.from(document.querySelectorAll('body *')).filter(el => el.getBoundingClientRect().right > 391).slice(0, 5).map(el => el.tagName + '.' + el.className + '#' + el.id + ' ' + Math.round(el.getBoundingClientRect().right))])`))
		t.Errorf("the model page is wider than a phone screen: %s", w)
	}
	b.shot("model-phone")
	b.do("desktop viewport", chromedp.EmulateViewport(1280, 900))

	pkg := b.download(`a.button[href^="/packages/"]`)
	if _, err := zip.NewReader(bytes.NewReader(pkg), int64(len(pkg))); err != nil {
		t.Errorf("downloaded package is not a zip (%d bytes): %v", len(pkg), err)
	}

	if tryIt == nil {
		t.Fatal("tryIt is not set (jobs_test.go sets it): \"try it on your image\" would go untested")
	}
	tryIt(t, b, e)
}

// tryIt runs "try it on your image" on the open model page, when the jobs
// API is available (set by jobs_test.go).
var tryIt func(t *testing.T, b *browserSession, e *testEnv)

// TestBrowserPublish: a contributor uploads (first an invalid package, then
// a valid one), follows it on /my, a reviewer accepts it, and anyone finds it.
func TestBrowserPublish(t *testing.T) {
	e := newTestEnv(t, jobRoutes)
	b := newBrowser(t, e.srv.URL)

	// Anonymous upload leads to the login page.
	b.do("open upload anonymously", chromedp.Navigate(e.srv.URL+"/upload"), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.shot("login")
	b.checkPage("login")
	b.login(e.tokens["alice"], "/upload")
	b.do("upload page", chromedp.WaitVisible(chromedp.CSS("#upload-form")))
	b.shot("upload")

	// An invalid package: the report lists the problems with their lines.
	dir := t.TempDir()
	bad := zipFixture(t, "upsample-onnx", "")
	bad = replaceInZip(t, bad, "bioimageio.yaml", func(s string) string {
		return strings.Replace(s, "name: Test_scaling", "name: Broken\nlicence: MIT", 1)
	})
	badPath := filepath.Join(dir, "broken.zip")
	os.WriteFile(badPath, bad, 0o644)
	b.do("upload an invalid package",
		chromedp.SetUploadFiles(chromedp.CSS("#upload-zip"), []string{badPath}),
		chromedp.Click(chromedp.CSS(`#upload-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#upload-report")),
	)
	report := b.text("#upload-problems")
	if !regexp.MustCompile(`\b4\b`).MatchString(report) || !strings.Contains(report, "licence") {
		t.Errorf("validation report %q lacks line 4 and the field licence", report)
	}
	b.shot("upload-invalid")
	// A 422 answer is logged by Chromium as a failed resource: expected here.
	b.mu.Lock()
	b.errors = slicesDeleteFunc(b.errors, func(s string) bool { return strings.Contains(s, "422") })
	b.mu.Unlock()
	b.noConsoleErrors("upload (invalid)")

	// A valid package as a folder: the page zips it (store method) itself.
	folder := filepath.Join(dir, "my-model")
	unzipTo(t, zipFixture(t, "upsample-onnx", "Browser Upload Model"), folder)
	b.do("upload a valid package folder",
		chromedp.SetUploadFiles(chromedp.CSS("#upload-dir"), []string{folder}),
		chromedp.Click(chromedp.CSS(`#upload-form button[type=submit]`)),
	)
	b.poll("upload accepted", `document.getElementById('upload-status').textContent.startsWith('Uploaded')`, 60*time.Second)
	status := b.text("#upload-status")
	m := regexp.MustCompile(`Uploaded (\S+) version 1 \(submitted\)`).FindStringSubmatch(status)
	if m == nil {
		t.Fatalf("upload status %q", status)
	}
	id := m[1]
	b.shot("upload-done")
	b.checkPage("upload")

	tv := e.waitTest(id, 1)
	b.do("my submissions", chromedp.Navigate(e.srv.URL+"/my"), chromedp.WaitVisible(chromedp.CSS("table")))
	my := b.text("main")
	if !strings.Contains(my, "Browser Upload Model") || !strings.Contains(my, "submitted") || !strings.Contains(my, string(tv.TestStatus)) {
		t.Errorf("/my: %q", my)
	}
	b.shot("my")
	b.checkPage("my")

	// Not findable before it is published.
	b.logout()
	b.do("search before publishing", chromedp.Navigate(e.srv.URL+"/search?q=browser"), chromedp.WaitVisible(chromedp.CSS(".total")))
	if n := b.text(".total"); !strings.HasPrefix(n, "0 models") {
		t.Errorf("unpublished upload is findable: %q", n)
	}

	b.login(e.tokens["rita"], "/review")
	b.do("review queue", chromedp.WaitVisible(chromedp.CSS(".review-item")), chromedp.Click(chromedp.CSS(".review-item details:last-of-type summary")))
	if d := b.text(".diff"); !strings.Contains(d, "+ name: Browser Upload Model") {
		t.Errorf("review diff %q", d)
	}
	b.shot("review")
	b.checkPage("review")
	b.do("accept",
		chromedp.SendKeys(chromedp.CSS(".review-form textarea"), "Looks good."),
		chromedp.Click(chromedp.CSS(`.review-form button[value=accept]`)),
		chromedp.WaitVisible(chromedp.CSS(".alert.ok")),
	)
	if n := b.text(".alert.ok"); !strings.Contains(n, id+"/1 published") {
		t.Errorf("after accept: %q", n)
	}
	b.logout()

	b.do("find the published model", chromedp.Navigate(e.srv.URL+"/search?q=browser"), chromedp.WaitVisible(chromedp.CSS(".model-card")))
	if n := b.text(".model-card h2"); n != "Browser Upload Model" {
		t.Errorf("search finds %q", n)
	}
	b.shot("published")
	b.checkPage("search after publishing")
}

func slicesDeleteFunc(s []string, del func(string) bool) []string {
	out := s[:0]
	for _, x := range s {
		if !del(x) {
			out = append(out, x)
		}
	}
	return out
}

// replaceInZip rewrites one file of a zip.
func replaceInZip(t *testing.T, data []byte, name string, f func(string) string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, zf := range zr.File {
		r, _ := zf.Open()
		var b bytes.Buffer
		b.ReadFrom(r)
		r.Close()
		w, _ := zw.Create(zf.Name)
		if zf.Name == name {
			w.Write([]byte(f(b.String())))
		} else {
			w.Write(b.Bytes())
		}
	}
	zw.Close()
	return buf.Bytes()
}

// unzipTo writes a zip's files under dir.
func unzipTo(t *testing.T, data []byte, dir string) {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range zr.File {
		r, _ := zf.Open()
		var b bytes.Buffer
		b.ReadFrom(r)
		r.Close()
		p := filepath.Join(dir, filepath.FromSlash(zf.Name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
