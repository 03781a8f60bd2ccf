// Package onnx runs ONNX models with ONNX Runtime (ORT) on the CPU. It is
// zoo's only cgo boundary: everything above it sees tensor.Tensor values.
//
// The ORT shared library is loaded at run time (dlopen) the first time a
// model is loaded; see Init for where it is looked for. No environment
// variable is needed when the library was installed by
// scripts/install-onnxruntime.sh (which `make build` runs).
package onnx

import (
	"fmt"
	"os"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/libfind"
)

// LibEnv names the environment variable that overrides where the ORT
// shared library is looked for.
const LibEnv = "ZOO_ONNXRUNTIME_LIB"

// libName is the file name scripts/install-onnxruntime.sh installs.
const libName = "libonnxruntime.so.1"

var (
	initMu   sync.Mutex
	initDone bool   // the ORT environment is up; never torn down
	initPath string // the library that was loaded
)

// Init loads the ORT shared library and creates the process-wide ORT
// environment. It is safe to call from many goroutines and does the work
// once; Load calls it, so callers need it only to check the installation
// early (e.g. at server start) or to learn the library's path.
//
// The library is the first of these that exists:
//
//  1. $ZOO_ONNXRUNTIME_LIB (if set, it must exist: nothing else is tried);
//  2. lib/libonnxruntime.so.1 beside the executable, then one directory up
//     (bin/zoo → lib/), after resolving symlinks to the executable;
//  3. lib/libonnxruntime.so.1 in the project root, found by walking up from
//     the working directory to the first go.mod (this serves `go test`);
//  4. /usr/local/lib, then /usr/lib (libonnxruntime.so.1, then
//     libonnxruntime.so).
//
// The library must be ONNX Runtime 1.24 or newer (C API version 24). A
// failure is not remembered: a later call looks again, so an operator can
// install the library without restarting a server.
func Init() error {
	initMu.Lock()
	defer initMu.Unlock()
	if initDone {
		return nil
	}
	const op = "onnx.Init"
	path, tried, err := findLibrary()
	if err != nil {
		return err
	}
	if path == "" {
		return zoo.E(op, zoo.Internal, nil,
			"the ONNX Runtime library was not found (looked at %s); run `make build` or scripts/install-onnxruntime.sh to install it, or set %s to its path",
			strings.Join(tried, ", "), LibEnv)
	}
	ort.SetSharedLibraryPath(path)
	// ORT's own log goes to stderr; errors reach callers as Go errors, so
	// keep it quiet but for fatal conditions.
	if err := ort.InitializeEnvironment(ort.WithLogLevelFatal()); err != nil {
		return zoo.E(op, zoo.Internal, err,
			"cannot load the ONNX Runtime library %s (zoo needs ONNX Runtime 1.24 or newer; run scripts/install-onnxruntime.sh for the tested 1.30.0)", path)
	}
	initDone, initPath = true, path
	return nil
}

// LibraryPath returns the path of the loaded ORT library, or "" before a
// successful Init.
func LibraryPath() string {
	initMu.Lock()
	defer initMu.Unlock()
	return initPath
}

// Version returns the version of the loaded ORT library (e.g. "1.30.0"),
// or "" before a successful Init.
func Version() string {
	initMu.Lock()
	defer initMu.Unlock()
	if !initDone {
		return ""
	}
	return ort.GetVersion()
}

// findLibrary returns the first existing candidate (see Init), or "" and the
// list of places it tried. The error is non-nil only when $ZOO_ONNXRUNTIME_LIB
// names a file that does not exist.
func findLibrary() (path string, tried []string, err error) {
	if p := os.Getenv(LibEnv); p != "" {
		if libfind.IsFile(p) {
			return p, nil, nil
		}
		return "", nil, zoo.E("onnx.Init", zoo.Internal, nil,
			"%s=%s: no such file; unset it to use the library installed by scripts/install-onnxruntime.sh", LibEnv, p)
	}
	path, tried = libfind.Find(libName, "libonnxruntime.so")
	return path, tried, nil
}

// fmtShape formats a model shape with "?" for dynamic dimensions.
func fmtShape(s []int64) string {
	if s == nil {
		return "[any rank]"
	}
	parts := make([]string, len(s))
	for i, d := range s {
		if d < 0 {
			parts[i] = "?"
		} else {
			parts[i] = fmt.Sprint(d)
		}
	}
	return "[" + strings.Join(parts, " ") + "]"
}
