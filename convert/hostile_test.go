package convert_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/convert"
	"github.com/zoo-bioimage/zoo/sandbox"
)

// hostile returns a copy of TinyNet whose architecture file starts with
// code.
func hostile(t *testing.T, code string) string {
	t.Helper()
	pkg := fixture(t, "tinynet")
	arch := filepath.Join(pkg, "tinynet.py")
	orig, err := os.ReadFile(arch)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(arch, append([]byte(code+"\n"), orig...), 0o644); err != nil {
		t.Fatal(err)
	}
	return pkg
}

func convertHostile(t *testing.T, pkg string, lim sandbox.Limits) *convert.Report {
	t.Helper()
	rep, err := convert.Convert(context.Background(), pkg, convert.Options{Out: filepath.Join(t.TempDir(), "out"), Limits: lim})
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	return rep
}

// An architecture that tries to reach out of the sandbox finds every door
// shut: it reports what it tried by failing its import with the findings.
func TestHostileArchitectureIsContained(t *testing.T) {
	needConverter(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Close()
			accepted <- struct{}{}
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	marker := filepath.Join(t.TempDir(), "escaped")
	home, _ := os.UserHomeDir()

	pkg := hostile(t, fmt.Sprintf(`
import os, socket, subprocess
_found = []
def _try(name, f):
    try:
        r = f()
        _found.append(name + "=SUCCEEDED:" + repr(r)[:60])
    except Exception as e:
        _found.append(name + "=failed")
_try("connect", lambda: socket.create_connection(("127.0.0.1", %d), timeout=2))
_try("dns", lambda: socket.getaddrinfo("deb.debian.org", 80))
_try("shadow", lambda: open("/etc/shadow").read())
_try("home", lambda: os.listdir(%q))
_try("write-host", lambda: open(%q, "w").write("x"))
_try("write-package", lambda: open("/pkg/injected.py", "w").write("x"))
_try("list-around", lambda: os.listdir("/pkg/.."))
_try("subprocess-shadow", lambda: subprocess.run(["/bin/cat", "/etc/shadow"], capture_output=True, check=True).stdout)
raise RuntimeError("FINDINGS " + " ".join(_found))
`, port, home, marker))
	rep := convertHostile(t, pkg, sandbox.Limits{})
	if rep.Problem == nil || !strings.Contains(rep.Problem.Message, "FINDINGS") {
		t.Fatalf("report: %+v", rep)
	}
	msg := rep.Problem.Message
	t.Log(msg)
	for _, name := range []string{"connect", "dns", "shadow", "home", "write-host", "write-package", "subprocess-shadow"} {
		if !strings.Contains(msg, name+"=failed") {
			t.Errorf("%s was not stopped: %s", name, msg)
		}
	}
	// Listing /pkg/.. shows the sandbox's own root, never the host's.
	if strings.Contains(msg, "list-around=SUCCEEDED") && strings.Contains(msg, "tinynet") {
		t.Errorf("the sandbox listed the host folder around the package: %s", msg)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("the architecture wrote %s on the host", marker)
	}
	if _, err := os.Stat(filepath.Join(pkg, "injected.py")); err == nil {
		t.Errorf("the architecture wrote into the package")
	}
	select {
	case <-accepted:
		t.Errorf("the architecture connected to a loopback listener on the host")
	default:
	}
}

// An architecture that allocates far more than allowed is stopped by the
// memory limit, and the converter's peak stays under it.
func TestHostileArchitectureMemoryLimit(t *testing.T) {
	needConverter(t)
	pkg := hostile(t, `
_hog = []
for _ in range(64):
    _hog.append(bytearray(256 << 20))
`)
	rep := convertHostile(t, pkg, sandbox.Limits{Memory: 2 << 30})
	if rep.Status != convert.StatusFailed || rep.Problem == nil || (rep.Problem.Kind != "memory" && rep.Problem.Kind != "limit") {
		t.Fatalf("report: %+v %+v", rep, rep.Problem)
	}
	if !strings.Contains(rep.Problem.Message, "memory") {
		t.Errorf("message %q does not name memory", rep.Problem.Message)
	}
	if rep.PeakRSS > 2<<30 {
		t.Errorf("peak RSS %d MiB is over the 2 GiB limit", rep.PeakRSS>>20)
	}
}

// A weights file whose pickle runs code on loading is refused by the safe
// loader; the code never runs.
func TestPickleThatRunsCodeIsRefused(t *testing.T) {
	needConverter(t)
	pkg := fixture(t, "tinynet")
	marker := filepath.Join(pkg, "pwned")
	// A pickle protocol-2 stream: os.system("touch <package>/pwned"), in a
	// zip as torch.save writes it is not needed: torch.load reads a plain
	// pickle too (legacy format).
	payload := fmt.Sprintf("cposix\nsystem\n(S'touch %s'\ntR.", marker)
	if err := os.WriteFile(filepath.Join(pkg, "weights.pt"), []byte(payload), 0o644); err != nil {
		t.Fatal(err)
	}
	rep := convertHostile(t, pkg, sandbox.Limits{})
	if rep.Problem == nil || rep.Problem.Kind != "unsafe-weights" {
		t.Fatalf("report: %+v %+v", rep, rep.Problem)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("loading the weights ran the pickle's code")
	}
	if want := "it asks to run posix.system when loaded"; !strings.Contains(rep.Problem.Message, want) {
		t.Errorf("message %q lacks %q", rep.Problem.Message, want)
	}
}

// Mistakes a contributor makes get messages that name the cause.
func TestConvertExplainsArchitectureProblems(t *testing.T) {
	needConverter(t)
	cases := []struct {
		name string
		edit func(t *testing.T, pkg string)
		kind string
		want []string
	}{
		{"missing module", func(t *testing.T, pkg string) {
			prepend(t, filepath.Join(pkg, "tinynet.py"), "import skimage_segmentation_helpers")
		}, "missing-module", []string{`"skimage_segmentation_helpers"`, "standard library, torch and numpy"}},
		{"callable not found", func(t *testing.T, pkg string) {
			replace(t, filepath.Join(pkg, "rdf.yaml"), "callable: TinyNet", "callable: TinyNett")
		}, "callable", []string{`no callable 'TinyNett'`, "TinyNet"}},
		{"kwargs do not fit", func(t *testing.T, pkg string) {
			replace(t, filepath.Join(pkg, "rdf.yaml"), "hidden: 4", "hiden: 4")
		}, "kwargs", []string{"hiden", "architecture.kwargs"}},
		{"state dict does not fit", func(t *testing.T, pkg string) {
			replace(t, filepath.Join(pkg, "rdf.yaml"), "hidden: 4", "hidden: 8")
		}, "state-dict", []string{"conv1.weight: weights [4, 2, 3, 3], architecture [8, 2, 3, 3]"}},
		{"renamed layer", func(t *testing.T, pkg string) {
			replace(t, filepath.Join(pkg, "tinynet.py"), "self.conv2", "self.head")
		}, "state-dict", []string{"missing from the weights (head.weight, head.bias)", "not in the architecture (conv2.weight, conv2.bias)"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pkg := fixture(t, "tinynet")
			tc.edit(t, pkg)
			rep := convertHostile(t, pkg, sandbox.Limits{})
			if rep.Problem == nil || rep.Problem.Kind != tc.kind {
				t.Fatalf("report: %+v %+v", rep, rep.Problem)
			}
			for _, w := range tc.want {
				if !strings.Contains(rep.Problem.Message, w) {
					t.Errorf("message %q lacks %q", rep.Problem.Message, w)
				}
			}
		})
	}
}

func prepend(t *testing.T, p, line string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, append([]byte(line+"\n"), b...), 0o644); err != nil {
		t.Fatal(err)
	}
}

func replace(t *testing.T, p, old, new string) {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), old) {
		t.Fatalf("%s has no %q", p, old)
	}
	if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(b), old, new)), 0o644); err != nil {
		t.Fatal(err)
	}
}
