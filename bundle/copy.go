package bundle

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/zoo-bioimage/zoo"
)

// CopyTo writes the package at src (a folder, a zip, or a description in
// its package folder) into the folder out (made if missing), through
// OpenDir's and OpenZip's limits and name checks, and returns the
// description's name there. Files already in out are not overwritten (an
// error).
func CopyTo(src, out string) (string, error) {
	const op = "bundle.CopyTo"
	fi, err := os.Stat(src)
	if err != nil {
		return "", zoo.E(op, zoo.NotFound, err, "cannot open %s", src)
	}
	var pkg *Package
	descName := ""
	switch {
	case fi.IsDir():
		pkg, err = OpenDir(src, Limits{})
	case strings.HasSuffix(strings.ToLower(src), ".zip"):
		f, ferr := os.Open(src)
		if ferr != nil {
			return "", zoo.E(op, zoo.NotFound, ferr, "cannot open %s", src)
		}
		defer f.Close()
		pkg, err = OpenZip(f, fi.Size(), Limits{})
	default: // a description in its package folder
		pkg, err = OpenDir(filepath.Dir(src), Limits{})
		if err == nil {
			descName = filepath.Base(src)
		}
	}
	if err != nil {
		return "", err
	}
	defer pkg.Close()
	if descName == "" {
		descName, _ = pkg.Description()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", zoo.E(op, zoo.Internal, err, "cannot make %s", out)
	}
	for _, f := range pkg.Files() {
		dst := filepath.Join(out, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", zoo.E(op, zoo.Internal, err, "cannot make %s", filepath.Dir(dst))
		}
		r, err := pkg.Open(f.Path)
		if err != nil {
			return "", zoo.E(op, zoo.Invalid, err, "cannot read %s", f.Path)
		}
		w, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			_, err = io.Copy(w, r)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
		r.Close()
		if err != nil {
			return "", zoo.E(op, zoo.Internal, err, "cannot write %s", dst)
		}
	}
	return descName, nil
}
