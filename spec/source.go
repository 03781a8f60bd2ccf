package spec

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DescriptionNames are the file names of a description inside a package, in
// order of preference (reference §1.1); names ending in "."+name also count.
var DescriptionNames = []string{"rdf.yaml", "bioimageio.yaml", "model.yaml"}

// FindDescription picks the description among the file names of a package
// folder (top level only), or returns "".
func FindDescription(names []string) string {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	for _, want := range DescriptionNames {
		for _, n := range sorted {
			if n == want || strings.HasSuffix(n, "."+want) {
				return n
			}
		}
	}
	return ""
}

// Source is a description opened from a path, with the file system its
// relative file references resolve against.
type Source struct {
	Name string // what the user gave
	YAML []byte
	FS   fs.FS  // package contents
	Root string // local folder, "" for a zip
}

// MaxZipDescription bounds the description read from a zip.
const maxZipEntries = 10000

// OpenSource opens a description yaml, a package folder or a package zip.
func OpenSource(path string) (*Source, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open %s: %w", path, err)
	}
	if st.IsDir() {
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, e := range entries {
			if !e.IsDir() {
				names = append(names, e.Name())
			}
		}
		name := FindDescription(names)
		if name == "" {
			return nil, fmt.Errorf("%s has no description: expected one of %s in the folder", path, strings.Join(DescriptionNames, ", "))
		}
		data, err := readLimited(filepath.Join(path, name))
		if err != nil {
			return nil, err
		}
		return &Source{Name: path, YAML: data, FS: os.DirFS(path), Root: path}, nil
	}
	if isZip(path) {
		return openZip(path, st.Size())
	}
	data, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	return &Source{Name: path, YAML: data, FS: os.DirFS(dir), Root: dir}, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Read one byte past the limit so the parser reports the size clearly.
	return io.ReadAll(io.LimitReader(f, int64(DefaultLimits.MaxBytes)+1))
}

func isZip(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	if _, err := io.ReadFull(f, magic[:]); err != nil {
		return false
	}
	return bytes.Equal(magic[:], []byte("PK\x03\x04")) || bytes.Equal(magic[:], []byte("PK\x05\x06"))
}

func openZip(path string, size int64) (*Source, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(f, size)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s is not a readable zip: %w", path, err)
	}
	if len(zr.File) > maxZipEntries {
		f.Close()
		return nil, fmt.Errorf("%s has %d entries; a package may have at most %d", path, len(zr.File), maxZipEntries)
	}
	var names []string
	for _, zf := range zr.File {
		if !strings.Contains(zf.Name, "/") {
			names = append(names, zf.Name)
		}
	}
	var pkg fs.FS = zr
	name := FindDescription(names)
	if name == "" {
		// A folder zipped the usual way (zip -r pkg.zip pkg/; macOS adds
		// __MACOSX/): its contents are the package.
		if dir := zipSingleFolder(zr); dir != "" {
			if sub, err := fs.Sub(zr, dir); err == nil {
				pkg = sub
				names = names[:0]
				for _, zf := range zr.File {
					if rest, ok := strings.CutPrefix(zf.Name, dir+"/"); ok && !strings.Contains(rest, "/") {
						names = append(names, rest)
					}
				}
				name = FindDescription(names)
			}
		}
	}
	if name == "" {
		f.Close()
		return nil, fmt.Errorf("%s has no description at its top level: expected one of %s", path, strings.Join(DescriptionNames, ", "))
	}
	r, err := pkg.Open(name)
	if err != nil {
		f.Close()
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(r, int64(DefaultLimits.MaxBytes)+1))
	r.Close()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("reading %s in %s: %w", name, path, err)
	}
	// The file stays open for the file checks; it is closed when the
	// process ends (validation is short-lived).
	return &Source{Name: path, YAML: data, FS: pkg}, nil
}

// zipSingleFolder returns NAME when every entry of zr (but macOS's
// __MACOSX/ resource forks) sits in the one top-level folder NAME.
func zipSingleFolder(zr *zip.Reader) string {
	dir := ""
	for _, zf := range zr.File {
		if strings.HasPrefix(zf.Name, "__MACOSX/") {
			continue
		}
		d, _, ok := strings.Cut(zf.Name, "/")
		if !ok || d == "" || (dir != "" && d != dir) {
			return ""
		}
		dir = d
	}
	return dir
}

// ValidatePath validates a description yaml, a package folder or a package
// zip. With opts.Files, the package's files are checked too.
func ValidatePath(path string, opts Options) *Result {
	src, err := OpenSource(path)
	if err != nil {
		rep := &Report{Source: path, Type: "unknown", FormatVersion: "unknown"}
		rep.Errors = []Problem{{Msg: err.Error(), Severity: Error}}
		rep.finish()
		return &Result{Report: rep}
	}
	if opts.Files {
		opts.FS = src.FS
	}
	return Validate(src.YAML, path, opts)
}
