package pages_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/jobs"
	"github.com/zoo-bioimage/zoo/jobs/infer"
	"github.com/zoo-bioimage/zoo/modelcache"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/web"
)

// inferQueue runs inference jobs at once, in goroutines.
type inferQueue struct {
	e *testEnv
	s **infer.Service
}

func (q inferQueue) Enqueue(_ context.Context, kind string, args any) (int64, error) {
	b, err := json.Marshal(args)
	if err != nil {
		return 0, err
	}
	q.e.wg.Add(1)
	go func() {
		defer q.e.wg.Done()
		for attempt := 1; attempt <= 3; attempt++ {
			err := (*q.s).Handle(context.Background(), &queue.Job{Kind: kind, Args: b, Attempt: attempt, MaxAttempts: 3})
			if err == nil {
				return
			}
			q.e.t.Logf("inference job (attempt %d): %v", attempt, err)
		}
	}()
	return 1, nil
}

// jobRoutes mounts the inference jobs API (jobs/infer) as cmd/zoo does,
// with its jobs run in goroutines.
func jobRoutes(e *testEnv) []web.Route { return jobRoutesWith(e, 0) }

// jobRoutesWith is jobRoutes with a limit on submitted images (0 = the
// default).
func jobRoutesWith(e *testEnv, maxInput int64) []web.Route {
	store := e.svc.Catalog().(interface{ Jobs() jobs.Store }).Jobs()
	cache := modelcache.New(e.svc, modelcache.Options{TempDir: e.t.TempDir()})
	e.t.Cleanup(func() { cache.Close() })
	s := new(*infer.Service)
	*s = infer.New(infer.Options{Store: store, Repo: e.svc, Queue: inferQueue{e, s}, TempDir: e.t.TempDir(), MaxInputBytes: maxInput,
		Load: func(ctx context.Context, v *zoo.Version) (*runner.Predictor, func(), error) {
			ent, err := cache.Get(ctx, v)
			if err != nil {
				return nil, nil, err
			}
			return ent.Predictor(), ent.Release, nil
		}})
	return (*s).Routes()
}

func init() {
	tryIt = func(t *testing.T, b *browserSession, e *testEnv) {
		img := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx", "test_input.png")
		if _, err := os.Stat(img); err != nil {
			t.Fatal(err)
		}
		b.do("run the model on an image",
			chromedp.SetUploadFiles(chromedp.CSS("#try-file"), []string{img}),
			chromedp.Click(chromedp.CSS(`#try-form button[type=submit]`)),
		)
		b.poll("job result", `!document.getElementById('try-result').hidden || document.getElementById('try-status').className.includes('error')`, 2*time.Minute)
		if st := b.text("#try-status"); !strings.HasPrefix(st, "Done") {
			b.shot("try-failed")
			t.Fatalf("try it: %q", st)
		}
		b.poll("previews load", `['try-in','try-out'].every(id => { const i = document.getElementById(id); return i.complete && i.naturalWidth > 0 })`, 30*time.Second)
		// The contrast controls ask for new previews.
		b.eval(`(() => { const l = document.getElementById('try-low'); l.value = '5'; l.dispatchEvent(new Event('change')); return true })()`)
		b.poll("contrast", `document.getElementById('try-out').src.includes('low=5') && document.getElementById('try-out').complete && document.getElementById('try-out').naturalWidth > 0`, 30*time.Second)
		b.do("scroll to the result", chromedp.ScrollIntoView(chromedp.CSS("#try-result")))
		b.shot("try-it")
		b.noConsoleErrors("try it")
		tif := b.download("#try-download")
		if len(tif) < 8 || !(strings.HasPrefix(string(tif), "II*\x00") || strings.HasPrefix(string(tif), "MM\x00*")) {
			t.Errorf("downloaded result is not a TIFF (%d bytes)", len(tif))
		}

		// Friendly errors: a file of the wrong kind is refused in the page,
		// a broken image by the server, and the page says so.
		dir := t.TempDir()
		txt, fake := filepath.Join(dir, "notes.txt"), filepath.Join(dir, "broken.png")
		os.WriteFile(txt, []byte("hello"), 0o644)
		os.WriteFile(fake, []byte("this is not a PNG"), 0o644)
		b.do("try a text file", chromedp.SetUploadFiles(chromedp.CSS("#try-file"), []string{txt}), chromedp.Click(chromedp.CSS(`#try-form button[type=submit]`)))
		if st := b.text("#try-status"); !strings.Contains(st, "Only TIFF") {
			t.Errorf("text file: status %q", st)
		}
		b.do("try a broken image", chromedp.SetUploadFiles(chromedp.CSS("#try-file"), []string{fake}), chromedp.Click(chromedp.CSS(`#try-form button[type=submit]`)))
		b.poll("refusal shown", `document.getElementById('try-status').className.includes('error') && !document.getElementById('try-status').textContent.startsWith('Only') && document.getElementById('try-progress').hidden`, 30*time.Second)
		t.Logf("broken image: %q", b.text("#try-status"))
		b.shot("try-error")
		// The refused request is logged by Chromium as a failed resource: expected.
		b.mu.Lock()
		b.errors = slicesDeleteFunc(b.errors, func(s string) bool { return strings.Contains(s, "status of 4") })
		b.mu.Unlock()
		b.noConsoleErrors("try it (errors)")
	}
}

// TestBrowserTryItTooLarge: an image over the server's limit gets a
// message that says so, not a broken page.
func TestBrowserTryItTooLarge(t *testing.T) {
	e := newTestEnv(t, func(e *testEnv) []web.Route { return jobRoutesWith(e, 10<<10) })
	v := e.publish("unet2d-nuclei-broad-onnx", "")
	b := newBrowser(t, e.srv.URL)
	img := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx", "test_input.png") // 78 KiB > 10 KiB
	b.do("submit a large image",
		chromedp.Navigate(e.srv.URL+"/models/"+v.ModelID),
		chromedp.WaitVisible(chromedp.CSS("#try-form")),
		chromedp.SetUploadFiles(chromedp.CSS("#try-file"), []string{img}),
		chromedp.Click(chromedp.CSS(`#try-form button[type=submit]`)),
	)
	b.poll("refusal shown", `document.getElementById('try-status').className.includes('error')`, 30*time.Second)
	st := b.text("#try-status")
	if !strings.HasPrefix(st, "This image is too large") {
		t.Errorf("status %q, want the too-large message", st)
	}
	t.Logf("too large: %q", st)
	b.mu.Lock()
	b.errors = slicesDeleteFunc(b.errors, func(s string) bool { return strings.Contains(s, "status of 413") })
	b.mu.Unlock()
	b.checkPage("try it (too large)")
}
