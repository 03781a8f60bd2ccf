package bundle

import (
	"archive/zip"
	"bytes"
	"errors"
	"hash/crc32"
	"io/fs"
	"reflect"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/spec"
)

// FuzzOpenZip: any bytes either open as a package that keeps every promise
// (safe names, limits, sizes and hashes that match the content, a zip
// Write turns into the same files) or fail with a zoo error naming why.
func FuzzOpenZip(f *testing.F) {
	lim := Limits{MaxFiles: 64, MaxFileSize: 4 << 20, MaxTotalSize: 8 << 20, MaxRatio: 200}
	f.Add(makeZip(f, desc, zent{name: "data/test_input.npy", data: strings.Repeat("npy", 100)}, zent{name: "README.md", data: "# x"}))
	f.Add(makeZip(f, zent{name: "x.bioimageio.yaml", data: minimalYAML}, zent{name: "w.onnx", data: "w", edit: func(h *zip.FileHeader) { h.Method = zip.Store }}))
	f.Add(makeZip(f, desc, zent{name: "../evil", data: "x"}))
	f.Add(makeZip(f, desc, zent{name: "a", data: "1"}, zent{name: "A", data: "2"}))
	f.Add(makeZip(f, desc, zent{name: "link", data: "/etc/passwd", mode: fs.ModeSymlink | 0o777}))
	f.Add(makeZip(f, desc, zent{name: "e", data: "x", edit: func(h *zip.FileHeader) { h.Flags |= 1 }}))
	f.Add(makeZip(f))
	bomb := zeroDeflate(f, 2)
	f.Add(makeZip(f, desc, zent{name: "bomb", data: string(bomb), raw: true, edit: func(h *zip.FileHeader) {
		h.Method, h.CompressedSize64, h.UncompressedSize64, h.CRC32 = zip.Deflate, uint64(len(bomb)), 1024, crc32.ChecksumIEEE(make([]byte, 1024))
	}}))
	if dir := fixtures.Optional(f, "packages", "upsample-onnx"); dir != "" {
		if pkg, _, err := Build(dir, BuildOptions{}); err == nil {
			var buf bytes.Buffer
			Write(&buf, pkg)
			pkg.Close()
			f.Add(buf.Bytes())
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		pkg, err := openBytes(data, lim)
		if err != nil {
			var ze *zoo.Error
			if !errors.As(err, &ze) || ze.Message == "" {
				t.Fatalf("not a zoo error with a message: %v", err)
			}
			if ze.Kind != zoo.Invalid && ze.Kind != zoo.TooLarge && ze.Kind != zoo.NotSupported {
				t.Fatalf("kind %v: %v", ze.Kind, err)
			}
			return
		}
		files := pkg.Files()
		if len(files) == 0 || len(files) > lim.MaxFiles {
			t.Fatalf("%d files", len(files))
		}
		name, text := pkg.Description()
		if strings.Contains(name, "/") || spec.FindDescription([]string{name}) == "" {
			t.Fatalf("description %q", name)
		}
		var total int64
		folded := map[string]bool{}
		for _, f := range files {
			if why := checkName(f.Path); why != "" {
				t.Fatalf("%q %s", f.Path, why)
			}
			if folded[fold(f.Path)] {
				t.Fatalf("%q clashes", f.Path)
			}
			folded[fold(f.Path)] = true
			b, err := fs.ReadFile(pkg, f.Path)
			if err != nil {
				t.Fatalf("%s: %v", f.Path, err)
			}
			if int64(len(b)) != f.Size || sha256Hex(b) != f.SHA256 || f.Size > lim.MaxFileSize {
				t.Fatalf("%s: %d bytes, recorded %d", f.Path, len(b), f.Size)
			}
			if f.Path == name && !bytes.Equal(b, text) {
				t.Fatal("description text differs from its file")
			}
			total += f.Size
		}
		if total > lim.MaxTotalSize {
			t.Fatalf("%d bytes in all", total)
		}
		var out bytes.Buffer
		if _, _, err := Write(&out, pkg); err != nil {
			if zoo.KindOf(err) != zoo.Invalid { // a file named like rdf.yaml besides another description
				t.Fatal(err)
			}
			return
		}
		again, err := openBytes(out.Bytes(), lim)
		if err != nil {
			t.Fatalf("the written zip does not open: %v", err)
		}
		if n, d := again.Description(); n != DescriptionName || !bytes.Equal(d, text) {
			t.Fatalf("the written zip's description is %s", n)
		}
		want := map[string]zoo.File{}
		for _, f := range files {
			if f.Path == name {
				f.Path = DescriptionName
			}
			want[f.Path] = f
		}
		got := map[string]zoo.File{}
		for _, f := range again.Files() {
			got[f.Path] = f
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("files after Write:\n%v\nwant\n%v", got, want)
		}
		var out2 bytes.Buffer
		Write(&out2, again)
		if !bytes.Equal(out.Bytes(), out2.Bytes()) {
			t.Fatal("writing a written package again changes it")
		}
	})
}
