package pages_test

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// transfer sums the bytes the page received over the network (encoded,
// i.e. what went over the wire; answers from the browser's cache count 0).
type transfer struct {
	mu    sync.Mutex
	bytes int64
	reqs  int
	urls  map[network.RequestID]string
	big   map[string]int64
}

func recordTransfer(t *testing.T, b *browserSession) *transfer {
	tr := &transfer{urls: map[network.RequestID]string{}, big: map[string]int64{}}
	if _, err := chromedp.Call(b.ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Listen(b.ctx, func(ev any) {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			tr.urls[e.RequestID] = e.Request.URL
		case *network.EventLoadingFinished:
			tr.bytes += int64(e.EncodedDataLength)
			tr.reqs++
			if e.EncodedDataLength > 100<<10 {
				u := tr.urls[e.RequestID]
				tr.big[u[strings.LastIndex(u, "/")+1:]] += int64(e.EncodedDataLength)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	return tr
}

func (tr *transfer) take() (int64, int, map[string]int64) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	n, r, big := tr.bytes, tr.reqs, tr.big
	tr.bytes, tr.reqs, tr.big = 0, 0, map[string]int64{}
	return n, r, big
}

// TestBrowserRunBench measures, in headless Chromium, the nuclei U-Net on
// a 512×512 image in the browser (first visit: runtime and model
// downloaded, the model's test reproduced; later visit: all from the
// browser's cache) next to the server job path end to end, and the bytes
// the browser downloads. bench/browser.sh runs it (ZOO_BENCH_BROWSER=1)
// and bench/RESULTS.md records the table it prints.
func TestBrowserRunBench(t *testing.T) {
	if os.Getenv("ZOO_BENCH_BROWSER") == "" {
		t.Skip("a benchmark: bench/browser.sh runs it (ZOO_BENCH_BROWSER=1)")
	}
	rt := requireRuntime(t)
	e := browserEnv(t, rt, nil)
	nuclei := e.publish("unet2d-nuclei-broad-onnx", "")
	b := newBrowser(t, e.srv.URL)
	tr := recordTransfer(t, b)
	small, _ := nucleiInputs(t)
	page := e.srv.URL + "/models/" + nuclei.ModelID

	var phases []string
	run := func(where string) (time.Duration, string) {
		b.do("open the model page", chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS("#try-form")))
		if where == "server" {
			b.do("choose the server", chromedp.Click(chromedp.CSS(`input[name=where][value=server]`)))
		}
		b.do("choose the image", chromedp.SetUploadFiles(chromedp.CSS("#try-file"), []string{small}))
		start := time.Now()
		b.do("run", chromedp.Click(chromedp.CSS(`#try-form button[type=submit]`)))
		b.poll("result", `!document.getElementById('try-result').hidden && document.getElementById('try-status').textContent.startsWith('Done') && ['try-in','try-out'].every(id => { const i = document.getElementById(id); return i.complete && i.naturalWidth > 0 })`, 5*time.Minute)
		took := time.Since(start)
		if where == "browser" {
			st, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`JSON.stringify(window.zooBrowserRunStats, (k, v) => typeof v === 'number' ? Math.round(v) : v)`))
			phases = append(phases, st)
		}
		return took, b.text("#try-path")
	}
	type row struct {
		what   string
		took   time.Duration
		bytes  int64
		reqs   int
		detail string
	}
	var rows []row
	tr.take()
	d, path := run("browser")
	n, r, big := tr.take()
	var parts []string
	for k, v := range big {
		parts = append(parts, fmt.Sprintf("%s %.1f MB", k, float64(v)/1e6))
	}
	rows = append(rows, row{"browser, first visit (runtime + model downloaded, model's test reproduced)", d, n, r, strings.Join(parts, ", ")})
	stats := b.text("#try-status")
	d, _ = run("browser")
	n, r, _ = tr.take()
	rows = append(rows, row{"browser, later visit (page reloaded; runtime and model from the browser's cache)", d, n, r, ""})
	d, _ = run("browser")
	n, r, _ = tr.take()
	rows = append(rows, row{"browser, later visit again", d, n, r, ""})
	d, _ = run("server")
	n, r, _ = tr.take()
	rows = append(rows, row{"server job path (upload, queue, run, previews), same machine", d, n, r, ""})
	d, _ = run("server")
	n, r, _ = tr.take()
	rows = append(rows, row{"server job path again (model loaded in the server's cache)", d, n, r, ""})

	fmt.Printf("\nnuclei U-Net (unet2d-nuclei-broad-onnx), 512×512 float32 TIFF; headless Chromium %s; %d CPUs; path: %s\n\n", chromiumVersion(b), runtime.NumCPU(), path)
	fmt.Println("| run | time (click → result shown) | bytes received | requests |")
	fmt.Println("|---|---:|---:|---:|")
	for _, r := range rows {
		fmt.Printf("| %s | %.1f s | %.2f MB | %d |\n", r.what, r.took.Seconds(), float64(r.bytes)/1e6, r.reqs)
	}
	fmt.Printf("\nfirst visit, large transfers: %s\nfirst run's status: %s\n", rows[0].detail, stats)
	fmt.Printf("in-page phases of the browser runs (ms; load = runtime, zoo.wasm and model fetched and compiled; session = ONNX Runtime Web session; selfTest = the model's test reproduced; run = the visitor's image):\n")
	for _, p := range phases {
		fmt.Println("  " + p)
	}
}

func chromiumVersion(b *browserSession) string {
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`navigator.userAgent.match(/Chrome\/[\d.]+/)[0]`))
	if err != nil {
		return "?"
	}
	return v
}
