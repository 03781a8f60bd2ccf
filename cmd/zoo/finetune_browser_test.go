package main

// The browser test of "Fine-tune on your images": a real zoo serve
// (SQLite, its own workers) with the untrained denoiser seeded; Chromium
// signs in, opens the model page (marked fine-tunable), uploads a zip of
// noisy images through the form, watches the loss curve grow, gets the
// draft and submits it for review. Screenshots go to $ZOO_SCREENSHOTS
// (e.g. docs/screenshots) or a temporary folder.

import (
	"context"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/zoo-bioimage/zoo/client"
)

func TestFinetuneBrowser(t *testing.T) {
	needFinetune(t)
	const chromium = "/usr/bin/chromium"
	_, err := os.Stat(chromium)
	testenv.Need(t, testenv.Chromium, err)
	data := t.TempDir()
	seed := t.TempDir()
	if err := os.CopyFS(filepath.Join(seed, "denoiser"), os.DirFS("../../finetune/testdata/denoiser")); err != nil {
		t.Fatal(err)
	}
	_, m := startProc(t, "serve", []string{"ZOO_FINETUNE_CHECKPOINT=1s"}, listening, "serve", "--data", data, "--addr", "127.0.0.1:0", "--workers", "1", "--seed", seed)
	base := m[1]
	code, out, errs := runZoo(t, "admin", "token", "--data", data, "--user", "alice")
	if code != 0 {
		t.Fatal(errs)
	}
	tok := strings.TrimSpace(out)
	var model string
	deadline := time.Now().Add(3 * time.Minute)
	for model == "" {
		var list struct{ Models []struct{ ID string } }
		getJSON(t, base+"/api/v1/models", &list)
		if len(list.Models) == 1 {
			model = list.Models[0].ID
		}
		if time.Now().After(deadline) {
			t.Fatal("the denoiser was not published within 3 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
	zipPath := filepath.Join(t.TempDir(), "my-images.zip")
	if err := os.WriteFile(zipPath, finetuneImages(t), 0o644); err != nil {
		t.Fatal(err)
	}
	shots := os.Getenv("ZOO_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 1100), chromedp.Flag("disable-gpu", true), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	ctx, cancelC := chromedp.NewContext(actx)
	defer cancelC()
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	var mu sync.Mutex
	var consoleErrors []string
	go func() {
		for m, err := range chromedp.Console(ctx) {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				consoleErrors = append(consoleErrors, m.String())
				mu.Unlock()
			}
		}
	}()
	shot := func(name string) {
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		png, err := chromedp.Run(c, chromedp.CaptureScreenshot())
		if err != nil {
			t.Errorf("screenshot %s: %v", name, err)
			return
		}
		if err := os.WriteFile(filepath.Join(shots, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot %s", filepath.Join(shots, name+".png"))
	}
	do := func(what string, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := chromedp.Do(c, steps...); err != nil {
			shot("finetune-failure")
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		s, err := chromedp.Run(c, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	attr := func(sel, name string) string {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		a, err := chromedp.Run(c, chromedp.AttributeValue(chromedp.CSS(sel), name))
		if err != nil {
			t.Fatalf("%s of %s: %v", name, sel, err)
		}
		return a.Value
	}
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	// Anonymous: the mark and a sign-in prompt, no form.
	do("model page", 30*time.Second, chromedp.Navigate(base+"/models/"+model), chromedp.WaitVisible(css("#finetunable")))
	if s := text("#finetune-signin"); !strings.Contains(s, "Sign in") {
		t.Errorf("anonymous sign-in prompt %q", s)
	}
	// Signed in: the form.
	do("log in", 30*time.Second, chromedp.Navigate(base+"/login?next=/models/"+model), chromedp.WaitVisible(css("#token")),
		chromedp.SendKeys(css("#token"), tok), chromedp.Submit(css("#token")), chromedp.WaitVisible(css("#finetune-form")))
	if r := text("#finetune-retention"); !regexp.MustCompile(`deleted \d+ days? after`).MatchString(r) {
		t.Errorf("the page does not state the retention time: %q", r)
	}
	do("fill the form", 30*time.Second,
		chromedp.SetUploadFiles(css("#finetune-file"), []string{zipPath}),
		chromedp.SetValue(css("#finetune-iterations"), "60"),
		chromedp.Click(css(`#finetune-form button[type="submit"]`)),
		chromedp.WaitVisible(css("#finetune-status")))
	// The curve grows while it trains.
	poll := func(what, expr string, limit time.Duration) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for {
			c, cancel := context.WithTimeout(ctx, 30*time.Second)
			ok, err := chromedp.Run(c, chromedp.Evaluate[bool](expr))
			cancel()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if ok {
				return
			}
			if time.Now().After(deadline) {
				shot("finetune-failure")
				t.Fatalf("%s: not within %v (status: %s)", what, limit, text("#finetune-status"))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	poll("the loss curve", `(document.getElementById("finetune-line")?.getAttribute("points") || "").split(" ").length >= 5`, 5*time.Minute)
	do("scroll", 10*time.Second, chromedp.ScrollIntoView(css("#finetune")))
	shot("finetune-running")
	poll("the result", `!document.getElementById("finetune-result").hidden`, 5*time.Minute)
	if n := len(strings.Fields(attr("#finetune-line", "points"))); n != 60 {
		t.Errorf("the loss curve has %d points, want 60", n)
	}
	summary, href := text("#finetune-summary"), attr("#finetune-draft", "href")
	if !strings.Contains(summary, model+"/1") || !strings.Contains(summary, "MSE") {
		t.Errorf("summary %q: want the parent and the held-out MSE", summary)
	}
	do("scroll", 10*time.Second, chromedp.ScrollIntoView(css("#finetune")))
	shot("finetune-done")
	do("submit the draft", 30*time.Second, chromedp.Click(css("#finetune-submit")), chromedp.WaitVisible(css(`#finetune-submit[disabled]`)))
	draft := regexp.MustCompile(`/models/([a-z]+-[a-z]+)/(\d+)$`).FindStringSubmatch(href)
	if draft == nil {
		t.Fatalf("draft link %q", href)
	}
	c, _ := client.New(base, tok)
	v, err := c.Get(context.Background(), draft[1], 1)
	if err != nil {
		t.Fatal(err)
	}
	if v.State != "submitted" {
		t.Errorf("the draft is %s after the form's submit, want submitted", v.State)
	}
	// The draft's page names its parent.
	do("draft page", 30*time.Second, chromedp.Navigate(base+href), chromedp.WaitVisible(css("#finetune-parent")))
	if p := text("#finetune-parent"); !strings.Contains(p, model) {
		t.Errorf("the draft's page says %q, want its parent %s", p, model)
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(consoleErrors) > 0 {
		t.Errorf("browser console errors: %v", consoleErrors)
	}
}
