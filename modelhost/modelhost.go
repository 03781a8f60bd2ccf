// Package modelhost runs a model's weights in a bounded child process, so
// that a published model from a stranger — one that allocates without
// bound, spins or crashes its engine — ends its own run, never the server
// that serves everyone else.
//
// The host side (Config.Open, a runner.Options.Open) starts the zoo binary
// as `zoo model-host DESCRIPTION FORMAT THREADS` through package sandbox
// (bubblewrap where it works: no network, the package read-only; rlimits
// always: address space, processes, file size) and returns a runner.Model
// whose Run sends the inputs to the child and reads its outputs back. The
// child (Serve) loads the weights once and answers requests one at a time
// until its standard input closes. A child that dies — a limit, a crash, a
// cancelled run — is started again by the next Run.
//
// The wire format on the child's stdin/stdout, all integers little-endian:
//
//	ready:    status byte (0 ok, 1 error + error frame)
//	request:  uint32 n, then n .npy arrays
//	response: status byte; 0: uint32 m, then m .npy arrays; 1: error frame
//	error frame: uint8 zoo.Kind, uint32 message length, message
package modelhost

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/internal/libfind"
	"github.com/zoo-bioimage/zoo/onnx"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/sandbox"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/torch"
)

// ChildCommand is the hidden zoo subcommand of the child (see Serve).
const ChildCommand = "model-host"

// Bounds of the wire format: a request or response holds at most this many
// tensors, and an error message at most this many bytes.
const (
	maxTensors = 256
	maxMessage = 64 << 10
)

// Config says how to start children.
type Config struct {
	// Exe is the zoo binary; Args come before the child command (empty
	// for zoo itself); Env is added to the child's environment.
	Exe  string
	Args []string
	Env  []string
	// Memory bounds each child's address space (sandbox default when 0).
	Memory int64
	// RunTimeout bounds one Run (default 10 minutes); the child is killed
	// when it passes.
	RunTimeout time.Duration
}

// EngineMounts returns the mounts and environment that let a child find
// the engines' libraries where this process would load them from (ONNX
// Runtime, the TorchScript shim), under /zoo/lib.
func EngineMounts() ([]sandbox.Mount, []string) {
	var mounts []sandbox.Mount
	var env []string
	if p, _ := libfind.Find("libonnxruntime.so.1", "libonnxruntime.so"); p != "" || os.Getenv(onnx.LibEnv) != "" {
		if v := os.Getenv(onnx.LibEnv); v != "" {
			p = v
		}
		mounts = append(mounts, sandbox.Mount{Host: p, Inside: "/zoo/lib/libonnxruntime.so.1"})
		env = append(env, onnx.LibEnv+"=/zoo/lib/libonnxruntime.so.1")
	}
	if p, _ := libfind.Find("libzootorch.so"); p != "" || os.Getenv(torch.LibEnv) != "" {
		if v := os.Getenv(torch.LibEnv); v != "" {
			p = v
		}
		mounts = append(mounts, sandbox.Mount{Host: p, Inside: "/zoo/lib/libzootorch.so"})
		env = append(env, torch.LibEnv+"=/zoo/lib/libzootorch.so")
	}
	return mounts, env
}

// Open is a runner.Options.Open: it returns a model whose weights run in a
// child process. src must be a package folder on disk.
func (c Config) Open(m *spec.Model, src *spec.Source, format string, threads int) (runner.Model, error) {
	const op = "modelhost.Open"
	if src.Root == "" {
		return nil, zoo.E(op, zoo.Internal, nil, "an isolated model needs its package unpacked in a folder")
	}
	desc := filepath.Base(src.Name)
	if fi, err := os.Stat(src.Name); err == nil && fi.IsDir() {
		entries, _ := os.ReadDir(src.Root)
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			names = append(names, e.Name())
		}
		desc = spec.FindDescription(names)
	}
	if m.Weights.Get(format) == nil {
		return nil, zoo.E(op, zoo.NotFound, nil, "the model has no %s weights", format)
	}
	h := &hosted{cfg: c, root: src.Root, desc: desc, format: format, threads: threads}
	if h.cfg.RunTimeout <= 0 {
		h.cfg.RunTimeout = 10 * time.Minute
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.start(); err != nil {
		return nil, err
	}
	return h, nil
}

// hosted is a runner.Model served by a child process.
type hosted struct {
	cfg     Config
	root    string
	desc    string
	format  string
	threads int

	mu     sync.Mutex // one request at a time; guards ch
	ch     *child
	closed bool
}

// child is one running child process.
type child struct {
	in     *os.File      // our end of its stdin
	out    *bufio.Reader // our end of its stdout
	outF   *os.File
	cancel context.CancelFunc
	done   chan struct{} // closed when it exited; then res, err are set
	res    *sandbox.Result
	err    error
}

const pkgInside, exeInside = "/pkg", "/zoo/bin/zoo"

