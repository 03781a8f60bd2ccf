package bundle

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
)

var desc = zent{name: "rdf.yaml", data: minimalYAML}

func TestOpenZipUnsafeNames(t *testing.T) {
	for _, name := range []string{
		"../evil.txt",
		"a/../../evil.txt",
		"a/..",
		"..",
		"/etc/passwd",
		"//server/share/x",
		`..\..\evil.txt`,
		`a\b.txt`,
		"C:/Windows/evil.dll",
		`C:\evil.txt`,
		"c:evil.txt",
		"file.txt:stream",
		"./a.txt",
		"a/./b.txt",
		"a//b.txt",
		"a\x00b.txt",
		"a\nb.txt",
		"bad\xff.txt",
		string(bytes.Repeat([]byte("a"), 300)),
	} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			_, err := openBytes(makeZip(t, desc, zent{name: name, data: "x"}), Limits{})
			wantErr(t, err, zoo.Invalid, fmt.Sprintf("%q", name))
		})
	}
}

func TestOpenZipLinksAndSpecialFiles(t *testing.T) {
	for _, c := range []struct {
		mode fs.FileMode
		want string
	}{
		{fs.ModeSymlink | 0o777, "symbolic link"},
		{fs.ModeNamedPipe | 0o644, "not a regular file"},
		{fs.ModeDevice | 0o644, "not a regular file"},
		{fs.ModeSocket | 0o644, "not a regular file"},
	} {
		t.Run(c.want, func(t *testing.T) {
			z := makeZip(t, desc, zent{name: "weights.onnx", data: "/etc/passwd", mode: c.mode})
			_, err := openBytes(z, Limits{})
			wantErr(t, err, zoo.Invalid, `"weights.onnx"`, c.want)
		})
	}
	// A link named like the description is refused too.
	_, err := openBytes(makeZip(t, zent{name: "rdf.yaml", data: "../../x.yaml", mode: fs.ModeSymlink | 0o777}), Limits{})
	wantErr(t, err, zoo.Invalid, "symbolic link")
}

func TestOpenZipDuplicateNames(t *testing.T) {
	for _, c := range []struct {
		name string
		ents []zent
		want string
	}{
		{"exact", []zent{desc, {name: "a.npy", data: "1"}, {name: "a.npy", data: "2"}}, `"a.npy" appears twice`},
		{"case", []zent{desc, {name: "Weights.onnx", data: "1"}, {name: "weights.onnx", data: "2"}}, "differ only in case"},
		{"case in folder", []zent{desc, {name: "Data/x", data: "1"}, {name: "data/X", data: "2"}}, "differ only in case"},
		{"unicode case", []zent{desc, {name: "ÄRGER.md", data: "1"}, {name: "ärger.md", data: "2"}}, "differ only in case"},
		{"description twice", []zent{desc, {name: "RDF.yaml", data: "x"}}, "differ only in case"},
		{"file then folder", []zent{desc, {name: "a", data: "1"}, {name: "a/b", data: "2"}}, "both a file and a folder"},
		{"folder then file", []zent{desc, {name: "a/b", data: "1"}, {name: "A", data: "2"}}, "both a file and a folder"},
		{"folder entry then file", []zent{desc, {name: "a/", mode: fs.ModeDir | 0o755}, {name: "a", data: "2"}}, "both a file and a folder"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := openBytes(makeZip(t, c.ents...), Limits{})
			wantErr(t, err, zoo.Invalid, c.want)
		})
	}
}

func TestOpenZipEncryptedAndMethods(t *testing.T) {
	z := makeZip(t, desc, zent{name: "secret.npy", data: "x", edit: func(h *zip.FileHeader) { h.Flags |= 0x1 }})
	_, err := openBytes(z, Limits{})
	wantErr(t, err, zoo.NotSupported, `"secret.npy"`, "encrypted")

	lzma := makeZip(t, desc, zent{name: "w.onnx", data: "xxxx", raw: true, edit: func(h *zip.FileHeader) {
		h.Method = 14
		h.CompressedSize64, h.UncompressedSize64 = 4, 4
	}})
	_, err = openBytes(lzma, Limits{})
	wantErr(t, err, zoo.NotSupported, `"w.onnx"`, "compression method 14")
}

