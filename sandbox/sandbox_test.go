package sandbox_test

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/sandbox"
)

const python = "/usr/bin/python3"

// needSandbox ends the test (testenv.Missing: a skip, or a failure under
// CI and make test) where bubblewrap or Debian's python3 is missing.
func needSandbox(t *testing.T) {
	t.Helper()
	err := sandbox.Available()
	if err == nil {
		_, err = os.Stat(python)
	}
	testenv.Need(t, testenv.Sandbox, err)
}

// pkgDir makes a package folder with one file, reachable by the sandbox
// user, and an output folder.
func pkgDir(t *testing.T) (pkg, out string) {
	t.Helper()
	root := t.TempDir()
	pkg, out = filepath.Join(root, "package"), filepath.Join(root, "out")
	for _, d := range []string{pkg, out} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(pkg, "weights.txt"), []byte("weights\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return pkg, out
}

func runPy(t *testing.T, code string, lim sandbox.Limits, pkg, out string) *sandbox.Result {
	t.Helper()
	res, err := sandbox.Run(context.Background(), sandbox.Command{
		Path:    python,
		Args:    []string{"-c", code},
		Mounts:  []sandbox.Mount{{Host: pkg, Inside: "/pkg"}, {Host: out, Inside: "/out", Writable: true}},
		Limits:  lim,
		Contain: true,
	})
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return res
}

func TestRunsAndSeesOnlyItsMounts(t *testing.T) {
	needSandbox(t)
	pkg, out := pkgDir(t)
	res := runPy(t, `
import os
print(open("/pkg/weights.txt").read().strip())
open("/out/result.txt", "w").write("done")
print(sorted(os.listdir("/")))
print(sorted(os.listdir("/tmp")))
print(os.getuid())
`, sandbox.Limits{}, pkg, out)
	if err := res.Err(); err != nil {
		t.Fatalf("%v\n%s", err, res.Stderr)
	}
	lines := strings.Split(strings.TrimSpace(string(res.Stdout)), "\n")
	if lines[0] != "weights" {
		t.Errorf("read %q from the package, want weights", lines[0])
	}
	for _, host := range []string{"home", "root", "work", "var/lib", "srv", "mnt"} {
		if strings.Contains(lines[1], "'"+host+"'") {
			t.Errorf("the sandbox sees /%s: %s", host, lines[1])
		}
	}
	if lines[2] != "[]" {
		t.Errorf("/tmp is not fresh: %s", lines[2])
	}
	if os.Geteuid() == 0 && lines[3] != "65534" {
		t.Errorf("runs as uid %s, want nobody", lines[3])
	}
	if b, err := os.ReadFile(filepath.Join(out, "result.txt")); err != nil || string(b) != "done" {
		t.Errorf("output folder: %q, %v", b, err)
	}
	if !res.Contained || res.PeakRSS <= 0 || res.Wall <= 0 {
		t.Errorf("result lacks accounting: %+v", res)
	}
}

// TestHostileProgramIsContained runs what a hostile architecture file
// would try; every action must fail inside the sandbox and leave no trace
// on the host.
func TestHostileProgramIsContained(t *testing.T) {
	needSandbox(t)
	pkg, out := pkgDir(t)

	// A loopback listener that must receive no connection.
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
	sibling := filepath.Join(filepath.Dir(pkg), "sibling-secret")
	if err := os.WriteFile(sibling, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	code := fmt.Sprintf(`
import os, socket, subprocess
def attempt(name, f):
    try:
        r = f()
        print(name, "SUCCEEDED", repr(r)[:80])
    except Exception as e:
        print(name, "failed", type(e).__name__)
attempt("connect", lambda: socket.create_connection(("127.0.0.1", %d), timeout=2))
attempt("dns", lambda: socket.getaddrinfo("example.org", 80))
attempt("shadow", lambda: open("/etc/shadow").read())
attempt("passwd", lambda: open("/etc/passwd").read())
attempt("write-host", lambda: open(%q, "w").write("x"))
attempt("write-pkg", lambda: open("/pkg/new", "w").write("x"))
attempt("list-parent", lambda: os.listdir(%q))
attempt("read-sibling", lambda: open(%q).read())
attempt("proc-1-environ", lambda: open("/proc/1/environ").read() if os.getpid() != 1 and "ZOO" in open("/proc/1/environ").read() else 1/0)
attempt("subprocess", lambda: subprocess.run(["/bin/sh", "-c", "echo child; cat /etc/shadow"], capture_output=True).stdout)
`, port, marker, filepath.Dir(pkg), sibling)
	res := runPy(t, code, sandbox.Limits{}, pkg, out)
	if err := res.Err(); err != nil {
		t.Fatalf("%v\n%s", err, res.Stderr)
	}
	got := string(res.Stdout)
	for _, name := range []string{"connect", "dns", "shadow", "passwd", "write-host", "write-pkg", "list-parent", "read-sibling", "proc-1-environ"} {
		if !strings.Contains(got, name+" failed") {
			t.Errorf("%s was not stopped:\n%s", name, got)
		}
	}
	// A child process may start, but it is inside the same sandbox.
	if !strings.Contains(got, "subprocess SUCCEEDED b'child\\n'") {
		t.Errorf("subprocess: %s", got)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("the sandbox wrote %s on the host", marker)
	}
	if _, err := os.Stat(filepath.Join(pkg, "new")); err == nil {
		t.Errorf("the sandbox wrote into its read-only package")
	}
	select {
	case <-accepted:
		t.Errorf("the loopback listener received a connection from the sandbox")
	case <-time.After(200 * time.Millisecond):
	}
}

func TestMemoryLimitHolds(t *testing.T) {
	needSandbox(t)
	pkg, out := pkgDir(t)
	const limit = 512 << 20
	// Allocates 4 GiB in 64 MiB pieces, touching each.
	res := runPy(t, `
chunks = []
for i in range(64):
    chunks.append(bytearray(64 << 20))
print("allocated everything")
`, sandbox.Limits{Memory: limit}, pkg, out)
	if res.Limit != sandbox.LimitMemory {
		t.Fatalf("limit = %q, want memory; exit %d %s\n%s", res.Limit, res.ExitCode, res.Signal, res.Stderr)
	}
	if res.PeakRSS > limit {
		t.Errorf("peak RSS %d MiB over the %d MiB limit", res.PeakRSS>>20, limit>>20)
	}
	if strings.Contains(string(res.Stdout), "allocated everything") {
		t.Errorf("the allocation succeeded")
	}
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), "more memory than the 512 MiB allowed") {
		t.Errorf("error %v does not name the memory limit", err)
	}
}

