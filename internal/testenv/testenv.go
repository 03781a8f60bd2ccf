// Package testenv decides what a test does when something it needs from the
// machine is missing — the shared fixtures, a run-time library, a test
// server, a browser, PyTorch, the npm test clients — so that every such test
// behaves the same way and says what to install.
//
// The switch is ZOO_TEST_STRICT. When strict, a missing dependency FAILS the
// test; otherwise the test is skipped. Either way the message names the
// dependency, why it was judged missing, and what to install or run.
//
//   - ZOO_TEST_STRICT=1 (or true): strict. `make test` sets it, and .ci/run
//     runs `make test`.
//   - ZOO_TEST_STRICT=0 (or false): never strict, even under CI (a developer
//     running `make test ZOO_TEST_STRICT=0` on a machine without Chromium).
//   - unset: strict when CI is set to anything but "", "0" or "false" (every
//     CI service sets CI), so `CI=1 go test ./...` is strict too.
//
// Skips that are not about a missing dependency (testing.Short, a platform
// that cannot make a FIFO or a sparse file, a backend that lacks an optional
// interface) stay plain t.Skip calls at their sites.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/libfind"
)

// StrictEnv names the switch (see the package comment).
const StrictEnv = "ZOO_TEST_STRICT"

// Strict reports whether a missing dependency fails a test instead of
// skipping it: ZOO_TEST_STRICT when set, else whether CI is set.
func Strict() bool {
	if v, ok := os.LookupEnv(StrictEnv); ok && v != "" {
		return truthy(v)
	}
	return truthy(os.Getenv("CI"))
}

func truthy(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "0", "false", "no", "off":
		return false
	}
	return true
}

// Dep is something a test needs from the machine: what it is, in words,
// and what a person does to provide it.
type Dep struct {
	Name    string // e.g. "ONNX Runtime"
	Install string // e.g. "run make build (scripts/install-onnxruntime.sh)"
}

// The dependencies zoo's tests have. .ci/run installs or starts every one.
var (
	Fixtures = Dep{"the shared test fixtures",
		"put them in ../shared/fixtures beside the project root, or name their folder with ZOO_FIXTURES"}
	ONNXRuntime = Dep{"ONNX Runtime (lib/libonnxruntime.so.1)",
		"run make build (it runs scripts/install-onnxruntime.sh)"}
	Libtorch = Dep{"libtorch and zoo's TorchScript shim (lib/libzootorch.so)",
		"apt-get install libtorch-dev g++, then make build"}
	PyTorch = Dep{"Debian's PyTorch for /usr/bin/python3",
		"apt-get install python3-torch python3-onnx"}
	Sandbox = Dep{"the sandbox for untrusted programs (bubblewrap, prlimit, python3)",
		"apt-get install bubblewrap util-linux python3"}
	PostgreSQL = Dep{"a PostgreSQL test server",
		`apt-get install postgresql, then run the tests through scripts/with-test-services.sh (make test does), or eval "$(scripts/pg-server.sh start)"`}
	S3 = Dep{"an S3 test server",
		`run the tests through scripts/with-test-services.sh (make test does), or eval "$(scripts/s3-server.sh start)"`}
	Chromium   = Dep{"Chromium (browser tests)", "apt-get install chromium"}
	NPMClients = Dep{"the npm test clients and node (ZOO_TEST_NPM, ZOO_TEST_HFJS)",
		"apt-get install nodejs npm, run scripts/install-test-clients.sh and set ZOO_TEST_NPM and ZOO_TEST_HFJS to the folder it prints (make test uses .tools/npm)"}
	GCC     = Dep{"gcc", "apt-get install gcc"}
	XMLLint = Dep{"xmllint", "apt-get install libxml2-utils"}
	// DeployTools are the command-line tools docs/deploy.md's commands use.
	DeployTools = Dep{"the command-line tools of docs/deploy.md (bash, psql, pg_dump, pg_restore, jq, curl, openssl)",
		"apt-get install postgresql-client jq curl openssl"}
	// BrowserRuntime is ONNX Runtime Web with zoo's runner compiled to
	// WebAssembly (browser-runtime/), for the in-browser try-it tests.
	BrowserRuntime = Dep{"ONNX Runtime Web and zoo's WebAssembly runner (browser-runtime/)",
		"apt-get install nodejs npm, then make build (it runs scripts/install-browser-runtime.sh)"}
)

