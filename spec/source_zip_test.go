package spec

import (
	"archive/zip"
	"os"
	"path/filepath"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
)

// A folder zipped the usual way (zip -r pkg.zip pkg/, with macOS's
// __MACOSX/ resource forks) validates, files included, as the folder does.
func TestZipOfOneFolder(t *testing.T) {
	src := fixtures.Path(t, "packages", "upsample-onnx")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "pkg.zip")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"my-model/" + e.Name(), "__MACOSX/my-model/._" + e.Name()} {
			w, err := zw.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(data)
		}
	}
	zw.Close()
	f.Close()
	want := ValidatePath(src, Options{Files: true})
	got := ValidatePath(p, Options{Files: true})
	if !want.Report.OK() {
		t.Fatalf("the fixture folder is not valid: %v", want.Report.Errors)
	}
	if !got.Report.OK() {
		t.Errorf("the zipped folder: %+v", got.Report.Errors)
	}
}
