// Package sandbox runs untrusted work — a stranger's model, a stranger's
// Python architecture — in a bounded child process, so that a runaway or
// hostile program cannot hurt the process that started it or read what is
// not its own.
//
// One mechanism serves every caller (the reproducibility test of uploaded
// models, PyTorch conversion):
//
//   - Limits are resource limits of the child (setrlimit through
//     util-linux's prlimit before the program starts): address space
//     (memory), CPU seconds, processes, the largest file it may write and
//     open files; a wall-clock limit kills the whole process group. Every
//     run has them, contained or not.
//   - Contained runs go through bubblewrap (bwrap): new user, PID, network,
//     IPC, UTS and cgroup namespaces (no network at all, not even
//     loopback), a read-only view of the system's programs and libraries
//     (/usr and the /etc files the dynamic loader needs, nothing else of
//     /etc, no /home, no /root, no /var), a fresh /tmp, the given mounts
//     at fixed inside paths and nothing else of the host. When the caller
//     is root the child runs as the unprivileged user nobody (65534), so
//     the process limit counts only sandboxed processes and nothing it
//     does carries root's rights.
//   - A run that needs containment where bwrap cannot be set up is
//     refused with a NotSupported error saying what to install.
//
// The outcome (exit code, signal, peak resident memory, CPU and wall time,
// and which limit ended the run, if one did) is reported in Result, with
// the ends of the child's stdout and stderr kept up to a bound.
package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/zoo-bioimage/zoo"
)

// Default limits, used for every zero field of Limits.
const (
	DefaultMemory    = 4 << 30 // bytes of address space
	DefaultCPU       = 20 * time.Minute
	DefaultWall      = 10 * time.Minute
	DefaultProcesses = 256
	DefaultFileSize  = 2 << 30 // bytes: the largest single file written
	DefaultDisk      = 4 << 30 // bytes: /tmp plus the writable mounts
	DefaultOpenFiles = 1024
	DefaultOutput    = 1 << 20 // bytes kept of stdout and of stderr each
)

// NobodyUID is the user a contained run takes when zoo runs as root.
const NobodyUID = 65534

// Limits bound one run. A zero field takes its default.
type Limits struct {
	// Memory is the child's address-space limit in bytes (RLIMIT_AS):
	// allocations beyond it fail inside the child.
	Memory int64
	// CPU is the CPU time the child may use (RLIMIT_CPU, whole seconds).
	CPU time.Duration
	// Wall is the wall-clock time after which the run is killed.
	Wall time.Duration
	// Processes bounds the processes and threads of the sandbox user
	// (RLIMIT_NPROC); effective only where the child is not root.
	Processes int
	// FileSize is the largest file the child may write (RLIMIT_FSIZE).
	FileSize int64
	// OpenFiles bounds the child's file descriptors (RLIMIT_NOFILE).
	OpenFiles int
	// Disk bounds what the child may write: the size of its private /tmp
	// (a tmpfs, in memory) and the total size of its writable mounts,
	// sampled while it runs (the run is killed beyond it).
	Disk int64
	// Output is how many bytes of stdout, and of stderr, Result keeps.
	Output int
}

func (l Limits) withDefaults() Limits {
	if l.Memory <= 0 {
		l.Memory = DefaultMemory
	}
	if l.CPU <= 0 {
		l.CPU = DefaultCPU
	}
	if l.Wall <= 0 {
		l.Wall = DefaultWall
	}
	if l.Processes <= 0 {
		l.Processes = DefaultProcesses
	}
	if l.FileSize <= 0 {
		l.FileSize = DefaultFileSize
	}
	if l.OpenFiles <= 0 {
		l.OpenFiles = DefaultOpenFiles
	}
	if l.Disk <= 0 {
		l.Disk = DefaultDisk
	}
	if l.Output <= 0 {
		l.Output = DefaultOutput
	}
	return l
}

// Mount makes a host file or folder visible inside the sandbox.
type Mount struct {
	Host   string // absolute host path
	Inside string // absolute path inside the sandbox, e.g. "/pkg"
	// Writable mounts are read-write (and, when zoo runs as root, handed to
	// the sandbox user); others are read-only.
	Writable bool
}