func TestWallTimeLimitKills(t *testing.T) {
	needSandbox(t)
	pkg, out := pkgDir(t)
	start := time.Now()
	res := runPy(t, `import time; time.sleep(60)`, sandbox.Limits{Wall: 1500 * time.Millisecond}, pkg, out)
	if res.Limit != sandbox.LimitTime {
		t.Fatalf("limit = %q, want time (%+v)", res.Limit, res)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %v to stop", d)
	}
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), "ran longer than the 1.5s allowed") {
		t.Errorf("error: %v", err)
	}
}

func TestCPULimitKills(t *testing.T) {
	needSandbox(t)
	pkg, out := pkgDir(t)
	res := runPy(t, `
while True:
    pass`, sandbox.Limits{CPU: time.Second}, pkg, out)
	if res.Limit != sandbox.LimitCPU {
		t.Fatalf("limit = %q, want cpu (%+v)", res.Limit, res)
	}
}

func TestFileSizeLimit(t *testing.T) {
	needSandbox(t)
	pkg, out := pkgDir(t)
	res := runPy(t, `
import signal
signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
f = open("/out/big", "wb")
for i in range(100):
    f.write(bytes(1 << 20))
f.close()`, sandbox.Limits{FileSize: 4 << 20}, pkg, out)
	if res.Limit != sandbox.LimitFileSize {
		t.Fatalf("limit = %q, want file-size (%+v)\n%s", res.Limit, res, res.Stderr)
	}
	if fi, err := os.Stat(filepath.Join(out, "big")); err == nil && fi.Size() > 4<<20 {
		t.Errorf("wrote %d bytes past the limit", fi.Size())
	}
}

func TestProcessLimitStopsForkBomb(t *testing.T) {
	needSandbox(t)
	pkg, out := pkgDir(t)
	res := runPy(t, `
import os, time
n = 0
try:
    for i in range(2000):
        if os.fork() == 0:
            time.sleep(3)
            os._exit(0)
        n += 1
except OSError as e:
    print("stopped after", n, type(e).__name__)
`, sandbox.Limits{Processes: 32, Wall: 30 * time.Second}, pkg, out)
	if !strings.Contains(string(res.Stdout), "stopped after") {
		t.Fatalf("the fork bomb was not stopped: %q %s", res.Stdout, res.Stderr)
	}
}

