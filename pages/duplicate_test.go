package pages_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/repo"
)

// TestBrowserDuplicateUpload is issue 17's contributor who uploads the
// same package twice: the upload page says the content is already at
// ID/N and offers to withdraw the new upload, which works; the reviewer
// sees "Same content as ID/N" in the queue.
func TestBrowserDuplicateUpload(t *testing.T) {
	e := newTestEnv(t, jobRoutes)
	pkg := zipFixture(t, "upsample-onnx", "Twice Uploaded")
	first := e.upload("alice", pkg, repo.UploadOptions{})
	ref := first.ModelID + "/1"
	b := newBrowser(t, e.srv.URL)
	b.login(e.tokens["alice"], "/upload")
	b.do("upload page", chromedp.WaitVisible(chromedp.CSS("#upload-form")))
	p := filepath.Join(t.TempDir(), "again.zip")
	if err := os.WriteFile(p, pkg, 0o644); err != nil {
		t.Fatal(err)
	}
	b.do("upload the same package again",
		chromedp.SetUploadFiles(chromedp.CSS("#upload-zip"), []string{p}),
		chromedp.Click(chromedp.CSS(`#upload-form button[type=submit]`)),
	)
	b.poll("duplicate warning", `!!document.getElementById('upload-duplicate')`, 60*time.Second)
	if w := b.text("#upload-duplicate"); !strings.Contains(w, "already at "+ref) {
		t.Errorf("duplicate warning %q does not name %s", w, ref)
	}
	b.shot("upload-duplicate")
	b.checkPage("upload (duplicate)")
	vs, err := e.svc.Catalog().ListVersions(t.Context(), zoo.VersionFilter{UploaderID: e.users["alice"].ID})
	if err != nil || len(vs) != 2 {
		t.Fatalf("versions: %v %v", len(vs), err)
	}
	second := vs[0] // newest first

	// The reviewer sees both in the queue, each naming the other.
	b.logout()
	b.login(e.tokens["rita"], "/review")
	b.do("review queue", chromedp.WaitVisible(chromedp.CSS(".review-item")))
	if s := b.text("#review-" + second.ModelID + "-1 .same-content"); !strings.Contains(s, "Same content as "+ref) {
		t.Errorf("review page: %q", s)
	}
	b.shot("review-duplicate")
	b.checkPage("review (duplicate)")

	// The contributor withdraws the re-upload from the upload page.
	b.logout()
	b.login(e.tokens["alice"], "/upload")
	b.do("upload page", chromedp.WaitVisible(chromedp.CSS("#upload-form")))
	b.do("upload a third time",
		chromedp.SetUploadFiles(chromedp.CSS("#upload-zip"), []string{p}),
		chromedp.Click(chromedp.CSS(`#upload-form button[type=submit]`)),
	)
	b.poll("duplicate warning", `!!document.getElementById('withdraw-upload')`, 60*time.Second)
	b.do("withdraw", chromedp.Click(chromedp.CSS("#withdraw-upload")))
	b.poll("withdrawn", `document.getElementById('upload-duplicate').textContent.includes('withdrawn')`, 20*time.Second)
	vs, _ = e.svc.Catalog().ListVersions(t.Context(), zoo.VersionFilter{UploaderID: e.users["alice"].ID})
	if len(vs) != 3 || vs[0].State != zoo.StateRejected || !strings.HasPrefix(vs[0].ReviewComment, "withdrawn by its uploader") {
		t.Errorf("after withdrawing: %+v", vs[0])
	}
	b.noConsoleErrors("withdraw")
}