// Command is one program to run.
type Command struct {
	// Path is the program as seen inside the sandbox (an Inside path of a
	// Mount, or a system program such as /usr/bin/python3); Args are its
	// arguments (without the program name).
	Path string
	Args []string
	// Env is the child's whole environment ("K=V"); nothing of zoo's own
	// environment is passed on. HOME and TMPDIR default to /tmp, PATH to
	// /usr/bin:/bin.
	Env    []string
	Mounts []Mount
	// Dir is the working folder inside the sandbox (default /tmp).
	Dir   string
	Stdin io.Reader
	// Stdout, if set, receives the program's standard output as it runs
	// (Result.Stdout is then empty): a long-lived program talks to its
	// caller through Stdin and Stdout while Run waits in a goroutine.
	Stdout io.Writer
	Limits Limits
	// Contain requires bubblewrap: Run refuses when it cannot be set up.
	// Without Contain, Run contains the program where bubblewrap works and
	// otherwise runs it with the limits alone, as zoo's own user, with each
	// Inside path of the arguments and environment replaced by its Host path
	// (Result.Contained says which happened). Only zoo's own programs,
	// which read nothing they are not given, may run uncontained.
	Contain bool
	// Progress, if set, receives each line the child writes to stderr
	// while it runs (the lines are also kept in Result.Stderr).
	Progress func(line string)
}

// Limit names a limit that ended a run.
type Limit string

// The limits Result.Limit can name.
const (
	LimitMemory   Limit = "memory"
	LimitCPU      Limit = "cpu"
	LimitTime     Limit = "time"
	LimitFileSize Limit = "file-size"
	LimitDisk     Limit = "disk"
)

// Result is the outcome of a run that started.
type Result struct {
	ExitCode  int    // -1 when ended by a signal
	Signal    string // the signal that ended it, if any
	Limit     Limit  // the limit that ended it, if one did (best effort for memory)
	PeakRSS   int64  // bytes: the largest resident set of any process of the run
	CPU       time.Duration
	Wall      time.Duration
	Contained bool   // ran inside bubblewrap
	Stdout    []byte // the first Limits.Output bytes
	Stderr    []byte // the last Limits.Output bytes
	// StdoutTruncated reports that stdout was longer than kept.
	StdoutTruncated bool
	limits          Limits
}

// Err is nil for a run that exited with status 0, and otherwise an error
// that says how it ended: a limit by name and value, a signal, or the exit
// status with the last line of stderr.
func (r *Result) Err() error {
	if r.ExitCode == 0 && r.Signal == "" && r.Limit == "" {
		return nil
	}
	const op = "sandbox"
	switch r.Limit {
	case LimitMemory:
		peak := ""
		if r.PeakRSS >= r.limits.Memory/2 {
			peak = " (peak " + human(r.PeakRSS) + ")"
		}
		return zoo.E(op, zoo.Invalid, nil, "it needed more memory than the %s allowed%s", human(r.limits.Memory), peak)
	case LimitCPU:
		return zoo.E(op, zoo.Invalid, nil, "it used more than the %s of CPU time allowed", r.limits.CPU)
	case LimitTime:
		return zoo.E(op, zoo.Invalid, nil, "it ran longer than the %s allowed", r.limits.Wall)
	case LimitDisk:
		return zoo.E(op, zoo.Invalid, nil, "it wrote more than the %s allowed", human(r.limits.Disk))
	case LimitFileSize:
		return zoo.E(op, zoo.Invalid, nil, "it wrote a file larger than the %s allowed", human(r.limits.FileSize))
	}
	last := LastLine(r.Stderr)
	if r.Signal != "" {
		return zoo.E(op, zoo.Invalid, nil, "it was ended by signal %s%s", r.Signal, suffix(last))
	}
	return zoo.E(op, zoo.Invalid, nil, "it exited with status %d%s", r.ExitCode, suffix(last))
}

func suffix(s string) string {
	if s == "" {
		return ""
	}
	return ": " + s
}

// LastLine returns the last non-empty line of b, trimmed.
func LastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func human(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	default:
		return fmt.Sprintf("%d MiB", n>>20)
	}
}

// Available reports whether contained runs work on this machine: nil, or
// a NotSupported error that says what is missing and how to add it. The
// answer is found once (by starting a trivial contained program) and kept.
func Available() error {
	availOnce.Do(func() { availErr = probe() })
	return availErr
}

var (
	availOnce sync.Once
	availErr  error
)

