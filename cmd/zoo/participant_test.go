package main

import (
	"archive/zip"
	"bytes"
	"context"
	"flag"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

var screenshots = flag.String("screenshots", "", "folder for the browser tests' screenshots (default: a temporary folder); e.g. ../../docs/screenshots")

const chromiumPath = "/usr/bin/chromium"

// unheadedColumns counts, over the main content's tables, header cells
// without words and body rows with more cells than the header has.
const unheadedColumns = `(() => {
  let bad = 0;
  document.querySelectorAll('main table').forEach((tb) => {
    const head = tb.tHead ? tb.tHead.rows[0] : tb.rows[0];
    if (!head) { bad++; return; }
    const named = [...head.cells].filter((c) => c.tagName === 'TH' && c.textContent.trim()).length;
    bad += head.cells.length - named;
    [...(tb.tBodies[0] ? tb.tBodies[0].rows : [])].forEach((r) => {
      const n = [...r.cells].reduce((a, c) => a + c.colSpan, 0);
      if (r.cells.length > 1 && n > head.cells.length) bad++;
    });
  });
  return bad;
})()`

// TestChallengeParticipant is issue 17's challenge participant, on the
// example challenge zoo serve --seed makes: from the challenge page
// alone, they download every test input it links (and cannot download a
// ground truth), predict them with zoo predict and the nuclei model,
// zip the predictions, sign in, submit the zip through the page's form
// and see its score. The pages are on the site's layout (header, search,
// sign-in link) and every table column has a heading.
func TestChallengeParticipant(t *testing.T) {
	needORT(t)
	_, err := os.Stat(chromiumPath)
	testenv.Need(t, testenv.Chromium, err)
	model := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx")
	seed := t.TempDir()
	if err := os.Symlink(model, filepath.Join(seed, "unet2d-nuclei-broad-onnx")); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	storage := []string{"--data", data}
	dave := token(t, storage, "dave", "contributor")
	server, _ := startServe(t, append(storage, "--seed", seed)...)

	get := func(path string) (int, []byte) {
		t.Helper()
		res, err := http.Get(server + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res.StatusCode, b
	}

	// The page, as an anonymous participant: the test inputs are links.
	code, page := get("/challenges/nuclei-demo")
	if code != 200 {
		t.Fatalf("challenge page: %d", code)
	}
	list := regexp.MustCompile(`(?s)<ul id="inputs">(.*?)</ul>`).FindSubmatch(page)
	if list == nil {
		t.Fatalf("the challenge page lists no test inputs:\n%s", page)
	}
	links := regexp.MustCompile(`href="([^"]+)"`).FindAllSubmatch(list[1], -1)
	if len(links) != 2 {
		t.Fatalf("test input links %q, want img01.npy and img02.npy", links)
	}
	inputs, preds := t.TempDir(), t.TempDir()
	for _, l := range links {
		link := string(l[1])
		code, b := get(link)
		if code != 200 || len(b) < 512*512*4 {
			t.Fatalf("GET %s: %d, %d bytes: a participant cannot download the test input", link, code, len(b))
		}
		name := filepath.Base(link)
		// The example's images, made as the seed makes them: the link
		// serves the input, never its ground truth (of the same name).
		in, truth := seededExample(t, name)
		if !bytes.Equal(b, in) || bytes.Equal(b, truth) {
			t.Errorf("GET %s does not serve the test input %s (ground truth: %v)", link, name, bytes.Equal(b, truth))
		}
		if err := os.WriteFile(filepath.Join(inputs, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Predict them all with zoo predict, as a participant would.
	zooOK(t, "predict", "--model", model, "--input", inputs, "--output", preds)
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for _, l := range links {
		name := filepath.Base(string(l[1]))
		b, err := os.ReadFile(filepath.Join(preds, name))
		if err != nil {
			t.Fatalf("zoo predict wrote no %s: %v", name, err)
		}
		w, _ := zw.Create(name)
		w.Write(b)
	}
	zw.Close()
	zipPath := filepath.Join(t.TempDir(), "predictions.zip")
	if err := os.WriteFile(zipPath, zbuf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	// In the browser: the page on the site's layout, sign in, submit.
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromiumPath), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath, err)
	}
	shots := *screenshots
	if shots == "" {
		shots = t.TempDir()
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
		defer cancel()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	shot := func(name string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	eval := func(expr string) float64 {
		t.Helper()
		ctx, cancel := context.WithTimeout(bctx, 30*time.Second)
		defer cancel()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64](expr))
		if err != nil {
			t.Fatalf("eval: %v", err)
		}
		return v
	}
	// Every table column has a heading; the site's header is there.
	checkPage := func(where string) {
		t.Helper()
		if n := eval(unheadedColumns); n != 0 {
			t.Errorf("%s: %v table column(s) without a heading", where, n)
		}
		if eval(`(!!document.querySelector('header.top form.searchbox') && !!document.querySelector('header.top a[href="/challenges"]') && document.querySelectorAll('h1').length === 1) ? 1 : 0`) != 1 {
			t.Errorf("%s is not on the site's layout (header with search and navigation, one h1)", where)
		}
	}
	run("challenge page (anonymous)", chromedp.Navigate(server+"/challenges/nuclei-demo"), chromedp.WaitVisible(chromedp.CSS("#inputs")))
	if s := text("#submit + p"); !strings.Contains(s, "Log in") {
		t.Errorf("anonymous: the submit section says %q, want a log-in link", s)
	}
	if eval(`document.querySelector('header.top a[href^="/login"]') ? 1 : 0`) != 1 {
		t.Error("anonymous: no sign-in link in the header")
	}
	checkPage("challenge page (anonymous)")
	shot("challenge-anonymous")
	run("challenges list", chromedp.Navigate(server+"/challenges"), chromedp.WaitVisible(chromedp.CSS("main h1")))
	checkPage("challenges list")
	shot("challenges")

	run("log in", chromedp.Navigate(server+"/login?next=/challenges/nuclei-demo"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), dave), chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("#submit-form")))
	if s := text("#token-source"); !strings.Contains(s, "zoo admin token") || !strings.Contains(s, "log in") {
		t.Errorf("the page does not say where API tokens come from: %q", s)
	}
	checkPage("challenge page (signed in)")
	run("scroll to the form", chromedp.ScrollIntoView(chromedp.CSS("#submit")))
	shot("challenge-submit-form")
	run("submit the predictions", chromedp.SetUploadFiles(chromedp.CSS("#predictions"), []string{zipPath}),
		chromedp.Click(chromedp.CSS(`#submit-form button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("#submission-status")))
	deadline := time.Now().Add(60 * time.Second)
	for s := text("#submission-status"); !strings.Contains(s, "scored"); s = text("#submission-status") {
		if strings.Contains(s, "failed") || time.Now().After(deadline) {
			t.Fatalf("submission: %q", s)
		}
		time.Sleep(500 * time.Millisecond)
		run("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#submission-status")))
	}
	scores := text("#scores")
	if !regexp.MustCompile(`psnr\s+ssim\s+[0-9.]+\s+[0-9.]+`).MatchString(scores) {
		t.Errorf("the submission page shows no scores: %q", scores)
	}
	checkPage("submission page")
	shot("challenge-submission-scored")
	run("leaderboard", chromedp.Navigate(server+"/challenges/nuclei-demo"), chromedp.WaitVisible(chromedp.CSS("#leaderboard")),
		chromedp.ScrollIntoView(chromedp.CSS("#leaderboard")))
	if s := text("#leaderboard"); !strings.Contains(s, "dave") {
		t.Errorf("dave is not on the leaderboard: %q", s)
	}
	shot("challenge-leaderboard")
}

// seededExample returns the .npy bytes of the example challenge's test
// input name (img01.npy, img02.npy) and of its ground truth, made with
// seedChallenge's generator.
func seededExample(t *testing.T, name string) (input, truth []byte) {
	t.Helper()
	rng := rand.New(rand.NewPCG(15, 2026))
	var in, tr [3]*tensor.Tensor
	for i := range in {
		in[i], tr[i] = challenge.SimulateNuclei(rng, 512, 512)
	}
	i := map[string]int{"img01.npy": 1, "img02.npy": 2}[name]
	if i == 0 {
		t.Fatalf("unexpected test input %q", name)
	}
	enc := func(x *tensor.Tensor) []byte {
		var b bytes.Buffer
		if err := npy.Write(&b, x); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	return enc(in[i]), enc(tr[i])
}
