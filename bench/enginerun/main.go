// Command enginerun times one inference engine on one model, for
// bench/torch.sh: it loads the engine's library, loads the model, runs it
// once (the first forward) and then -runs more times on one already
// preprocessed input, and prints one line:
//
//	ENGINE lib_ms load_ms first_ms median_ms min_ms max_ms peak_rss_mib max_abs_diff
//
// peak_rss_mib is the process's VmHWM at the end; max_abs_diff compares
// the output with -ref (an .npy written by -out of another run), or is
// "-". Both engines get -threads intra-op threads.
//
// torchscript-plain is libtorch without optimize_for_inference
// (torch.Options.Plain).
//
//	enginerun -engine onnx|torchscript|torchscript-plain -model FILE -input PRE.npy [-runs 20] [-threads 0] [-out OUT.npy] [-ref REF.npy]
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/zoo-bioimage/zoo/onnx"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/torch"
)

func main() {
	engine := flag.String("engine", "", "onnx, torchscript or torchscript-plain")
	model := flag.String("model", "", "model file")
	input := flag.String("input", "", "preprocessed input (.npy)")
	runs := flag.Int("runs", 20, "forwards after the first")
	threads := flag.Int("threads", 0, "intra-op threads (0: all CPUs)")
	out := flag.String("out", "", "write the output here (.npy)")
	ref := flag.String("ref", "", "compare the output with this .npy")
	flag.Parse()
	x, err := npy.ReadFile(*input)
	check(err)

	var run func() ([]*tensor.Tensor, error)
	var libT, loadT time.Duration
	switch *engine {
	case "onnx":
		t0 := time.Now()
		check(onnx.Init())
		libT = time.Since(t0)
		t0 = time.Now()
		s, err := onnx.Load(*model, onnx.Options{IntraOpThreads: *threads})
		check(err)
		loadT = time.Since(t0)
		run = func() ([]*tensor.Tensor, error) { return s.Run([]*tensor.Tensor{x}) }
	case "torchscript", "torchscript-plain":
		t0 := time.Now()
		check(torch.Init())
		libT = time.Since(t0)
		t0 = time.Now()
		m, err := torch.LoadWith(*model, torch.Options{Threads: *threads, Plain: *engine == "torchscript-plain"})
		check(err)
		loadT = time.Since(t0)
		run = func() ([]*tensor.Tensor, error) { return m.Run(context.Background(), []*tensor.Tensor{x}) }
	default:
		fmt.Fprintln(os.Stderr, "enginerun: -engine onnx, torchscript or torchscript-plain")
		os.Exit(2)
	}

	t0 := time.Now()
	y, err := run()
	check(err)
	first := time.Since(t0)
	times := make([]time.Duration, *runs)
	for i := range times {
		t0 := time.Now()
		_, err := run()
		check(err)
		times[i] = time.Since(t0)
	}
	slices.Sort(times)
	median := first
	if len(times) > 0 {
		median = times[len(times)/2]
		if len(times)%2 == 0 {
			median = (times[len(times)/2-1] + times[len(times)/2]) / 2
		}
	}
	if *out != "" {
		check(npy.WriteFile(*out, y[0]))
	}
	diff := "-"
	if *ref != "" {
		r, err := npy.ReadFile(*ref)
		check(err)
		d := 0.0
		a, b := y[0].Float32s(), r.Float32s()
		if len(a) != len(b) {
			check(fmt.Errorf("output has %d elements, -ref %d", len(a), len(b)))
		}
		for i := range a {
			d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		}
		diff = fmt.Sprintf("%.2g", d)
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/1e6) }
	fmt.Println(*engine, ms(libT), ms(loadT), ms(first), ms(median), ms(times[0]), ms(times[len(times)-1]), peakRSS(), diff)
}

// peakRSS returns VmHWM of this process in MiB.
func peakRSS() string {
	f, err := os.Open("/proc/self/status")
	check(err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			var kb int
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
			return fmt.Sprint(kb / 1024)
		}
	}
	return "?"
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "enginerun:", err)
		os.Exit(1)
	}
}