func probe() error {
	const op = "sandbox"
	if _, err := exec.LookPath("prlimit"); err != nil {
		return zoo.E(op, zoo.NotSupported, nil, "needs prlimit to limit untrusted programs; install it with: apt-get install util-linux")
	}
	bwrap, err := exec.LookPath("bwrap")
	if err != nil {
		return zoo.E(op, zoo.NotSupported, nil, "needs bubblewrap to contain untrusted programs; install it with: apt-get install bubblewrap")
	}
	cmd := exec.Command(bwrap, append(bwrapBase(DefaultDisk), "--", "/bin/true")...)
	dropPrivileges(cmd)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return zoo.E(op, zoo.NotSupported, err, "needs bubblewrap, which cannot set up a sandbox here (%s); it needs unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, or user.max_user_namespaces > 0)", strings.TrimSpace(string(out)))
	}
	return nil
}

// bwrapBase is the fixed part of every bubblewrap command line: new
// namespaces, the read-only system, a fresh /tmp, /proc and a minimal /dev.
func bwrapBase(tmpSize int64) []string {
	a := []string{
		"--unshare-all", // user, pid, net, ipc, uts, cgroup
		"--die-with-parent",
		"--new-session",
		"--hostname", "sandbox",
		"--clearenv",
		"--ro-bind", "/usr", "/usr",
		"--proc", "/proc",
		"--dev", "/dev",
		"--size", strconv.FormatInt(tmpSize, 10), "--tmpfs", "/tmp",
		"--dir", "/var/tmp",
	}
	// The merged-/usr links, where the system has them; real folders
	// otherwise.
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		if t, err := os.Readlink(d); err == nil {
			a = append(a, "--symlink", t, d)
		} else if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			a = append(a, "--ro-bind", d, d)
		}
	}
	// What the dynamic loader and libraries read from /etc, and nothing
	// else of it (no passwd, shadow, hosts or resolv.conf).
	for _, f := range []string{"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/alternatives", "/etc/localtime"} {
		if _, err := os.Stat(f); err == nil {
			a = append(a, "--ro-bind", f, f)
		}
	}
	return a
}

// dropPrivileges makes cmd run as nobody when zoo runs as root.
func dropPrivileges(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if os.Geteuid() == 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: NobodyUID, Gid: NobodyUID, NoSetGroups: false, Groups: []uint32{}}
	}
}

