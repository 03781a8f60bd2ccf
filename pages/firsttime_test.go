package pages_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
)

// TestBrowserFirstTimeScientist is issue 17's scientist, who has read no
// documentation: a two-word search finds the tagged models (and says it
// loosened the query), a misspelling gets a suggestion, the model page
// says what image to give and what comes out, a colour PNG (the
// fixture's own cover) on a one-channel model gives a result with a note,
// and a model try-it cannot run shows no form but the reason and what to
// do instead.
func TestBrowserFirstTimeScientist(t *testing.T) {
	e := newTestEnv(t, jobRoutes)
	nuclei := e.publish("unet2d-nuclei-broad-onnx", "")
	multi := e.publish("unet2d-multi-tensor-onnx", "")
	upsample := e.publish("upsample-onnx", "")
	b := newBrowser(t, e.srv.URL)

	// "cell segmentation": no model has the word "cell"; every model
	// tagged segmentation is found, and the page says the query was loosened.
	b.do("search two words", chromedp.Navigate(e.srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#q")),
		chromedp.SendKeys(chromedp.CSS("#q"), "cell segmentation"), chromedp.Submit(chromedp.CSS("#q")))
	b.poll("loose results", `location.pathname == '/search' && document.readyState == 'complete' && !!document.querySelector('.total')`, 20*time.Second)
	if n := b.text(".total"); !strings.HasPrefix(n, "2 models") {
		t.Errorf("cell segmentation: %q, want the 2 models tagged segmentation", n)
	}
	if note := b.text("#loose-note"); !strings.Contains(note, "segmentation") || !strings.Contains(note, "No model matches all the words") {
		t.Errorf("the loosened search does not say so: %q", note)
	}
	b.shot("search-loosened")
	b.checkPage("loosened search")

	// A misspelling gets the index's word suggested, whether the other
	// words match something or nothing matches at all.
	b.do("misspelled search", chromedp.Navigate(e.srv.URL+"/search?q="+url.QueryEscape("segmentaton nucleus")), chromedp.WaitVisible(chromedp.CSS(".total")))
	if s := b.text("#loose-note"); !strings.Contains(s, "Did you mean segmentation nucleus") {
		t.Errorf("no spelling suggestion beside the loosened results: %q", s)
	}
	b.do("misspelled search without any match", chromedp.Navigate(e.srv.URL+"/search?q="+url.QueryEscape("segmentaton")), chromedp.WaitVisible(chromedp.CSS(".total")))
	if s := b.text("#no-match"); !strings.Contains(s, "Did you mean segmentation?") {
		t.Errorf("no spelling suggestion: %q", s)
	}
	b.do("misspelled search", chromedp.Navigate(e.srv.URL+"/search?q="+url.QueryEscape("segmentaton nucleus")), chromedp.WaitVisible(chromedp.CSS(".total")))
	b.shot("search-suggest")
	b.do("follow the suggestion", chromedp.Click(chromedp.CSS("#suggest")))
	b.poll("suggested results", `document.readyState == 'complete' && !!document.querySelector('.model-card')`, 20*time.Second)
	if n := b.text(".total"); !strings.HasPrefix(n, "1 model ") {
		t.Errorf("the suggested query finds %q, want the nuclei model", n)
	}

	// The model page says what goes in and what comes out.
	b.do("open the nuclei model", chromedp.Navigate(e.srv.URL+"/models/"+nuclei.ModelID), chromedp.WaitVisible(chromedp.CSS("#h-io")))
	io := b.text("section[aria-labelledby=h-io]")
	for _, want := range []string{"Input raw", "2-D image (y × x)", "1 (grey): raw_intensity", "mean 0 and standard deviation 1", "Output probability", "probability in [0,1]", "probabilities from 0 to 1"} {
		if !strings.Contains(io, want) {
			t.Errorf("'What it takes and gives' lacks %q:\n%s", want, io)
		}
	}
	// Compatibility is worded as what zoo did, and how-tos are only for
	// listed tools.
	side := b.text("aside.model-side")
	if strings.Contains(side, "tested\n") || !strings.Contains(side, "zoo did not run the tool itself") {
		t.Errorf("the compatibility note is missing or says 'tested' bare:\n%s", side)
	}
	if !b.eval(`(() => { const listed = Array.from(document.querySelectorAll('aside.model-side dd ul.plain li')).map(li => li.textContent); const tools = Array.from(document.querySelectorAll('section[aria-labelledby=h-howto] summary')).map(s => s.textContent); return tools.every(t => t === 'zoo CLI' ? listed.some(l => l.startsWith('zoo')) : listed.some(l => t.toLowerCase().includes(l.split(' ')[0].toLowerCase()))) })()`) {
		t.Errorf("a how-to is shown for a tool not under 'works with'")
	}
	b.do("scroll to I/O", chromedp.ScrollIntoView(chromedp.CSS("#h-io")))
	b.shot("model-io")
	b.checkPage("model page with I/O")

	// A colour palette PNG (the package's own cover) on the one-channel
	// model gives a result, and the page says how the image was read.
	cover := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx", "cover0.png")
	b.do("try a colour PNG",
		chromedp.SetUploadFiles(chromedp.CSS("#try-file"), []string{cover}),
		chromedp.Click(chromedp.CSS(`#try-form button[type=submit]`)),
	)
	b.poll("job result", `!document.getElementById('try-result').hidden || document.getElementById('try-status').className.includes('error')`, 3*time.Minute)
	status := b.text("#try-status")
	if !b.eval(`!document.getElementById('try-result').hidden`) {
		t.Fatalf("the colour PNG failed: %q", status)
	}
	if !strings.Contains(status, "Note:") || !strings.Contains(status, "grey") {
		t.Errorf("the result does not say how the colour image was read: %q", status)
	}
	b.poll("previews load", `['try-in','try-out'].every(id => { const i = document.getElementById(id); return i.complete && i.naturalWidth > 0 })`, 30*time.Second)
	if !b.eval(`document.getElementById('try-download').href.includes('name=cover0.png')`) {
		t.Errorf("the result download is not named after the input: %s", b.text("#try-download"))
	}
	b.shot("try-colour-png")
	b.checkPage("try-it with a colour PNG")

	// A two-input model: no form that cannot succeed, but the reason and
	// the way to run it.
	b.do("open the two-input model", chromedp.Navigate(e.srv.URL+"/models/"+multi.ModelID), chromedp.WaitVisible(chromedp.CSS("#h-try")))
	if b.eval(`!!document.getElementById('try-form') || !!document.querySelector('a[href="#try"]')`) {
		t.Errorf("try-it is offered on a model jobs cannot run")
	}
	why := b.text("#try-unavailable")
	if !strings.Contains(why, "2 inputs") || !strings.Contains(why, "zoo predict") || strings.Contains(why, "not supported: not supported") {
		t.Errorf("the page does not say why and what to do: %q", why)
	}
	b.do("scroll to try", chromedp.ScrollIntoView(chromedp.CSS("#h-try")))
	b.shot("model-not-runnable")
	b.checkPage("model jobs cannot run")

	// Several tensors of a kind keep their ids apart; a lone "input" is
	// not captioned "Input input".
	if !b.eval(`Array.from(document.querySelectorAll('.io-card h3')).map(h => h.textContent).join('|') == 'Input input0|Input input1|Output output0|Output output1'`) {
		t.Errorf("the two-input model's cards: %s", b.text(".io-grid"))
	}
	b.do("open the upsampling model", chromedp.Navigate(e.srv.URL+"/models/"+upsample.ModelID), chromedp.WaitVisible(chromedp.CSS("#h-examples")))
	if caps := b.text(".pair figcaption"); caps != "Input" {
		t.Errorf("example caption %q, want Input", caps)
	}
}

// TestBrowserLoginAndDevelopers: the login page says where tokens come
// from (with the exact command) and shows no text a link put in ?error=;
// a wrong token gets the session manager's reason; the footer's API link
// leads to a page for people, which links the OpenAPI JSON.
func TestBrowserLoginAndDevelopers(t *testing.T) {
	e := newTestEnv(t, nil)
	b := newBrowser(t, e.srv.URL)
	b.do("open a login link with a planted message", chromedp.Navigate(e.srv.URL+"/login?error="+url.QueryEscape("Your session expired; mail your token to help@evil.example")),
		chromedp.WaitVisible(chromedp.CSS("#token")))
	if page := b.text("main"); strings.Contains(page, "evil.example") {
		t.Errorf("the login page shows planted text: %q", page)
	}
	b.do("open the token help", chromedp.Click(chromedp.CSS("#token-help summary")))
	if help := b.text("#token-help"); !strings.Contains(help, "zoo admin token --data DIR --user YOUR-NAME") {
		t.Errorf("the login page does not give the command: %q", help)
	}
	b.do("log in with a wrong token", chromedp.SendKeys(chromedp.CSS("#token"), "zoo_wrong"), chromedp.Submit(chromedp.CSS("#token")))
	b.poll("login error", `!!document.querySelector('.alert.error')`, 20*time.Second)
	if msg := b.text(".alert.error"); !strings.Contains(msg, "unknown or revoked API token") {
		t.Errorf("after a wrong token: %q", msg)
	}
	b.shot("login-error")
	b.checkPage("login with an error")

	b.do("follow the footer's API link", chromedp.Click(chromedp.CSS(`footer a`)), chromedp.WaitVisible(chromedp.CSS(`a[href="/api/openapi.json"]`)))
	if h := b.text("h1"); h != "API for developers" {
		t.Errorf("the footer's API link leads to %q", h)
	}
	b.shot("developers")
	b.checkPage("developers")
}
