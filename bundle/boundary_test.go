package bundle

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/spec"
)

// Every limit of a package is a boundary a contributor can meet: a package
// exactly at a limit is accepted, one file or byte more is refused. These
// tests put each limit of OpenZip, OpenDir and Build on its boundary, so an
// off-by-one in any of them (refusing a package that fits, or accepting one
// that does not) fails here.

func stored(name string, size int) zent {
	return zent{name: name, data: strings.Repeat("x", size), edit: func(fh *zip.FileHeader) { fh.Method = zip.Store }}
}

func TestOpenZipLimitsBoundaries(t *testing.T) {
	desc := zent{name: "rdf.yaml", data: minimalYAML}
	d := len(minimalYAML)
	for _, c := range []struct {
		name string
		lim  Limits
		fit  []zent // exactly at the limit
		over []zent // one more
	}{
		{"files", Limits{MaxFiles: 3},
			[]zent{desc, stored("a", 1), stored("b", 1)},
			[]zent{desc, stored("a", 1), stored("b", 1), stored("c", 1)}},
		{"file size", Limits{MaxFileSize: 100},
			[]zent{desc, stored("w", 100)},
			[]zent{desc, stored("w", 101)}},
		{"total size", Limits{MaxTotalSize: int64(d) + 150},
			[]zent{desc, stored("a", 100), stored("b", 50)},
			[]zent{desc, stored("a", 100), stored("b", 51)}},
		// A stored entry expands 1:1: at a ratio limit of exactly 1 it fits.
		{"ratio", Limits{MaxRatio: 1},
			[]zent{desc, stored("w", RatioFloor+1)},
			[]zent{desc, {name: "w", data: string(make([]byte, RatioFloor+1))}}},
		// Up to RatioFloor bytes the ratio does not apply at all.
		{"ratio floor", Limits{},
			[]zent{desc, {name: "mask", data: string(make([]byte, RatioFloor))}},
			[]zent{desc, {name: "mask", data: string(make([]byte, RatioFloor+1))}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := openBytes(makeZip(t, c.fit...), c.lim)
			if err != nil {
				t.Fatalf("a package exactly at the limit was refused: %v", err)
			}
			p.Close()
			_, err = openBytes(makeZip(t, c.over...), c.lim)
			wantErr(t, err, zoo.TooLarge)
		})
	}
}

// TestOpenZipDirectoryBudget: the budget for reading a zip's directory
// grows with MaxFiles, so a package of MaxFiles entries with long names
// (here 90 KB of directory) opens.
func TestOpenZipDirectoryBudget(t *testing.T) {
	const n = 200
	ents := []zent{{name: "rdf.yaml", data: minimalYAML}}
	for i := len(ents); i < n; i++ {
		ents = append(ents, zent{name: strings.Repeat("d", 200) + "/" + strings.Repeat("f", 200) + string(rune('a'+i%26)) + strings.Repeat("0", i/26+1), data: "x"})
	}
	p, err := openBytes(makeZip(t, ents...), Limits{MaxFiles: n})
	if err != nil {
		t.Fatalf("%d entries with 400-byte names at MaxFiles %d: %v", n, n, err)
	}
	if got := len(p.Files()); got != n {
		t.Errorf("%d files, want %d", got, n)
	}
}

func TestOpenDirLimitsBoundaries(t *testing.T) {
	write := func(t *testing.T, files map[string]int) string {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "rdf.yaml"), []byte(minimalYAML), 0o644)
		for name, size := range files {
			os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
			os.WriteFile(filepath.Join(dir, name), bytes.Repeat([]byte("x"), size), 0o644)
		}
		return dir
	}
	d := int64(len(minimalYAML))
	for _, c := range []struct {
		name      string
		lim       Limits
		fit, over map[string]int
	}{
		// MaxFiles counts files and folders: rdf.yaml, w/, w/a.
		{"files and folders", Limits{MaxFiles: 3}, map[string]int{"w/a": 1}, map[string]int{"w/a": 1, "w/b": 1}},
		{"file size", Limits{MaxFileSize: 100}, map[string]int{"w": 100}, map[string]int{"w": 101}},
		{"total size", Limits{MaxTotalSize: d + 150}, map[string]int{"a": 100, "b": 50}, map[string]int{"a": 100, "b": 51}},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := OpenDir(write(t, c.fit), c.lim)
			if err != nil {
				t.Fatalf("a folder exactly at the limit was refused: %v", err)
			}
			p.Close()
			_, err = OpenDir(write(t, c.over), c.lim)
			wantErr(t, err, zoo.TooLarge)
		})
	}
}