// Run runs c and waits for it. The error is non-nil only when the run could
// not start (or was refused); how the program ended is in the Result (see
// Result.Err). Cancelling ctx kills the run.
func Run(ctx context.Context, c Command) (*Result, error) {
	const op = "sandbox"
	lim := c.Limits.withDefaults()
	contained := true
	if err := Available(); err != nil {
		if c.Contain {
			return nil, err
		}
		contained = false
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		return nil, zoo.E(op, zoo.NotSupported, nil, "needs prlimit to limit untrusted programs; install it with: apt-get install util-linux")
	}
	for _, m := range c.Mounts {
		if !filepath.IsAbs(m.Host) || !filepath.IsAbs(m.Inside) {
			return nil, zoo.E(op, zoo.Internal, nil, "mount paths must be absolute (%q → %q)", m.Host, m.Inside)
		}
	}
	env := defaultEnv(c.Env)
	args := []string{
		"--as=" + strconv.FormatInt(lim.Memory, 10),
		"--cpu=" + strconv.FormatInt(int64((lim.CPU+time.Second-1)/time.Second), 10),
		"--fsize=" + strconv.FormatInt(lim.FileSize, 10),
		"--nofile=" + strconv.Itoa(lim.OpenFiles),
		"--core=0",
	}
	if os.Geteuid() != 0 || contained {
		args = append(args, "--nproc="+strconv.Itoa(lim.Processes))
	}
	args = append(args, "--")
	var extra []*os.File
	defer func() {
		for _, f := range extra {
			f.Close()
		}
	}()
	var copyBack []Mount // writable mounts run from a staging copy
	var written []string // host folders the child writes into
	if contained {
		mounts, staged, cleanup, err := stage(c.Mounts)
		if err != nil {
			return nil, err
		}
		defer cleanup()
		copyBack = staged
		bw, _ := exec.LookPath("bwrap")
		args = append(args, bw)
		args = append(args, bwrapBase(lim.Disk)...)
		for _, m := range mounts {
			if m.Writable {
				written = append(written, m.Host)
			}
			ma, f, err := mountArgs(m, len(extra))
			if err != nil {
				return nil, err
			}
			if f != nil {
				extra = append(extra, f)
			}
			args = append(args, ma...)
		}
		for _, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			args = append(args, "--setenv", k, v)
		}
		dir := c.Dir
		if dir == "" {
			dir = "/tmp"
		}
		args = append(args, "--chdir", dir, "--", c.Path)
		args = append(args, c.Args...)
	} else {
		args = append(args, hostPath(c.Path, c.Mounts))
		for _, a := range c.Args {
			args = append(args, hostPath(a, c.Mounts))
		}
		for i, kv := range env {
			k, v, _ := strings.Cut(kv, "=")
			env[i] = k + "=" + hostPath(v, c.Mounts)
		}
	}

	cmd := exec.Command(prlimit, args...)
	cmd.Env = env
	if !contained {
		cmd.Dir = hostPath(c.Dir, c.Mounts)
		if c.Dir == "" || cmd.Dir == c.Dir && !exists(cmd.Dir) {
			cmd.Dir = os.TempDir()
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	} else {
		// Empty, not nil: a nil Env would hand zoo's whole environment to
		// prlimit and bwrap, and bwrap is pid 1 inside the sandbox, where
		// /proc/1/environ shows it (the program's own environment comes
		// from --setenv after --clearenv).
		cmd.Env = []string{}
		dropPrivileges(cmd)
		if os.Geteuid() == 0 {
			for _, m := range append(writableOf(c.Mounts), copyBack...) {
				if m.Writable && reachable(m.Host, true) {
					if err := chownTree(m.Host, NobodyUID); err != nil {
						return nil, zoo.E(op, zoo.Internal, err, "cannot hand %s to the sandbox user", m.Host)
					}
				}
			}
		}
	}
	cmd.ExtraFiles = extra
	cmd.Stdin = c.Stdin
	stdout := &headBuffer{max: lim.Output}
	stderr := &tailBuffer{max: lim.Output, progress: c.Progress}
	cmd.Stdout = stdout
	if c.Stdout != nil {
		cmd.Stdout = c.Stdout
	}
	cmd.Stderr = stderr
	cmd.WaitDelay = 5 * time.Second

	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "cannot start the sandboxed program")
	}
	var timedOut bool
	var mu sync.Mutex
	done := make(chan struct{})
	peak := watchPeak(cmd.Process.Pid, done)
	if !contained {
		for _, m := range c.Mounts {
			if m.Writable {
				written = append(written, m.Host)
			}
		}
	}
	var diskOver atomic.Bool
	go watchDisk(written, lim.Disk, done, func() {
		diskOver.Store(true)
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	go func() {
		t := time.NewTimer(lim.Wall)
		defer t.Stop()
		select {
		case <-done:
			return
		case <-t.C:
			mu.Lock()
			timedOut = true
			mu.Unlock()
		case <-ctx.Done():
		}
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}()
	werr := cmd.Wait()
	close(done)
	for _, m := range copyBack { // m.Host is the staging copy, m.Inside the caller's folder
		if err := copyTree(m.Host, m.Inside, false); err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "cannot copy the sandbox's output back")
		}
	}
	res := &Result{Wall: time.Since(start), Contained: contained, limits: lim}
	stderr.flush()
	res.Stdout, res.StdoutTruncated = stdout.buf.Bytes(), stdout.truncated
	res.Stderr = stderr.bytes()
	st := cmd.ProcessState
	if st == nil {
		return nil, zoo.E(op, zoo.Internal, werr, "the sandboxed program did not run")
	}
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		res.PeakRSS = ru.Maxrss * 1024
		res.CPU = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	// bubblewrap does not always wait for the processes inside, so their
	// usage may be missing from the rusage: the watcher's samples fill in.
	res.PeakRSS = max(res.PeakRSS, <-peak)
	ws, _ := st.Sys().(syscall.WaitStatus)
	res.ExitCode = st.ExitCode()
	if ws.Signaled() {
		res.Signal = ws.Signal().String()
		res.ExitCode = -1
	} else if contained && res.ExitCode > 128 && res.ExitCode < 128+65 {
		// bwrap reports a child killed by signal N as status 128+N.
		res.Signal = syscall.Signal(res.ExitCode - 128).String()
		res.ExitCode = -1
	}
	mu.Lock()
	to := timedOut
	mu.Unlock()
	switch {
	case to:
		res.Limit = LimitTime
	case diskOver.Load():
		res.Limit = LimitDisk
	case ctx.Err() != nil:
		return res, zoo.E(op, zoo.Unavailable, ctx.Err(), "the run was cancelled")
	case res.Signal == syscall.SIGXCPU.String() || res.Signal == syscall.SIGKILL.String() && res.CPU >= lim.CPU-time.Second:
		res.Limit = LimitCPU
	case res.Signal == syscall.SIGXFSZ.String():
		res.Limit = LimitFileSize
	case res.ExitCode != 0 && OutOfMemory(res.Stderr):
		res.Limit = LimitMemory
	}
	return res, nil
}