// TestOpenZipBombStopsAtDeclaredSize: an entry of about 1 MiB that inflates
// to 1 GiB while the central directory declares 1 KiB. Reading must stop
// right past the declared size and allocate little.
func TestOpenZipBombStopsAtDeclaredSize(t *testing.T) {
	bomb := zeroDeflate(t, 1024)
	z := makeZip(t, desc, zent{name: "bomb.npy", data: string(bomb), raw: true, edit: func(h *zip.FileHeader) {
		h.Method = zip.Deflate
		h.CompressedSize64 = uint64(len(bomb))
		h.UncompressedSize64 = 1024
		h.CRC32 = crc32.ChecksumIEEE(make([]byte, 1024))
	}})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	_, err := openBytes(z, Limits{})
	elapsed := time.Since(start)
	runtime.ReadMemStats(&after)
	wantErr(t, err, zoo.Invalid, `"bomb.npy"`, "more bytes than the zip declares")
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("allocated %d bytes; reading must stop at the declared size", alloc)
	}
	if elapsed > 2*time.Second {
		t.Errorf("took %v; reading must stop at the declared size", elapsed)
	}
	t.Logf("compressed %d bytes (inflates to 1 GiB), refused in %v", len(bomb), elapsed)
}

// TestOpenZipBombHonestHeader: the same entry declaring its real size is
// refused by the ratio before any byte is inflated, and by the file size
// limit when the ratio is allowed.
func TestOpenZipBombHonestHeader(t *testing.T) {
	bomb := zeroDeflate(t, 1024)
	z := makeZip(t, desc, zent{name: "bomb.npy", data: string(bomb), raw: true, edit: func(h *zip.FileHeader) {
		h.Method = zip.Deflate
		h.CompressedSize64 = uint64(len(bomb))
		h.UncompressedSize64 = 1 << 30
	}})
	_, err := openBytes(z, Limits{})
	wantErr(t, err, zoo.TooLarge, `"bomb.npy"`, "200:1")
	_, err = openBytes(z, Limits{MaxRatio: 1e6, MaxFileSize: 64 << 20})
	wantErr(t, err, zoo.TooLarge, `"bomb.npy"`, "at most 67108864")
	_, err = openBytes(z, Limits{MaxRatio: 1e6, MaxTotalSize: 512 << 20})
	wantErr(t, err, zoo.TooLarge, "add up to more than 536870912")
}

func TestOpenZipSizeLies(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	var comp bytes.Buffer
	fw, _ := flate.NewWriter(&comp, flate.DefaultCompression)
	fw.Write(content)
	fw.Close()
	crc := crc32.ChecksumIEEE(content)
	entry := func(name string, method uint16, data []byte, csize, usize uint64, crc uint32) zent {
		return zent{name: name, data: string(data), raw: true, edit: func(h *zip.FileHeader) {
			h.Method, h.CompressedSize64, h.UncompressedSize64, h.CRC32 = method, csize, usize, crc
		}}
	}
	n := uint64(len(content))
	for _, c := range []struct {
		name string
		e    zent
		want string
	}{
		{"deflate declares less", entry("a.npy", zip.Deflate, comp.Bytes(), uint64(comp.Len()), n-1, crc), "more bytes than the zip declares"},
		{"deflate declares more", entry("a.npy", zip.Deflate, comp.Bytes(), uint64(comp.Len()), n+1, crc), "fewer bytes than the zip declares"},
		{"store sizes disagree", entry("a.npy", zip.Store, content, n, n+100, crc), "declares"},
		{"bad crc", entry("a.npy", zip.Deflate, comp.Bytes(), uint64(comp.Len()), n, crc+1), "checksum"},
		{"compressed size past the end", entry("a.npy", zip.Deflate, comp.Bytes(), 1<<40, n, crc), "past the end"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := openBytes(makeZip(t, desc, c.e), Limits{})
			wantErr(t, err, zoo.Invalid, c.want)
		})
	}
	// the honest entry is fine
	if _, err := openBytes(makeZip(t, desc, entry("a.npy", zip.Deflate, comp.Bytes(), uint64(comp.Len()), n, crc)), Limits{}); err != nil {
		t.Fatal(err)
	}
}

func TestOpenZipOverlappingEntries(t *testing.T) {
	z := makeZip(t, desc, zent{name: "a.npy", data: "same data"}, zent{name: "b.npy", data: "same data"})
	hs := centralHeaders(z)
	if len(hs) != 3 {
		t.Fatalf("found %d central headers", len(hs))
	}
	// point b.npy's header at a.npy's local header: two files, one copy of the data
	copy(z[hs[2]+42:hs[2]+46], z[hs[1]+42:hs[1]+46])
	_, err := openBytes(z, Limits{})
	wantErr(t, err, zoo.Invalid, "share data")
}

func TestOpenZipTooManyFiles(t *testing.T) {
	ents := []zent{desc}
	for i := 0; i < 10; i++ {
		ents = append(ents, zent{name: fmt.Sprintf("f%d.txt", i)})
	}
	z := makeZip(t, ents...)
	_, err := openBytes(z, Limits{MaxFiles: 10})
	wantErr(t, err, zoo.TooLarge, "11 entries", "at most 10")
	if _, err := openBytes(z, Limits{MaxFiles: 11}); err != nil {
		t.Fatal(err)
	}

	// the default limit
	ents = ents[:1]
	for i := 0; i < DefaultLimits.MaxFiles; i++ {
		ents = append(ents, zent{name: fmt.Sprintf("f%d", i)})
	}
	_, err = openBytes(makeZip(t, ents...), Limits{})
	wantErr(t, err, zoo.TooLarge, "10001 entries")
}