// upsampleFiles are the files the upsample fixture's description
// references, and their bytes in all.
const upsampleFiles, upsampleBytes = 4, 0 + 528 + 6528 + 400

func TestBuildLimitsBoundaries(t *testing.T) {
	dir := copyDir(t, fixtures.Path(t, "packages", "upsample-onnx"), time.Now(), 0o644)
	for _, c := range []struct {
		name      string
		fit, over Limits
	}{
		{"files (the description counts)", Limits{MaxFiles: upsampleFiles + 1}, Limits{MaxFiles: upsampleFiles}},
		{"total size", Limits{MaxTotalSize: upsampleBytes}, Limits{MaxTotalSize: upsampleBytes - 1}},
		{"file size", Limits{MaxFileSize: 6528}, Limits{MaxFileSize: 6527}},
	} {
		t.Run(c.name, func(t *testing.T) {
			pkg, _, err := Build(dir, BuildOptions{Limits: c.fit})
			if err != nil {
				t.Fatalf("a package exactly at the limit was refused: %v", err)
			}
			if got := len(pkg.Files()); got != upsampleFiles+1 {
				t.Errorf("%d files packaged, want %d", got, upsampleFiles+1)
			}
			pkg.Close()
			_, _, err = Build(dir, BuildOptions{Limits: c.over})
			wantErr(t, err, zoo.TooLarge)
		})
	}
}

// TestBuildDescriptionAtTheParserLimit: a description of exactly the
// parser's size limit is packaged whole; one byte more is reported.
func TestBuildDescriptionAtTheParserLimit(t *testing.T) {
	dir := copyDir(t, fixtures.Path(t, "packages", "upsample-onnx"), time.Now(), 0o644)
	yml := filepath.Join(dir, "bioimageio.yaml")
	text, _ := os.ReadFile(yml)
	text = bytes.TrimRight(text, "\n") // the last byte is a value's
	pad := func(extra int) []byte {
		n := spec.DefaultLimits.MaxBytes + extra - len(text) - len("#\n")
		return append([]byte("#"+strings.Repeat(" ", n)+"\n"), text...)
	}
	os.WriteFile(yml, pad(0), 0o644)
	pkg, _, err := Build(dir, BuildOptions{})
	if err != nil {
		t.Fatalf("a description of exactly %d bytes: %v", spec.DefaultLimits.MaxBytes, err)
	}
	_, got := pkg.Description()
	pkg.Close()
	if tail := text[len(text)-40:]; !bytes.HasSuffix(got, tail) {
		t.Errorf("the packaged description lost its end: ends %q, want %q", got[len(got)-40:], tail)
	}
	os.WriteFile(yml, pad(1), 0o644)
	_, res, err := Build(dir, BuildOptions{})
	wantErr(t, err, zoo.Invalid)
	if res == nil || res.Report.OK() || !strings.Contains(res.Report.Errors[0].Msg, "limit") {
		t.Errorf("a description one byte over the limit: want a report naming the limit, got %+v", res)
	}
}

