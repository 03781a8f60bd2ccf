// Package libfind locates the shared libraries zoo loads at run time (ONNX
// Runtime, the TorchScript shim) without any configuration: next to the
// executable, in the project's lib/ folder, then in the system folders.
package libfind

import (
	"os"
	"path/filepath"
)

// Find returns the first existing file among the places a library named
// name may be, in this order: lib/ beside the executable (symlinks
// resolved), ../lib from it (bin/zoo → lib/), lib/ in the Go module root
// above the working directory (tests), then /usr/local/lib and /usr/lib,
// where systemNames are tried after name. It returns "" and every place it
// tried when none exists.
func Find(name string, systemNames ...string) (path string, tried []string) {
	var candidates []string
	if exe, err := os.Executable(); err == nil {
		if r, err := filepath.EvalSymlinks(exe); err == nil {
			exe = r
		}
		dir := filepath.Dir(exe)
		candidates = append(candidates, filepath.Join(dir, "lib", name), filepath.Join(dir, "..", "lib", name))
	}
	if root := ModuleRoot(); root != "" {
		candidates = append(candidates, filepath.Join(root, "lib", name))
	}
	for _, dir := range []string{"/usr/local/lib", "/usr/lib"} {
		for _, n := range append([]string{name}, systemNames...) {
			candidates = append(candidates, filepath.Join(dir, n))
		}
	}
	for _, c := range candidates {
		c = filepath.Clean(c)
		if IsFile(c) {
			return c, nil
		}
		tried = append(tried, c)
	}
	return "", tried
}

// ModuleRoot walks up from the working directory to the first directory
// holding a go.mod, or returns "".
func ModuleRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if IsFile(filepath.Join(dir, "go.mod")) {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

// IsFile reports whether p is a regular file.
func IsFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