func TestCancelKills(t *testing.T) {
	needSandbox(t)
	pkg, out := pkgDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err := sandbox.Run(ctx, sandbox.Command{Path: python, Args: []string{"-c", "import time; time.sleep(60)"},
		Mounts: []sandbox.Mount{{Host: pkg, Inside: "/pkg"}, {Host: out, Inside: "/out", Writable: true}}, Contain: true})
	if err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Fatalf("err = %v, want cancelled", err)
	}
}

func TestProgressLines(t *testing.T) {
	needSandbox(t)
	pkg, out := pkgDir(t)
	var lines []string
	res, err := sandbox.Run(context.Background(), sandbox.Command{Path: python,
		Args:     []string{"-c", "import sys\nfor i in range(3): print('step', i, file=sys.stderr, flush=True)"},
		Mounts:   []sandbox.Mount{{Host: pkg, Inside: "/pkg"}, {Host: out, Inside: "/out", Writable: true}},
		Contain:  true,
		Progress: func(l string) { lines = append(lines, l) },
	})
	if err != nil || res.Err() != nil {
		t.Fatal(err, res.Err())
	}
	if strings.Join(lines, "|") != "step 0|step 1|step 2" {
		t.Errorf("progress lines %q", lines)
	}
}

func TestUnreachableFolderIsStaged(t *testing.T) {
	needSandbox(t)
	if os.Geteuid() != 0 {
		t.Skip("only root's runs change user")
	}
	private := t.TempDir() // mode 0700 parents: nobody cannot reach it
	pkg, out := filepath.Join(private, "pkg"), filepath.Join(private, "out")
	for _, d := range []string{pkg, out} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(pkg, "in.txt"), []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	res := runPy(t, `open("/out/r.txt", "w").write(open("/pkg/in.txt").read() + " back")`, sandbox.Limits{}, pkg, out)
	if err := res.Err(); err != nil {
		t.Fatalf("%v\n%s", err, res.Stderr)
	}
	if b, err := os.ReadFile(filepath.Join(out, "r.txt")); err != nil || string(b) != "hello back" {
		t.Errorf("output %q, %v", b, err)
	}
}

// The peak memory of the program inside is measured, not only that of
// the processes around it.
func TestPeakRSSIsMeasured(t *testing.T) {
	needSandbox(t)
	pkg, out := pkgDir(t)
	res := runPy(t, `
import time
b = bytearray(300 << 20)
time.sleep(0.5)
`, sandbox.Limits{}, pkg, out)
	if err := res.Err(); err != nil {
		t.Fatalf("%v\n%s", err, res.Stderr)
	}
	if res.PeakRSS < 250<<20 || res.PeakRSS > 1<<30 {
		t.Errorf("peak RSS %d MiB, want about 300", res.PeakRSS>>20)
	}
}

// What a run may write is bounded: its private /tmp (in memory) is full at
// the disk limit, and writing more than the limit into a writable mount
// ends the run with the limit named, leaving the host's disk alone.
func TestDiskLimitHolds(t *testing.T) {
	needSandbox(t)
	pkg, out := pkgDir(t)
	const limit = 64 << 20
	res := runPy(t, `
import os
chunk = b"x" * (1 << 20)
try:
    with open("/tmp/fill", "wb") as f:
        for i in range(128):
            f.write(chunk)
            f.flush()
    print("tmp full: no", flush=True)
except OSError as e:
    print("tmp full: yes", e.errno, flush=True)
os.remove("/tmp/fill")
import time
for i in range(1000):
    with open("/out/f%d" % i, "wb") as f:
        f.write(chunk * 4)
    time.sleep(0.01)
print("wrote everything")
`, sandbox.Limits{Disk: limit}, pkg, out)
	if !strings.Contains(string(res.Stdout), "tmp full: yes") {
		t.Errorf("/tmp took more than the limit: %s\n%s", res.Stdout, res.Stderr)
	}
	if res.Limit != sandbox.LimitDisk || strings.Contains(string(res.Stdout), "wrote everything") {
		t.Fatalf("limit %q, stdout %s; want the disk limit\n%s", res.Limit, res.Stdout, res.Stderr)
	}
	var total int64
	filepath.WalkDir(out, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			fi, _ := e.Info()
			total += fi.Size()
		}
		return nil
	})
	if total > 4*limit {
		t.Errorf("%d MiB were written before the run was stopped", total>>20)
	}
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), "wrote more than the 64 MiB allowed") {
		t.Errorf("Err: %v", err)
	}
}