// TestOpenZipDescriptionAtTheParserLimit: a zipped description of exactly
// the parser's size limit is read whole.
func TestOpenZipDescriptionAtTheParserLimit(t *testing.T) {
	text := "#" + strings.Repeat(" ", spec.DefaultLimits.MaxBytes-1-len("\n"+minimalYAML)) + "\n" + minimalYAML
	p, err := openBytes(makeZip(t, zent{name: "rdf.yaml", data: text, edit: func(fh *zip.FileHeader) { fh.Method = zip.Store }}), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if _, got := p.Description(); len(got) != len(text) {
		t.Errorf("kept %d bytes of a %d-byte description", len(got), len(text))
	}
}

// TestFetchAtTheFileLimit: a download of exactly MaxFileSize bytes is
// packaged; one byte more is refused.
func TestFetchAtTheFileLimit(t *testing.T) {
	for _, c := range []struct {
		size int
		ok   bool
	}{{100, true}, {101, false}} {
		tmp := t.TempDir()
		fc := &fetchCache{fetch: func(string) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(strings.Repeat("w", c.size))), nil
		}, base: tmp, max: 100, got: map[string]string{}}
		rc, err := fc.open("https://example.org/w")
		if c.ok {
			if err != nil {
				t.Fatalf("%d bytes at a 100-byte limit: %v", c.size, err)
			}
			if kept, _ := os.ReadDir(tmp); len(kept) != 1 {
				t.Errorf("the download is not kept under the given temporary folder (%d entries there)", len(kept))
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if len(b) != c.size {
				t.Errorf("read %d bytes back, want %d", len(b), c.size)
			}
		} else {
			wantErr(t, err, zoo.TooLarge)
		}
		if err := fc.close(); err != nil {
			t.Fatal(err)
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("%d bytes: %d temporary entries left after close", c.size, len(left))
		}
	}
}

// TestBuildFailureRemovesDownloads: a Build that fails after downloading
// leaves no temporary files behind.
func TestBuildFailureRemovesDownloads(t *testing.T) {
	src := fixtures.Path(t, "packages", "upsample-onnx")
	dir := copyDir(t, src, time.Now(), 0o644)
	weights, _ := os.ReadFile(filepath.Join(src, "weights.onnx"))
	os.Remove(filepath.Join(dir, "weights.onnx"))
	yml := filepath.Join(dir, "bioimageio.yaml")
	text, _ := os.ReadFile(yml)
	os.WriteFile(yml, bytes.Replace(text, []byte("source: weights.onnx"), []byte("source: https://example.org/weights.onnx"), 1), 0o644)
	calls := 0
	fetch := func(string) (io.ReadCloser, error) {
		calls++
		return io.NopCloser(bytes.NewReader(weights)), nil
	}
	tmp := t.TempDir()
	_, _, err := Build(dir, BuildOptions{Fetch: fetch, TempDir: tmp, Limits: Limits{MaxTotalSize: int64(len(weights))}})
	wantErr(t, err, zoo.TooLarge)
	if calls == 0 {
		t.Fatal("the weights were never downloaded; the test does not reach its point")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("a failed Build left %d temporary entries", len(left))
	}
}

// TestBuildNumbersClashingNames: files of one name from different folders
// get distinct numbered names, the same content one name.
func TestBuildNumbersClashingNames(t *testing.T) {
	b := &builder{lim: Limits{}.orDefault(), taken: map[string]*entry{}, byKey: map[string]*entry{}}
	b.fsys = fstest.MapFS{
		"a/w.pt": {Data: []byte("1")}, "b/w.pt": {Data: []byte("2")},
		"c/w.pt": {Data: []byte("3")}, "d/w.pt": {Data: []byte("1")},
	}
	var got []string
	for _, src := range []string{"a/w.pt", "b/w.pt", "c/w.pt", "d/w.pt"} {
		e, err := b.add(src)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, e.Path)
	}
	if want := []string{"w.pt", "w_2.pt", "w_3.pt", "w.pt"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("packaged as %q, want %q", got, want)
	}
	if b.total != 3 {
		t.Errorf("counted %d bytes, want 3 (the same content once)", b.total)
	}
}

