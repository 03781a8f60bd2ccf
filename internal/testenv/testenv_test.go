package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// fakeTB records how a helper ended a test. Fatal and Skip stop the calling
// goroutine as the real ones do, so run calls the helper in its own.
type fakeTB struct {
	testing.TB
	failed, skipped bool
	msg             string
	logs            []string
}

func (f *fakeTB) Helper()                   {}
func (f *fakeTB) Log(args ...any)           { f.logs = append(f.logs, fmt.Sprint(args...)) }
func (f *fakeTB) Fatal(args ...any)         { f.failed, f.msg = true, fmt.Sprint(args...); runtime.Goexit() }
func (f *fakeTB) Skip(args ...any)          { f.skipped, f.msg = true, fmt.Sprint(args...); runtime.Goexit() }
func (f *fakeTB) Fatalf(s string, a ...any) { f.Fatal(fmt.Sprintf(s, a...)) }
func (f *fakeTB) Skipf(s string, a ...any)  { f.Skip(fmt.Sprintf(s, a...)) }

// run calls body with a fake and reports whether body returned normally.
func run(body func(tb testing.TB)) (f *fakeTB, returned bool) {
	f = &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		body(f)
		returned = true
	}()
	<-done
	return f, returned
}

func TestStrictSwitch(t *testing.T) {
	for _, c := range []struct {
		strict, ci string // "-" = unset
		want       bool
	}{
		{"-", "-", false},
		{"-", "1", true},
		{"-", "true", true},
		{"-", "false", false},
		{"-", "0", false},
		{"1", "-", true},
		{"true", "-", true},
		{"0", "1", false},
		{"false", "true", false},
		{"", "1", true}, // empty counts as unset
		{"1", "0", true},
	} {
		setOrUnset(t, StrictEnv, c.strict)
		setOrUnset(t, "CI", c.ci)
		if got := Strict(); got != c.want {
			t.Errorf("ZOO_TEST_STRICT=%s CI=%s: Strict() = %v, want %v", c.strict, c.ci, got, c.want)
		}
	}
}

func setOrUnset(t *testing.T, k, v string) {
	t.Setenv(k, "") // restores the old value when the test ends
	if v == "-" {
		os.Unsetenv(k)
	} else {
		os.Setenv(k, v)
	}
}

var dep = Dep{Name: "the frobnicator", Install: "apt-get install frob"}

// Under the switch a missing dependency fails the test, naming it, the
// reason, what to install and how to skip instead.
func TestMissingFailsWhenStrict(t *testing.T) {
	for _, env := range [][2]string{{StrictEnv, "1"}, {"CI", "true"}} {
		setOrUnset(t, StrictEnv, "-")
		setOrUnset(t, "CI", "-")
		t.Setenv(env[0], env[1])
		f, returned := run(func(tb testing.TB) { Missing(tb, dep, "/usr/lib/frob.so: no such file") })
		if returned || !f.failed || f.skipped {
			t.Fatalf("%s=%s: returned %v failed %v skipped %v, want a failure", env[0], env[1], returned, f.failed, f.skipped)
		}
		for _, want := range []string{"missing the frobnicator", "/usr/lib/frob.so: no such file", "apt-get install frob", StrictEnv + "=0"} {
			if !strings.Contains(f.msg, want) {
				t.Errorf("%s=%s: message %q lacks %q", env[0], env[1], f.msg, want)
			}
		}
	}
}

// Without the switch it skips, saying what to install.
func TestMissingSkipsOtherwise(t *testing.T) {
	setOrUnset(t, "CI", "1")
	t.Setenv(StrictEnv, "0")
	f, returned := run(func(tb testing.TB) { Need(tb, dep, errors.New("not on PATH")) })
	if returned || !f.skipped || f.failed {
		t.Fatalf("returned %v failed %v skipped %v, want a skip", returned, f.failed, f.skipped)
	}
	for _, want := range []string{"needs the frobnicator", "not on PATH", "apt-get install frob"} {
		if !strings.Contains(f.msg, want) {
			t.Errorf("message %q lacks %q", f.msg, want)
		}
	}
}

