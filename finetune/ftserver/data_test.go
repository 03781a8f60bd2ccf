package ftserver

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
)

type entry struct {
	name string
	data []byte
	mode os.FileMode
}

func writeZip(t testing.TB, entries ...entry) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		w, err := zw.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(e.data)
	}
	zw.Close()
	p := filepath.Join(t.TempDir(), "data.zip")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadData(t *testing.T) {
	img := []byte("not decoded here")
	p := writeZip(t, entry{"a.tif", img, 0}, entry{"images/b.png", img, 0}, entry{"masks/a.tif", img, 0},
		entry{"clean/a.tif", img, 0}, entry{"__MACOSX/._a.tif", img, 0}, entry{".DS_Store", img, 0}, entry{"images/", nil, 0})
	dir := t.TempDir()
	d, err := ReadData(p, dir, DataLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(d.Images, ",") != "a.tif,b.png" || strings.Join(d.Masks, ",") != "a.tif" || strings.Join(d.Clean, ",") != "a.tif" {
		t.Errorf("read %+v", d)
	}
	for _, f := range []string{"images/a.tif", "images/b.png", "masks/a.tif", "clean/a.tif"} {
		if b, err := os.ReadFile(filepath.Join(dir, f)); err != nil || !bytes.Equal(b, img) {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// Hostile and wrong zips are refused with a message naming the problem,
// and nothing is written outside the folder.
func TestReadDataRefuses(t *testing.T) {
	img := []byte("x")
	big := bytes.Repeat([]byte{0}, 1<<20)
	cases := []struct {
		name    string
		entries []entry
		kind    zoo.Kind
		want    string
	}{
		{"escape", []entry{{"../evil.tif", img, 0}, {"a.tif", img, 0}}, zoo.Invalid, "unsafe name"},
		{"absolute", []entry{{"/etc/evil.tif", img, 0}, {"a.tif", img, 0}}, zoo.Invalid, "unsafe name"},
		{"backslash", []entry{{`images\..\..\x.tif`, img, 0}, {"a.tif", img, 0}}, zoo.Invalid, "unsafe name"},
		{"deep folder", []entry{{"x/y/a.tif", img, 0}, {"a.tif", img, 0}}, zoo.Invalid, "folder zoo does not read"},
		{"other folder", []entry{{"data/a.tif", img, 0}, {"b.tif", img, 0}}, zoo.Invalid, "folder zoo does not read"},
		{"not an image", []entry{{"a.exe", img, 0}, {"b.tif", img, 0}}, zoo.Invalid, "not an image"},
		{"link", []entry{{"a.tif", []byte("/etc/passwd"), os.ModeSymlink | 0o777}, {"b.tif", img, 0}}, zoo.Invalid, "not a plain file"},
		{"duplicate", []entry{{"a.tif", img, 0}, {"images/a.tif", img, 0}}, zoo.Invalid, "two images named a.tif"},
		{"one image", []entry{{"a.tif", img, 0}}, zoo.Invalid, "at least 2"},
		{"bomb", []entry{{"a.npy", big, 0}, {"b.npy", big, 0}}, zoo.TooLarge, "larger than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			_, err := ReadData(writeZip(t, c.entries...), filepath.Join(dir, "out"), DataLimits{MaxBytes: 1 << 20})
			if zoo.KindOf(err) != c.kind || !strings.Contains(zoo.MessageOf(err), c.want) {
				t.Errorf("got %v (%v), want %v with %q", err, zoo.KindOf(err), c.kind, c.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "evil.tif")); err == nil {
				t.Error("a file was written outside the folder")
			}
		})
	}
	if _, err := ReadData(filepath.Join(t.TempDir(), "none.zip"), "", DataLimits{}); zoo.KindOf(err) != zoo.Invalid {
		t.Errorf("missing zip: %v", err)
	}
	many := []entry{}
	for i := range 12 {
		many = append(many, entry{strings.Repeat("a", i+1) + ".tif", img, 0})
	}
	if _, err := ReadData(writeZip(t, many...), "", DataLimits{MaxImages: 10}); zoo.KindOf(err) != zoo.TooLarge {
		t.Errorf("12 images under a limit of 10: %v", err)
	}
}

func FuzzReadData(f *testing.F) {
	f.Add([]byte("PK\x03\x04"))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("images/a.tif")
	w.Write([]byte("abc"))
	w, _ = zw.Create("masks/a.tif")
	w.Write([]byte("abc"))
	zw.Close()
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, "in.zip")
		os.WriteFile(p, data, 0o644)
		out := filepath.Join(dir, "out")
		d, err := ReadData(p, out, DataLimits{MaxImages: 20, MaxBytes: 1 << 16})
		if err == nil && len(d.Images) < 2 {
			t.Errorf("accepted %d images", len(d.Images))
		}
		filepath.Walk(dir, func(q string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() && q != p && !strings.HasPrefix(q, out+string(filepath.Separator)) {
				t.Errorf("wrote %s outside the folder", q)
			}
			return nil
		})
	})
}

func TestParseSubmission(t *testing.T) {
	get := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	s, err := ParseSubmission(get(map[string]string{"model": "eager-alpaca/2", "iterations": "50", "lr": "0.001", "seed": "-3", "task": "segment", "publish_data": "true", "target": "my-model"}))
	if err != nil || s.Model != "eager-alpaca" || s.Version != 2 || s.Settings.Iterations != 50 || s.Settings.LR != 0.001 || s.Settings.Seed != -3 || s.Settings.Task != "segment" || !s.PublishData || s.Target != "my-model" {
		t.Errorf("%+v %v", s, err)
	}
	for _, bad := range []map[string]string{
		{}, {"model": "x/0"}, {"model": "x/a"}, {"model": "x", "iterations": "0"}, {"model": "x", "lr": "2"},
		{"model": "x", "lr": "NaN"}, {"model": "x", "task": "paint"}, {"model": "x", "publish_data": "maybe"}, {"model": "x", "seed": "1.5"},
	} {
		if _, err := ParseSubmission(get(bad)); zoo.KindOf(err) != zoo.Invalid {
			t.Errorf("%v: %v, want Invalid", bad, err)
		}
	}
}
