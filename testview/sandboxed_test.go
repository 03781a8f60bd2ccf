package testview_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/sandbox"
	"github.com/zoo-bioimage/zoo/testview"
)

// childEnv makes this test binary act as `zoo sandbox-test` (TestMain).
const childEnv = "ZOO_TESTVIEW_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		// os.Args: [exe, sandbox-test, PACKAGE, OUT]
		os.Exit(testview.RunChild(context.Background(), os.Args[2:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func sandboxedTester(t *testing.T, lim sandbox.Limits) testview.Sandboxed {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return testview.Sandboxed{Exe: exe, Env: []string{childEnv + "=1"}, Limits: lim}
}

// A model whose test allocates 4 GiB fails its test with the memory limit
// as the reason, and the memory is the child's, never the caller's.
func TestSandboxedMemoryBombFails(t *testing.T) {
	testenv.NeedONNXRuntime(t)
	out := t.TempDir()
	s := sandboxedTester(t, sandbox.Limits{Memory: 1 << 30})
	res, err := s.Test(context.Background(), absPath(t, "testdata/membomb"), out)
	if err != nil {
		t.Fatalf("Test: %v", err)
	}
	if res.Status != zoo.TestFailed {
		t.Fatalf("status %q, want failed; report %s", res.Status, res.Report)
	}
	var rep struct {
		Message string `json:"message"`
		Limit   string `json:"limit"`
	}
	if err := json.Unmarshal(res.Report, &rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("report: %s", rep.Message)
	if rep.Limit != "memory" || !strings.Contains(rep.Message, "more memory than the 1 GiB allowed") {
		t.Errorf("report names %q / %q, want the memory limit; report %s", rep.Limit, rep.Message, res.Report)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	if peak := ru.Maxrss << 10; peak > 1<<30 {
		t.Errorf("the caller's peak RSS is %d MiB: the model ran in the caller", peak>>20)
	}
}

// A sound model passes through the sandbox, as it does in process.
func TestSandboxedPasses(t *testing.T) {
	pkg := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx")
	testenv.NeedONNXRuntime(t)
	s := sandboxedTester(t, sandbox.Limits{})
	res, err := s.Test(context.Background(), pkg, t.TempDir())
	if err != nil {
		t.Fatalf("Test: %v", err)
	}
	if res.Status != zoo.TestPassed {
		t.Fatalf("status %q, want passed; report %s", res.Status, res.Report)
	}
}

func absPath(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