// start starts a child and waits until it has loaded the weights.
func (h *hosted) start() error {
	const op = "modelhost"
	inR, inW, err := os.Pipe()
	if err != nil {
		return zoo.E(op, zoo.Internal, err, "cannot start the model's process")
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return zoo.E(op, zoo.Internal, err, "cannot start the model's process")
	}
	mounts, env := EngineMounts()
	mounts = append(mounts, sandbox.Mount{Host: h.root, Inside: pkgInside}, sandbox.Mount{Host: h.cfg.Exe, Inside: exeInside})
	env = append(env, h.cfg.Env...)
	args := append(append([]string{}, h.cfg.Args...), ChildCommand, pkgInside+"/"+h.desc, h.format, strconv.Itoa(h.threads))
	ctx, cancel := context.WithCancel(context.Background())
	ch := &child{in: inW, out: bufio.NewReaderSize(outR, 1<<20), outF: outR, cancel: cancel, done: make(chan struct{})}
	go func() {
		ch.res, ch.err = sandbox.Run(ctx, sandbox.Command{
			Path: exeInside, Args: args, Env: env, Mounts: mounts,
			Stdin: inR, Stdout: outW,
			// A host lives as long as its cache entry: only memory,
			// processes and file size bound it; each Run has a timeout.
			Limits: sandbox.Limits{Memory: h.cfg.Memory, CPU: 1000 * time.Hour, Wall: 1000 * time.Hour},
		})
		inR.Close()
		outW.Close() // unblocks a read of its stdout
		close(ch.done)
	}()
	h.ch = ch
	status, err := ch.out.ReadByte()
	if err != nil {
		return h.died(op, "loading the model")
	}
	if status != 0 {
		err := readError(ch.out)
		h.kill()
		return err
	}
	return nil
}

// kill ends the child and waits for it.
func (h *hosted) kill() {
	if h.ch == nil {
		return
	}
	h.ch.in.Close()
	h.ch.cancel()
	<-h.ch.done
	h.ch.outF.Close()
	h.ch = nil
}

// died waits for a child that stopped answering and returns an error that
// says why it ended, in words for the person who ran the model.
func (h *hosted) died(op, doing string) error {
	ch := h.ch
	ch.in.Close()
	select {
	case <-ch.done:
	case <-time.After(5 * time.Second):
		ch.cancel()
		<-ch.done
	}
	h.kill()
	if ch.err != nil {
		return ch.err
	}
	res := ch.res
	switch res.Limit {
	case sandbox.LimitMemory:
		return zoo.E(op, zoo.TooLarge, nil, "the model needed more memory than the %s this server allows one model while %s; try a smaller image", human(h.cfg.Memory), doing)
	case "":
		if sandbox.OutOfMemory(res.Stderr) {
			return zoo.E(op, zoo.TooLarge, nil, "the model ran out of the memory this server allows one model while %s; try a smaller image", doing)
		}
		return zoo.E(op, zoo.Invalid, nil, "the model's engine crashed while %s (%s); this is a fault of the model", doing, zoo.MessageOf(res.Err()))
	}
	return zoo.E(op, zoo.Invalid, nil, "the model was stopped while %s: %s", doing, strings.TrimPrefix(zoo.MessageOf(res.Err()), "it "))
}

func human(n int64) string {
	if n <= 0 {
		n = sandbox.DefaultMemory
	}
	return fmt.Sprintf("%d MiB", n>>20)
}

// Run sends inputs to the child and returns its outputs. A child that died
// before is started again first.
func (h *hosted) Run(ctx context.Context, inputs []*tensor.Tensor) ([]*tensor.Tensor, error) {
	const op = "modelhost.Run"
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, zoo.E(op, zoo.Unavailable, nil, "the model was unloaded")
	}
	if h.ch != nil {
		select {
		case <-h.ch.done:
			h.kill()
		default:
		}
	}
	if h.ch == nil {
		if err := h.start(); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxErr(op, ctx, h.cfg.RunTimeout)
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.RunTimeout)
	defer cancel()
	ch := h.ch
	stop := context.AfterFunc(ctx, func() { ch.cancel() })
	defer func() {
		if !stop() && h.ch == ch {
			h.kill() // the child was killed mid-run: reap it now
		}
	}()
	if err := writeTensors(ch.in, inputs); err != nil {
		if ctx.Err() != nil {
			h.kill()
			return nil, ctxErr(op, ctx, h.cfg.RunTimeout)
		}
		return nil, h.died(op, "reading the input")
	}
	status, err := ch.out.ReadByte()
	if err != nil {
		if ctx.Err() != nil {
			h.kill()
			return nil, ctxErr(op, ctx, h.cfg.RunTimeout)
		}
		return nil, h.died(op, "running")
	}
	if status != 0 {
		err := readError(ch.out)
		if sandbox.OutOfMemory([]byte(zoo.MessageOf(err))) {
			// The engine caught the failed allocation under the limit.
			return nil, zoo.E(op, zoo.TooLarge, nil, "the model needed more memory than the %s this server allows one model; try a smaller image", human(h.cfg.Memory))
		}
		return nil, err
	}
	outs, err := readTensors(ch.out)
	if err != nil {
		if ctx.Err() != nil {
			h.kill()
			return nil, ctxErr(op, ctx, h.cfg.RunTimeout)
		}
		return nil, h.died(op, "sending the result")
	}
	return outs, nil
}