// watchDisk sums, every quarter second until done is closed, the sizes
// of the files under dirs, and calls over (once) when they exceed max.
func watchDisk(dirs []string, max int64, done <-chan struct{}, over func()) {
	if len(dirs) == 0 {
		return
	}
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		var total int64
		for _, d := range dirs {
			filepath.WalkDir(d, func(_ string, e fs.DirEntry, err error) error {
				if err == nil && e.Type().IsRegular() {
					if fi, err := e.Info(); err == nil {
						total += fi.Size()
					}
				}
				return nil
			})
		}
		if total > max {
			over()
			return
		}
	}
}

// watchPeak samples, until done is closed, the peak resident set (VmHWM)
// of every process descended from pid, and sends the largest seen.
func watchPeak(pid int, done <-chan struct{}) <-chan int64 {
	out := make(chan int64, 1)
	go func() {
		var peak int64
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, p := range descendants(pid) {
				peak = max(peak, vmHWM(p))
			}
			select {
			case <-done:
				out <- peak
				return
			case <-tick.C:
			}
		}
	}()
	return out
}

// descendants returns pid and every process below it (from /proc).
func descendants(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// vmHWM is a process's peak resident set in bytes (0 if unknown).
func vmHWM(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// OutOfMemory recognises, in the last 8 KiB of a program's output, the
// ways programs report a failed allocation (Python, C++, Go, ONNX Runtime,
// PyTorch): under the memory limit an allocation fails, and a program may
// report that and exit normally.
func OutOfMemory(stderr []byte) bool {
	tail := stderr
	if len(tail) > 8192 {
		tail = tail[len(tail)-8192:]
	}
	s := strings.ToLower(string(tail))
	for _, p := range []string{"memoryerror", "std::bad_alloc", "out of memory", "cannot allocate memory", "failed to allocate memory", "defaultcpuallocator: can't allocate memory", "not enough memory"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

func defaultEnv(env []string) []string {
	out := append([]string(nil), env...)
	has := func(k string) bool {
		for _, kv := range out {
			if strings.HasPrefix(kv, k+"=") {
				return true
			}
		}
		return false
	}
	for _, kv := range []string{"HOME=/tmp", "TMPDIR=/tmp", "PATH=/usr/bin:/bin", "LANG=C.UTF-8", "MALLOC_ARENA_MAX=2"} {
		k, _, _ := strings.Cut(kv, "=")
		if !has(k) {
			out = append(out, kv)
		}
	}
	return out
}

// mountArgs returns bwrap's arguments for m. A read-only source the
// sandbox user cannot reach (a folder under a private temporary folder,
// say) is bound through a file descriptor that zoo opens: for a file, its
// contents are copied into the sandbox; a folder must be reachable.
func mountArgs(m Mount, nExtra int) ([]string, *os.File, error) {
	fi, err := os.Stat(m.Host)
	if err != nil {
		return nil, nil, zoo.E("sandbox", zoo.Internal, err, "cannot mount %s", m.Host)
	}
	if os.Geteuid() != 0 || reachable(m.Host, fi.IsDir()) {
		flag := "--ro-bind"
		if m.Writable {
			flag = "--bind"
		}
		return []string{flag, m.Host, m.Inside}, nil, nil
	}
	if fi.IsDir() || m.Writable {
		return nil, nil, zoo.E("sandbox", zoo.Internal, nil, "the sandbox user cannot reach %s", m.Host)
	}
	f, err := os.Open(m.Host)
	if err != nil {
		return nil, nil, zoo.E("sandbox", zoo.Internal, err, "cannot mount %s", m.Host)
	}
	fd := 3 + nExtra
	perms := "0555"
	if fi.Mode().Perm()&0o111 == 0 {
		perms = "0444"
	}
	return []string{"--perms", perms, "--ro-bind-data", strconv.Itoa(fd), m.Inside}, f, nil
}

// reachable reports whether the user nobody can reach p: every parent
// folder searchable by others, and p itself readable (and, for a folder,
// searchable) by others.
func reachable(p string, dir bool) bool {
	fi, err := os.Stat(p)
	if err != nil {
		return false
	}
	need := os.FileMode(0o004)
	if dir {
		need |= 0o001
	}
	if fi.Mode().Perm()&need != need {
		return false
	}
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == "/" {
			return true
		}
	}
}

// MkdirTemp makes a new folder under dir (os.TempDir() when "") that the
// sandbox user can traverse but not list (mode 0711), for the mounts of a
// run, and makes sure dir itself is traversable.
func MkdirTemp(dir, pattern string) (string, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	p, err := os.MkdirTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	if err := os.Chmod(p, 0o711); err != nil {
		os.RemoveAll(p)
		return "", err
	}
	return p, nil
}

// Traversable adds search permission for others (o+x) to dir, so that a
// contained run can reach the mounts below it; listing stays private.
func Traversable(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o001 != 0 {
		return nil
	}
	return os.Chmod(dir, fi.Mode().Perm()|0o001)
}

func chownTree(root string, uid int) error {
	return filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&os.ModeSymlink != 0 {
			return nil
		}
		return os.Lchown(p, uid, uid)
	})
}

func hostPath(s string, mounts []Mount) string {
	for _, m := range mounts {
		if s == m.Inside {
			return m.Host
		}
		if strings.HasPrefix(s, m.Inside+"/") {
			return m.Host + s[len(m.Inside):]
		}
	}
	return s
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// headBuffer keeps the first max bytes written.
type headBuffer struct {
	buf       bytes.Buffer
	max       int
	truncated bool
}

func (b *headBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
			b.truncated = true
		} else {
			b.buf.Write(p)
		}
	} else if len(p) > 0 {
		b.truncated = true
	}
	return len(p), nil
}