func TestBareNameLength(t *testing.T) {
	long := strings.Repeat("n", maxElementLen)
	for _, c := range []struct{ in, want string }{
		{long, long},
		{long + "n", long},
		{strings.Repeat("n", 300) + ".onnx", strings.Repeat("n", maxElementLen-5) + ".onnx"},
		{strings.Repeat("n", 300) + "." + strings.Repeat("e", 15), strings.Repeat("n", maxElementLen-16) + "." + strings.Repeat("e", 15)},
		{strings.Repeat("n", 300) + "." + strings.Repeat("e", 16), strings.Repeat("n", maxElementLen)},
	} {
		if got := bareName(c.in); got != c.want {
			t.Errorf("bareName(%d bytes ending %q) = %d bytes ending %q, want %d bytes ending %q",
				len(c.in), c.in[len(c.in)-8:], len(got), got[max(0, len(got)-8):], len(c.want), c.want[len(c.want)-8:])
		}
	}
}

// TestPackageFS: a package is an fs.FS: missing names are not there, and
// ReadDir keeps io/fs's contract for n <= 0 and n > 0.
func TestPackageFS(t *testing.T) {
	p, err := openBytes(makeZip(t,
		zent{name: "rdf.yaml", data: minimalYAML},
		zent{name: "w/b", data: "b"}, zent{name: "w/a", data: "a"}, zent{name: "w/c/d", data: "d"},
	), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"missing", "w/missing", "rdf.yaml/x", "w/c/d/e"} {
		if f, err := p.Open(name); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(%q) = %v, %v; want not exist", name, f, err)
		}
	}
	if err := fstest.TestFS(p, "rdf.yaml", "w/a", "w/b", "w/c/d"); err != nil {
		t.Error(err)
	}
	f, err := p.Open("w")
	if err != nil {
		t.Fatal(err)
	}
	d := f.(fs.ReadDirFile)
	all, err := d.ReadDir(0)
	if err != nil || len(all) != 3 {
		t.Fatalf("ReadDir(0) = %d entries, %v; want all 3", len(all), err)
	}
	if names := []string{all[0].Name(), all[1].Name(), all[2].Name()}; strings.Join(names, ",") != "a,b,c" {
		t.Errorf("entries %v, want sorted a,b,c", names)
	}
	if rest, err := d.ReadDir(0); len(rest) != 0 || err != nil {
		t.Errorf("ReadDir(0) at the end = %d entries, %v; want none and no error", len(rest), err)
	}
	if rest, err := d.ReadDir(1); len(rest) != 0 || err != io.EOF {
		t.Errorf("ReadDir(1) at the end = %d entries, %v; want io.EOF", len(rest), err)
	}
}

func TestApplyEditsAtTheEdges(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
		e              textEdit
	}{
		{"last line without newline", "a: x/w.onnx", "a: w.onnx", textEdit{line: 1, col: 4, old: "x/w.onnx", text: "w.onnx"}},
		{"empty value at the end of the text", "sha256:", "sha256: abc", textEdit{line: 1, col: 8, text: "abc", isNull: true}},
		{"escaped quote", `a: "x/we\"ird.pt"` + "\n", `a: "we\"ird.pt"` + "\n", textEdit{line: 1, col: 4, old: `x/we"ird.pt`, text: `we"ird.pt`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := applyEdits([]byte(c.in), []textEdit{c.e})
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
	for _, in := range []string{`a: "x/w.onnx`, `a: 'x/w.onnx`} {
		if got, err := applyEdits([]byte(in), []textEdit{{line: 1, col: 4, old: "x/w.onnx", text: "w.onnx"}}); err == nil {
			t.Errorf("an unterminated quote %q was edited to %q", in, got)
		}
	}
	_, err := applyEdits([]byte("a: b\n"), []textEdit{{line: 1, col: 7, old: "b", text: "c"}})
	if err == nil || !strings.Contains(err.Error(), "no column 7") {
		t.Errorf("a column past the line's end: got %v, want it named", err)
	}
}
