// Package torch runs TorchScript modules with libtorch on the CPU, through
// zoo's own C shim (torch/shim, built into lib/libzootorch.so by
// scripts/build-torch-shim.sh, which `make build` runs where libtorch-dev is
// installed).
//
// The shim is a shared library of its own, loaded at run time with dlopen
// the first time a module is loaded, exactly as package onnx loads ONNX
// Runtime. zoo therefore builds everywhere (cgo needs only libdl) and starts
// everywhere: a binary linked against libtorch would load ~290 shared
// libraries at every start (0.45 s) and would not start at all where
// libtorch is absent. Without the shim or without libtorch, Available
// reports so cheaply (a file lookup and the shim's ELF dependencies, no
// dlopen) and Load fails with a zoo.NotSupported error whose message is
// NotInstalled.
//
// Everything above this package sees tensor.Tensor values; C++ exceptions
// never cross the boundary (the shim turns them into error strings).
package torch

import (
	"debug/elf"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/libfind"
)

// NotInstalled is the message (after "not supported: ") of the error for a
// TorchScript model on a zoo without libtorch or without the shim.
const NotInstalled = "torchscript needs libtorch (apt-get install libtorch-dev, then make build)"

// LibEnv names the environment variable that overrides where the shim is
// looked for. No variable is needed for a shim built by `make build`.
const LibEnv = "ZOO_TORCH_SHIM"

// libName is the file name scripts/build-torch-shim.sh builds.
const libName = "libzootorch.so"

var (
	initMu   sync.Mutex
	initDone bool   // the shim is loaded; never unloaded
	initPath string // the shim that was loaded
	version  string // libtorch version the shim was built against
)

// Available reports, without loading anything, whether TorchScript can run
// here: the shim is found (see Init) and the libtorch libraries it needs
// are present. A nil result means Load should work; otherwise the error is
// zoo.NotSupported with the message NotInstalled and the reason as cause.
// It is cheap (file lookups and the shim's ELF header), so a process may
// call it at start.
func Available() error {
	if initialised() {
		return nil
	}
	return check()
}

func initialised() bool {
	initMu.Lock()
	defer initMu.Unlock()
	return initDone
}

// check is Available without the shortcut for a loaded shim.
func check() error {
	path, tried, err := findLibrary()
	if err != nil {
		return notInstalled(err)
	}
	if path == "" {
		return notInstalled(zoo.E("", zoo.NotFound, nil, "%s not found (looked at %s)", libName, strings.Join(tried, ", ")))
	}
	if missing := missingDeps(path); len(missing) > 0 {
		return notInstalled(zoo.E("", zoo.NotFound, nil, "%s needs %s, which the dynamic loader cannot find", path, strings.Join(missing, ", ")))
	}
	return nil
}

func notInstalled(cause error) error {
	return zoo.E("torch", zoo.NotSupported, cause, "%s", NotInstalled)
}

// Init loads the shim (and with it libtorch) once. Load calls it. The shim
// is the first of these that exists:
//
//  1. $ZOO_TORCH_SHIM (if set, it must exist: nothing else is tried);
//  2. lib/libzootorch.so beside the executable, then one directory up
//     (bin/zoo → lib/), after resolving symlinks to the executable;
//  3. lib/libzootorch.so in the project root, found by walking up from the
//     working directory to the first go.mod (this serves `go test`);
//  4. /usr/local/lib, then /usr/lib.
//
// A failure is not remembered: a later call looks again, so libtorch can be
// installed without restarting a server.
func Init() error {
	initMu.Lock()
	defer initMu.Unlock()
	if initDone {
		return nil
	}
	path, tried, err := findLibrary()
	if err != nil {
		return notInstalled(err)
	}
	if path == "" {
		return notInstalled(zoo.E("", zoo.NotFound, nil, "%s not found (looked at %s)", libName, strings.Join(tried, ", ")))
	}
	v, err := openShim(path)
	if err != nil {
		return err
	}
	initDone, initPath, version = true, path, v
	return nil
}

// LibraryPath returns the path of the loaded shim, or "" before a
// successful Init.
func LibraryPath() string {
	initMu.Lock()
	defer initMu.Unlock()
	return initPath
}

// Version returns the libtorch version the loaded shim was built against
// (e.g. "1.13.0"), or "" before a successful Init.
func Version() string {
	initMu.Lock()
	defer initMu.Unlock()
	return version
}

// findLibrary returns the first existing candidate (see Init), or "" and
// the places it tried. The error is non-nil only when $ZOO_TORCH_SHIM names
// a file that does not exist.
func findLibrary() (path string, tried []string, err error) {
	if p := os.Getenv(LibEnv); p != "" {
		if libfind.IsFile(p) {
			return p, nil, nil
		}
		return "", nil, zoo.E("", zoo.NotFound, nil, "%s=%s: no such file", LibEnv, p)
	}
	path, tried = libfind.Find(libName)
	return path, tried, nil
}

// missingDeps returns the libtorch libraries (libtorch*, libc10*) the shim
// at path needs that are in none of the loader's directories: its RUNPATH,
// $LD_LIBRARY_PATH, /etc/ld.so.conf's and the default ones. An unreadable
// shim is reported as missing itself.
func missingDeps(path string) []string {
	f, err := elf.Open(path)
	if err != nil {
		return []string{path + " (not a readable shared library)"}
	}
	defer f.Close()
	needed, err := f.ImportedLibraries()
	if err != nil {
		return []string{path + " (not a readable shared library)"}
	}
	var dirs []string
	for _, tag := range []elf.DynTag{elf.DT_RUNPATH, elf.DT_RPATH} {
		if v, err := f.DynString(tag); err == nil {
			for _, s := range v {
				for _, d := range filepath.SplitList(s) {
					dirs = append(dirs, strings.ReplaceAll(d, "$ORIGIN", filepath.Dir(path)))
				}
			}
		}
	}
	dirs = append(dirs, filepath.SplitList(os.Getenv("LD_LIBRARY_PATH"))...)
	dirs = append(dirs, ldConfDirs("/etc/ld.so.conf", 0)...)
	dirs = append(dirs, "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
		"/lib64", "/usr/lib64", "/lib", "/usr/lib", "/usr/local/lib")
	var missing []string
	for _, lib := range needed {
		if !strings.HasPrefix(lib, "libtorch") && !strings.HasPrefix(lib, "libc10") {
			continue
		}
		found := false
		for _, d := range dirs {
			if d != "" && libfind.IsFile(filepath.Join(d, lib)) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, lib)
		}
	}
	return missing
}

// ldConfDirs returns the directories an ld.so.conf file lists, following
// its include lines (globs) to a small depth.
func ldConfDirs(name string, depth int) []string {
	b, err := os.ReadFile(name)
	if err != nil || depth > 3 {
		return nil
	}
	var dirs []string
	for _, line := range strings.Split(string(b), "\n") {
		line, _, _ = strings.Cut(line, "#")
		line = strings.TrimSpace(line)
		if rest, ok := strings.CutPrefix(line, "include "); ok {
			for _, pat := range strings.Fields(rest) {
				if !filepath.IsAbs(pat) {
					pat = filepath.Join(filepath.Dir(name), pat)
				}
				matches, _ := filepath.Glob(pat)
				for _, m := range matches {
					dirs = append(dirs, ldConfDirs(m, depth+1)...)
				}
			}
			continue
		}
		if line != "" {
			dirs = append(dirs, line)
		}
	}
	return dirs
}