// TestOpenZipHugeDirectory: 200,000 entries against a limit of 10 are refused
// before archive/zip parses (and allocates for) the whole directory.
func TestOpenZipHugeDirectory(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := 0; i < 200_000; i++ {
		zw.CreateRaw(&zip.FileHeader{Name: fmt.Sprint(i)})
	}
	zw.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := openBytes(buf.Bytes(), Limits{MaxFiles: 10})
	runtime.ReadMemStats(&after)
	wantErr(t, err, zoo.TooLarge, "at most 10 files")
	alloc := after.TotalAlloc - before.TotalAlloc
	if alloc > 8<<20 {
		t.Errorf("allocated %d bytes for a refused directory of %d bytes", alloc, buf.Len())
	}
	// for comparison: what parsing the whole directory costs
	runtime.ReadMemStats(&before)
	zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	runtime.ReadMemStats(&after)
	t.Logf("refused after allocating %d bytes; parsing the whole directory allocates %d", alloc, after.TotalAlloc-before.TotalAlloc)
}

func TestOpenZipNotAPackage(t *testing.T) {
	empty := makeZip(t)
	_, err := openBytes(empty, Limits{})
	wantErr(t, err, zoo.Invalid, "empty")

	for name, data := range map[string][]byte{
		"nothing":   nil,
		"text":      []byte(minimalYAML),
		"random":    bytes.Repeat([]byte{0x13, 0x37, 0xff}, 10000),
		"truncated": makeZip(t, desc, zent{name: "a.npy", data: "abc"})[:60],
		"only EOCD": {'P', 'K', 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := openBytes(data, Limits{})
			var ze *zoo.Error
			if err == nil || !errors.As(err, &ze) || (ze.Kind != zoo.Invalid) {
				t.Fatalf("got %v, want an Invalid zoo error", err)
			}
		})
	}

	_, err = openBytes(makeZip(t, zent{name: "weights.onnx", data: "x"}), Limits{})
	wantErr(t, err, zoo.Invalid, "no description at its top", "rdf.yaml")
	// A description below a folder among others is still refused.
	_, err = openBytes(makeZip(t, zent{name: "my-model/rdf.yaml", data: minimalYAML}, zent{name: "other/w.onnx", data: "x"}), Limits{})
	wantErr(t, err, zoo.Invalid, "inside the folder my-model/", "zip the folder's contents")
}