// A present dependency lets the test go on, strict or not.
func TestNeedPresent(t *testing.T) {
	for _, s := range []string{"0", "1"} {
		t.Setenv(StrictEnv, s)
		f, returned := run(func(tb testing.TB) { Need(tb, dep, nil) })
		if !returned || f.failed || f.skipped {
			t.Errorf("ZOO_TEST_STRICT=%s: returned %v failed %v skipped %v", s, returned, f.failed, f.skipped)
		}
	}
}

func TestEnv(t *testing.T) {
	t.Setenv(StrictEnv, "1")
	t.Setenv("ZOO_TESTENV_X", "v")
	if f, returned := run(func(tb testing.TB) {
		if Env(tb, dep, "ZOO_TESTENV_X") != "v" {
			panic("wrong value")
		}
	}); !returned || f.failed {
		t.Errorf("set variable: returned %v, failed %v (%s)", returned, f.failed, f.msg)
	}
	t.Setenv("ZOO_TESTENV_X", "")
	f, returned := run(func(tb testing.TB) { Env(tb, dep, "ZOO_TESTENV_X") })
	if returned || !f.failed || !strings.Contains(f.msg, "ZOO_TESTENV_X is not set") {
		t.Errorf("unset variable: returned %v failed %v %q", returned, f.failed, f.msg)
	}
}

func TestFindONNXRuntime(t *testing.T) {
	lib := filepath.Join(t.TempDir(), "libonnxruntime.so.1")
	t.Setenv("ZOO_ONNXRUNTIME_LIB", lib)
	if err := FindONNXRuntime(); err == nil || !strings.Contains(err.Error(), lib) {
		t.Errorf("absent ZOO_ONNXRUNTIME_LIB: %v", err)
	}
	os.WriteFile(lib, []byte("x"), 0o644)
	if err := FindONNXRuntime(); err != nil {
		t.Errorf("present ZOO_ONNXRUNTIME_LIB: %v", err)
	}
}

// Have lets a test go on checking less outside strict mode (saying what
// it misses), and fails it under the switch.
func TestHave(t *testing.T) {
	t.Setenv(StrictEnv, "0")
	var got bool
	f, returned := run(func(tb testing.TB) { got = Have(tb, dep, errors.New("gone")) })
	if !returned || got || f.skipped || f.failed || len(f.logs) != 1 || !strings.Contains(f.logs[0], "apt-get install frob") {
		t.Errorf("not strict: returned %v have %v skipped %v failed %v logs %q", returned, got, f.skipped, f.failed, f.logs)
	}
	f, returned = run(func(tb testing.TB) { got = Have(tb, dep, nil) })
	if !returned || !got || len(f.logs) != 0 {
		t.Errorf("present: returned %v have %v logs %q", returned, got, f.logs)
	}
	t.Setenv(StrictEnv, "1")
	f, returned = run(func(tb testing.TB) { got = Have(tb, dep, errors.New("gone")) })
	if returned || !f.failed {
		t.Errorf("strict: returned %v failed %v", returned, f.failed)
	}
}

func TestNeedNPM(t *testing.T) {
	_, nodeErr := exec.LookPath("node")
	node := Have(t, NPMClients, nodeErr) // under the real switch, before the test sets its own
	t.Setenv(StrictEnv, "1")
	dir := t.TempDir()
	t.Setenv("ZOO_TESTENV_NPM", dir)
	f, returned := run(func(tb testing.TB) { NeedNPM(tb, "ZOO_TESTENV_NPM", "@scope/pkg") })
	if returned || !f.failed || !strings.Contains(f.msg, "node_modules/@scope/pkg") || !strings.Contains(f.msg, "scripts/install-test-clients.sh") {
		t.Errorf("module absent: returned %v failed %v %q", returned, f.failed, f.msg)
	}
	if !node {
		return
	}
	os.MkdirAll(filepath.Join(dir, "node_modules", "@scope", "pkg"), 0o755)
	var got string
	f, returned = run(func(tb testing.TB) { got = NeedNPM(tb, "ZOO_TESTENV_NPM", "@scope/pkg") })
	if !returned || f.failed || got != dir {
		t.Errorf("module present: returned %v failed %v %q %q", returned, f.failed, got, f.msg)
	}
}