// Need is Missing when err is non-nil, and nothing otherwise.
func Need(t testing.TB, d Dep, err error) {
	t.Helper()
	if err != nil {
		Missing(t, d, err.Error())
	}
}

// Missing ends the test for want of d: t.Fatal when Strict, else t.Skip.
// why says how it was found missing (a path, an error).
func Missing(t testing.TB, d Dep, why string) {
	t.Helper()
	msg := Message(d, why)
	if Strict() {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// Have reports whether err is nil, for a test that can go on without d but
// then checks less (e.g. the not-supported answer instead of a TorchScript
// run). When err is non-nil it logs what is missed and returns false — or,
// when Strict, ends the test through Missing, so CI never checks less.
func Have(t testing.TB, d Dep, err error) bool {
	t.Helper()
	if err == nil {
		return true
	}
	if Strict() {
		Missing(t, d, err.Error())
	}
	t.Log(Message(d, err.Error()) + " (checking less without it)")
	return false
}

// NeedNPM returns the folder named by the environment variable env that
// holds node_modules/MODULE for every module given (scripts/install-test-
// clients.sh makes one), after checking that node is on PATH; otherwise
// Missing(t, NPMClients, …).
func NeedNPM(t testing.TB, env string, modules ...string) string {
	t.Helper()
	dir := Env(t, NPMClients, env)
	if _, err := exec.LookPath("node"); err != nil {
		Missing(t, NPMClients, "node is not on PATH")
	}
	for _, m := range modules {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", m)); err != nil {
			Missing(t, NPMClients, fmt.Sprintf("%s=%s has no node_modules/%s", env, dir, m))
		}
	}
	return dir
}

// Message is the text Missing reports.
func Message(d Dep, why string) string {
	var b strings.Builder
	if Strict() {
		fmt.Fprintf(&b, "missing %s", d.Name)
	} else {
		fmt.Fprintf(&b, "skipped: needs %s", d.Name)
	}
	if why != "" {
		fmt.Fprintf(&b, ": %s", why)
	}
	fmt.Fprintf(&b, ". To provide it: %s.", d.Install)
	if Strict() {
		fmt.Fprintf(&b, " This is a failure, not a skip, because %s (%s=0 skips instead).", strictReason(), StrictEnv)
	}
	return b.String()
}

func strictReason() string {
	if v := os.Getenv(StrictEnv); v != "" {
		return StrictEnv + "=" + v
	}
	return "CI is set"
}

// FindONNXRuntime returns nil when the ONNX Runtime library is where
// onnx.Init looks for it (ZOO_ONNXRUNTIME_LIB, beside the executable, the
// project's lib/, the system folders), without loading it — for tests whose
// process must not load it (a child process does).
func FindONNXRuntime() error {
	if p := os.Getenv("ZOO_ONNXRUNTIME_LIB"); p != "" {
		if libfind.IsFile(p) {
			return nil
		}
		return fmt.Errorf("ZOO_ONNXRUNTIME_LIB=%s: no such file", p)
	}
	if p, tried := libfind.Find("libonnxruntime.so.1", "libonnxruntime.so"); p == "" {
		return fmt.Errorf("libonnxruntime.so.1 is in none of %s", strings.Join(tried, ", "))
	}
	return nil
}

// NeedONNXRuntime is Need(t, ONNXRuntime, FindONNXRuntime()).
func NeedONNXRuntime(t testing.TB) {
	t.Helper()
	Need(t, ONNXRuntime, FindONNXRuntime())
}

// Env returns the value of the environment variable name, or calls
// Missing(t, d, …) when it is unset or empty.
func Env(t testing.TB, d Dep, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		Missing(t, d, name+" is not set")
	}
	return v
}