// tailBuffer keeps the last max bytes written and hands complete lines to
// progress.
type tailBuffer struct {
	mu       sync.Mutex
	buf      []byte
	max      int
	progress func(string)
	line     []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	if b.progress != nil {
		b.line = append(b.line, p...)
		for {
			i := bytes.IndexByte(b.line, '\n')
			if i < 0 {
				break
			}
			b.progress(string(bytes.TrimRight(b.line[:i], "\r")))
			b.line = b.line[i+1:]
		}
		if len(b.line) > 4096 {
			b.line = b.line[:0]
		}
	}
	return len(p), nil
}

func (b *tailBuffer) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.progress != nil && len(b.line) > 0 {
		b.progress(string(b.line))
		b.line = nil
	}
}

func (b *tailBuffer) bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf...)
}

func writableOf(ms []Mount) []Mount {
	var out []Mount
	for _, m := range ms {
		if m.Writable {
			out = append(out, m)
		}
	}
	return out
}

// stage returns the mounts to give bubblewrap. When zoo runs as root, a
// folder the sandbox user cannot reach (one below a private temporary
// folder, say) is copied into a staging folder under the system's
// temporary folder, which it can reach; writable ones are returned in
// staged as {Host: staging copy, Inside: caller's folder} to be copied
// back after the run. cleanup removes the staging folder.
func stage(ms []Mount) (mounts, staged []Mount, cleanup func(), err error) {
	cleanup = func() {}
	if os.Geteuid() != 0 {
		return ms, nil, cleanup, nil
	}
	var root string
	for i, m := range ms {
		fi, err := os.Stat(m.Host)
		if err != nil {
			cleanup()
			return nil, nil, nil, zoo.E("sandbox", zoo.Internal, err, "cannot mount %s", m.Host)
		}
		if !fi.IsDir() || reachable(m.Host, true) {
			mounts = append(mounts, m)
			continue
		}
		if root == "" {
			if root, err = MkdirTemp("", "zoo-sandbox-*"); err != nil {
				return nil, nil, nil, zoo.E("sandbox", zoo.Internal, err, "cannot make a staging folder")
			}
			r := root
			cleanup = func() { os.RemoveAll(r) }
		}
		copyDir := filepath.Join(root, strconv.Itoa(i))
		if err := copyTree(m.Host, copyDir, true); err != nil {
			cleanup()
			return nil, nil, nil, zoo.E("sandbox", zoo.Internal, err, "cannot stage %s for the sandbox", m.Host)
		}
		mounts = append(mounts, Mount{Host: copyDir, Inside: m.Inside, Writable: m.Writable})
		if m.Writable {
			staged = append(staged, Mount{Host: copyDir, Inside: m.Host, Writable: true})
		}
	}
	return mounts, staged, cleanup, nil
}

// copyTree copies the regular files and folders below src into dst
// (links and special files are skipped). public makes the copies readable
// by others.
func copyTree(src, dst string, public bool) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			mode := fi.Mode().Perm()
			if public {
				mode |= 0o444
			}
			return copyFile(p, target, mode)
		}
		return nil
	})
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
