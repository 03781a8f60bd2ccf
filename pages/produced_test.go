package pages_test

import (
	"context"
	"encoding/json"
	"github.com/chromedp/chromedp"
	"html"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/testview"
	"github.com/zoo-bioimage/zoo/testview/testviewtest"
	"github.com/zoo-bioimage/zoo/web"
)

// A submission whose test output does not reproduce shows, on its model
// page (to its uploader) and in the review queue (to reviewers), the
// expected, produced and difference images with alt texts, the errors and
// a download link for the produced tensor; the images load.
func TestProducedOnPages(t *testing.T) {
	e := newTestEnv(t, func(e *testEnv) []web.Route { return testview.Routes(e.svc) })
	v := e.upload("alice", testviewtest.Zip(t, testviewtest.BrokenPackage(t, 0.5)), repo.UploadOptions{})
	if tv := e.waitTest(v.ModelID, v.Number); tv.TestStatus != zoo.TestFailed {
		t.Fatalf("test %s: %s", tv.TestStatus, tv.TestReport)
	}
	png := testview.URL(v.ModelID, v.Number, "onnx", "probability", "png")
	npy := testview.URL(v.ModelID, v.Number, "onnx", "probability", "npy")
	check := func(where, page string) {
		t.Helper()
		for _, want := range []string{
			`<img src="` + html.EscapeString(png+"?view=expected") + `" alt="Expected test output probability`,
			`<img src="` + html.EscapeString(png+"?view=produced") + `" alt="Output probability that the onnx weights produced`,
			`<img src="` + html.EscapeString(png+"?view=diff") + `" alt="Absolute difference between produced and expected probability`,
			`<a href="` + npy + `" download>Download the produced tensor</a>`,
			"Max. abs. error 0.5,",
			"mismatched elements per million",
			"<figcaption>Difference",
		} {
			if !strings.Contains(page, want) {
				t.Errorf("%s lacks %q", where, want)
			}
		}
		if strings.Contains(page, "<script>") {
			t.Errorf("%s has an inline script", where)
		}
	}
	code, page := e.get("alice", "/models/"+v.ModelID+"/1")
	if code != 200 {
		t.Fatalf("model page: %d", code)
	}
	check("model page", page)
	code, page = e.get("rita", "/review")
	if code != 200 {
		t.Fatalf("review page: %d", code)
	}
	check("review page", page)

	for _, view := range []string{"expected", "produced", "diff"} {
		req, _ := http.NewRequest("GET", e.srv.URL+png+"?view="+view, nil)
		req.AddCookie(e.login("rita"))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/png" {
			t.Errorf("image %s: %s %s", view, res.Status, res.Header.Get("Content-Type"))
		}
	}
	// The anonymous visitor sees neither the page nor the images.
	if code, _ := e.get("", png+"?view=diff"); code != 404 {
		t.Errorf("anonymous image: %d", code)
	}

	// A report whose produced tensor was over the budget says so.
	rep := `{"status":"failed","formats":{"onnx":{"status":"failed","runs":true,"produced_skipped":[{"format":"onnx","output":"probability","size":1048704,"reason":"not kept: this server keeps at most 1 bytes of produced tensors per test run"}]}}}`
	if err := e.svc.Catalog().SetTestResult(context.Background(), v.ModelID, v.Number, zoo.TestFailed, json.RawMessage(rep)); err != nil {
		t.Fatal(err)
	}
	_, page = e.get("alice", "/models/"+v.ModelID+"/1")
	if !strings.Contains(page, "the produced tensor was not kept: this server keeps at most 1 bytes") || strings.Contains(page, "/test/produced/") {
		t.Errorf("model page does not say the produced tensor was not kept")
	}
}

// A passing model's page shows no produced tensors.
func TestNoProducedWhenPassing(t *testing.T) {
	e := newTestEnv(t, nil)
	v := e.publish("unet2d-nuclei-broad-onnx", "")
	_, page := e.get("", "/models/"+v.ModelID)
	if strings.Contains(page, "did not reproduce") || strings.Contains(page, "/test/produced/") {
		t.Errorf("a passing model's page shows produced tensors")
	}
}

// In a real browser, the uploader of a model whose test did not reproduce
// sees the three pictures (all loaded, nothing broken), and the page passes
// the accessibility audit without console errors.
func TestBrowserTestNotReproduced(t *testing.T) {
	e := newTestEnv(t, func(e *testEnv) []web.Route { return testview.Routes(e.svc) })
	v := e.upload("alice", testviewtest.Zip(t, testviewtest.BrokenPackage(t, 0.5)), repo.UploadOptions{})
	if tv := e.waitTest(v.ModelID, v.Number); tv.TestStatus != zoo.TestFailed {
		t.Fatalf("test %s: %s", tv.TestStatus, tv.TestReport)
	}
	b := newBrowser(t, e.srv.URL)
	b.login(e.tokens["alice"], "/models/"+v.ModelID+"/1")
	b.do("model page", chromedp.WaitVisible(chromedp.CSS("section.produced")), chromedp.ScrollIntoView(chromedp.CSS("section.produced")))
	b.poll("pictures loaded", `[...document.querySelectorAll('section.produced img')].length === 3 &&
		[...document.querySelectorAll('section.produced img')].every(i => i.complete && i.naturalWidth === 512 && i.naturalHeight === 512)`, 30*time.Second)
	b.shot("test-not-reproduced")
	b.checkPage("model page of a failed test")
}