// A folder zipped the usual way (zip -r pkg.zip pkg/, or macOS's Compress
// with its __MACOSX/ resource forks) opens as the folder's contents.
func TestOpenZipSingleTopFolder(t *testing.T) {
	for name, z := range map[string][]byte{
		"zip -r": makeZip(t, zent{name: "my-model/rdf.yaml", data: minimalYAML}, zent{name: "my-model/w.onnx", data: "x"}, zent{name: "my-model/sub/a.npy", data: "y"}),
		"macOS":  makeZip(t, zent{name: "my-model/rdf.yaml", data: minimalYAML}, zent{name: "my-model/w.onnx", data: "x"}, zent{name: "__MACOSX/my-model/._w.onnx", data: "junk"}),
	} {
		t.Run(name, func(t *testing.T) {
			pkg, err := openBytes(z, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			var paths []string
			for _, f := range pkg.Files() {
				paths = append(paths, f.Path)
				if strings.Contains(f.Path, "my-model") || strings.Contains(f.Path, "MACOSX") {
					t.Errorf("file %s kept the folder or the resource fork", f.Path)
				}
			}
			if d, _ := pkg.Description(); d != "rdf.yaml" {
				t.Errorf("description %q among %v", d, paths)
			}
		})
	}
}

func TestOpenZipNestedZipIsAFile(t *testing.T) {
	inner := makeZip(t, zent{name: "../../evil", data: "x", mode: fs.ModeSymlink | 0o777})
	pkg, err := openBytes(makeZip(t, desc, zent{name: "weights.zip", data: string(inner)}), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	files := pkg.Files()
	if len(files) != 2 || files[1].Path != "weights.zip" || files[1].Size != int64(len(inner)) {
		t.Fatalf("files %+v", files)
	}
}

func TestOpenZipFolderEntries(t *testing.T) {
	pkg, err := openBytes(makeZip(t, desc, zent{name: "data/", mode: fs.ModeDir | 0o755}, zent{name: "data/x.npy", data: "x"}, zent{name: "empty/", mode: fs.ModeDir | 0o755}), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(pkg.Files()); got != 2 {
		t.Fatalf("%d files, want 2 (folders are implied by files)", got)
	}
	withContent := makeZip(t, desc, zent{name: "data/", data: "hidden", raw: true, edit: func(h *zip.FileHeader) {
		h.Method, h.CompressedSize64, h.UncompressedSize64, h.CRC32 = zip.Store, 6, 6, crc32.ChecksumIEEE([]byte("hidden"))
	}})
	_, err = openBytes(withContent, Limits{})
	wantErr(t, err, zoo.Invalid, "folder entry")
}

func TestOpenDirRefusesLinksAndClashes(t *testing.T) {
	mk := func(t *testing.T) string {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "rdf.yaml"), []byte(minimalYAML), 0o644)
		os.WriteFile(filepath.Join(dir, "w.onnx"), []byte("w"), 0o644)
		return dir
	}
	t.Run("ok", func(t *testing.T) {
		pkg, err := OpenDir(mk(t), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		defer pkg.Close()
		if name, data := pkg.Description(); name != "rdf.yaml" || string(data) != minimalYAML {
			t.Errorf("description %q %q", name, data)
		}
	})
	t.Run("file link", func(t *testing.T) {
		dir := mk(t)
		os.Symlink("/etc/passwd", filepath.Join(dir, "test_input.npy"))
		_, err := OpenDir(dir, Limits{})
		wantErr(t, err, zoo.Invalid, "test_input.npy is a symbolic link")
	})
	t.Run("folder link", func(t *testing.T) {
		dir := mk(t)
		os.Symlink("/", filepath.Join(dir, "data"))
		_, err := OpenDir(dir, Limits{})
		wantErr(t, err, zoo.Invalid, "data is a symbolic link")
	})
	t.Run("case", func(t *testing.T) {
		dir := mk(t)
		os.WriteFile(filepath.Join(dir, "W.onnx"), []byte("W"), 0o644)
		_, err := OpenDir(dir, Limits{})
		wantErr(t, err, zoo.Invalid, "differ only in case")
	})
	t.Run("backslash", func(t *testing.T) {
		dir := mk(t)
		os.WriteFile(filepath.Join(dir, `a\b`), []byte("x"), 0o644)
		_, err := OpenDir(dir, Limits{})
		wantErr(t, err, zoo.Invalid, "backslash")
	})
	t.Run("fifo", func(t *testing.T) {
		dir := mk(t)
		if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
			t.Skip(err)
		}
		_, err := OpenDir(dir, Limits{})
		wantErr(t, err, zoo.Invalid, "pipe is not a regular file")
	})
	t.Run("limits", func(t *testing.T) {
		dir := mk(t)
		os.WriteFile(filepath.Join(dir, "big"), make([]byte, 2000), 0o644)
		_, err := OpenDir(dir, Limits{MaxFileSize: 1000})
		wantErr(t, err, zoo.TooLarge, "big is 2000 bytes")
		_, err = OpenDir(dir, Limits{MaxTotalSize: 1500})
		wantErr(t, err, zoo.TooLarge, "add up to more than 1500")
		_, err = OpenDir(dir, Limits{MaxFiles: 2})
		wantErr(t, err, zoo.TooLarge, "more than 2 files")
	})
	t.Run("missing", func(t *testing.T) {
		_, err := OpenDir(filepath.Join(t.TempDir(), "nope"), Limits{})
		wantErr(t, err, zoo.NotFound)
	})
	t.Run("no description", func(t *testing.T) {
		dir := mk(t)
		os.Remove(filepath.Join(dir, "rdf.yaml"))
		_, err := OpenDir(dir, Limits{})
		wantErr(t, err, zoo.Invalid, "no description")
	})
}

// TestPackageDetectsChange: a file that changes after opening fails reads
// and Write with a Conflict instead of producing a package that lies.
func TestPackageDetectsChange(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rdf.yaml"), []byte(minimalYAML), 0o644)
	os.WriteFile(filepath.Join(dir, "w.onnx"), []byte("weights"), 0o644)
	pkg, err := OpenDir(dir, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer pkg.Close()
	os.WriteFile(filepath.Join(dir, "w.onnx"), []byte("WEIGHTS"), 0o644) // same size
	_, _, err = Write(&bytes.Buffer{}, pkg)
	wantErr(t, err, zoo.Conflict, "w.onnx changed")
	os.WriteFile(filepath.Join(dir, "w.onnx"), []byte("weights, longer"), 0o644)
	_, err = fs.ReadFile(pkg, "w.onnx")
	wantErr(t, err, zoo.Conflict, "w.onnx changed")
}