func ctxErr(op string, ctx context.Context, timeout time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return zoo.E(op, zoo.Unavailable, ctx.Err(), "the model ran longer than the %s this server allows one run", timeout)
	}
	return zoo.E(op, zoo.Unavailable, ctx.Err(), "the run was cancelled")
}

// Close ends the child.
func (h *hosted) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	if h.ch != nil {
		h.ch.in.Close() // the child exits at the end of its input
		select {
		case <-h.ch.done:
		case <-time.After(5 * time.Second):
		}
		h.kill()
	}
	return nil
}

// Serve is the body of `zoo model-host DESCRIPTION FORMAT THREADS`: it loads
// the weights and answers requests on in/out until in ends. Its exit
// status is 0 at the end of its input, 2 on usage errors.
func Serve(ctx context.Context, args []string, in io.Reader, out io.Writer, stderr io.Writer) int {
	if len(args) != 3 {
		fmt.Fprintln(stderr, "usage: zoo model-host DESCRIPTION FORMAT THREADS")
		return 2
	}
	threads, _ := strconv.Atoi(args[2])
	w := bufio.NewWriterSize(out, 1<<20)
	r := bufio.NewReaderSize(in, 1<<20)
	pkg, err := runner.Load(args[0], runner.LoadOptions{})
	var net runner.Model
	if err == nil {
		net, err = runner.Open(pkg.Model, pkg.Source, args[1], threads)
	}
	if err != nil {
		w.WriteByte(1)
		writeError(w, err)
		w.Flush()
		return 0
	}
	defer net.Close()
	w.WriteByte(0)
	w.Flush()
	for {
		ins, err := readTensors(r)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0
			}
			fmt.Fprintln(stderr, "model-host:", err)
			return 1
		}
		outs, err := net.Run(ctx, ins)
		if err != nil && sandbox.OutOfMemory([]byte(err.Error())) {
			// The engine caught a failed allocation under the limit; the
			// host side names the limit.
			err = &zoo.Error{Kind: zoo.TooLarge, Message: "out of memory"}
		}
		if err != nil {
			w.WriteByte(1)
			writeError(w, err)
		} else {
			w.WriteByte(0)
			if err := writeTensors(w, outs); err != nil {
				fmt.Fprintln(stderr, "model-host:", err)
				return 1
			}
		}
		if err := w.Flush(); err != nil {
			return 1
		}
	}
}

func writeTensors(w io.Writer, ts []*tensor.Tensor) error {
	if err := binary.Write(w, binary.LittleEndian, uint32(len(ts))); err != nil {
		return err
	}
	for _, t := range ts {
		if err := npy.Write(w, t); err != nil {
			return err
		}
	}
	if f, ok := w.(interface{ Flush() error }); ok {
		return f.Flush()
	}
	return nil
}

func readTensors(r io.Reader) ([]*tensor.Tensor, error) {
	var n uint32
	if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
		return nil, err
	}
	if n > maxTensors {
		return nil, fmt.Errorf("%d tensors in one message; at most %d", n, maxTensors)
	}
	ts := make([]*tensor.Tensor, n)
	for i := range ts {
		t, err := npy.Read(r)
		if err != nil {
			return nil, err
		}
		ts[i] = t
	}
	return ts, nil
}

func writeError(w io.Writer, err error) {
	msg := []byte(zoo.MessageOf(err))
	if len(msg) > maxMessage {
		msg = msg[:maxMessage]
	}
	w.Write([]byte{byte(zoo.KindOf(err))})
	binary.Write(w, binary.LittleEndian, uint32(len(msg)))
	w.Write(msg)
}

func readError(r io.Reader) error {
	const op = "modelhost"
	var kind [1]byte
	var ml uint32
	if _, err := io.ReadFull(r, kind[:]); err != nil {
		return zoo.E(op, zoo.Internal, err, "the model's process gave an unreadable error")
	}
	if err := binary.Read(r, binary.LittleEndian, &ml); err != nil || ml > maxMessage || kind[0] > byte(zoo.Unavailable) {
		return zoo.E(op, zoo.Internal, err, "the model's process gave an unreadable error")
	}
	msg := make([]byte, ml)
	if _, err := io.ReadFull(r, msg); err != nil {
		return zoo.E(op, zoo.Internal, err, "the model's process gave an unreadable error")
	}
	return &zoo.Error{Kind: zoo.Kind(kind[0]), Message: string(msg)}
}
