package main

// Which background jobs a process runs (zoo worker --kinds, serve
// --workers N): every kind waits in a River queue of its own, so an
// operator chooses per worker what it runs and interactive jobs (try-it
// inference) never wait behind a backlog of reproducibility tests; and a
// process works only the queues of the kinds it can run here (the ONNX
// Runtime library for model jobs, PyTorch and bubblewrap for conversions,
// the DataCite settings for DOIs), so a worker without the runtime leaves
// test jobs to others instead of burning their retries. docs/jobs.md
// describes each kind for operators.

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/doi"
	"github.com/zoo-bioimage/zoo/jobs/infer"
	"github.com/zoo-bioimage/zoo/onnx"
	"github.com/zoo-bioimage/zoo/queue"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/torch"
)

// jobKind is one kind of background job as operators see it.
type jobKind struct {
	kind  string // the queue's job kind (queue.Job.Kind)
	name  string // its name in --kinds (the kind itself is accepted too)
	queue string // the River queue its jobs wait in
	// slots is how many of its jobs one process runs at once, given
	// --concurrency (serve: --workers) n.
	slots func(n int) int
	// needs returns nil when this process can run the kind, else what it
	// lacks, in words.
	needs func() error
	what  string // what the job does, for the help
}

func perProcess(n int) int { return n }
func one(int) int          { return 1 }

// jobKinds are the kinds zoo knows, in the order of --kinds' help. A job
// kind a feature registers without a row here waits in a queue named
// after it and needs nothing.
var jobKinds = []jobKind{
	{repo.JobTest, "test", "test", perProcess, needModelRuntime, "the reproducibility test of an uploaded version"},
	{infer.Kind, "infer", "infer", perProcess, needModelRuntime, "a try-it / API inference job (/api/v1/jobs)"},
	{challenge.JobEval, "score", "score", perProcess, needModelRuntime, "scoring a challenge submission (predictions, or a published model run on the hidden inputs)"},
	{repo.JobConvert, "convert", repo.QueueConvert, one, canConvert, "converting PyTorch state-dict weights to TorchScript and ONNX"},
	{jobMintDOI, "doi", "doi", one, needDOI, "minting the DataCite DOI of a published version"},
}

// jobRoutes are the queues of the job kinds; every process that enqueues
// or works jobs uses them (queue.Options.Routes). Jobs enqueued by zoo
// before the queues were split wait in the default queue, which the
// processes that run tests also work.
var jobRoutes = func() map[string]string {
	r := map[string]string{}
	for _, k := range jobKinds {
		r[k.kind] = k.queue
	}
	return r
}()

// routesFor returns jobRoutes plus a queue of its own for every kind in
// handlers that jobKinds does not list.
func routesFor(handlers map[string]queue.Handler) map[string]string {
	r := make(map[string]string, len(jobRoutes)+len(handlers))
	for k, q := range jobRoutes {
		r[k] = q
	}
	for k := range handlers {
		if _, ok := r[k]; !ok {
			r[k] = k
		}
	}
	return r
}

// kindsOf returns the jobKind rows of the kinds in handlers (known ones
// first, in jobKinds' order, then the others by name).
func kindsOf(handlers map[string]queue.Handler) []jobKind {
	var out []jobKind
	for _, k := range jobKinds {
		if _, ok := handlers[k.kind]; ok {
			out = append(out, k)
		}
	}
	var extra []string
	for k := range handlers {
		if !slices.ContainsFunc(jobKinds, func(j jobKind) bool { return j.kind == k }) {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		out = append(out, jobKind{kind: k, name: k, queue: k, slots: perProcess, what: "job kind " + k})
	}
	return out
}

// kindNames lists the names --kinds accepts.
func kindNames(kinds []jobKind) string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name
	}
	return strings.Join(names, ", ")
}

// workPlan is what a working process runs.
type workPlan struct {
	run      []jobKind         // kinds whose queues it works
	declined map[string]string // kind → why it does not run it (in words)
	order    []string          // every kind, in jobKinds' order
	queues   map[string]int    // queue → jobs at once
}

// planWork decides which kinds a process with handlers works: requested
// (names or kinds from --kinds; empty: every kind it can run) minus those
// it cannot run here. A requested kind it cannot run is an error, as is
// an unknown name.
func planWork(handlers map[string]queue.Handler, requested []string, n int) (*workPlan, error) {
	all := kindsOf(handlers)
	p := &workPlan{declined: map[string]string{}, queues: map[string]int{}}
	want := map[string]bool{}
	for _, r := range requested {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		i := slices.IndexFunc(all, func(k jobKind) bool { return k.name == r || k.kind == r })
		if i < 0 {
			return nil, usageErr("--kinds: unknown job kind %q; known are %s", r, kindNames(all))
		}
		want[all[i].kind] = true
	}
	for _, k := range all {
		p.order = append(p.order, k.kind)
		if len(want) > 0 && !want[k.kind] {
			p.declined[k.kind] = "not in --kinds"
			continue
		}
		if k.needs != nil {
			if err := k.needs(); err != nil {
				if len(want) > 0 {
					return nil, zoo.E("worker", zoo.NotSupported, nil, "this process cannot run %s jobs (--kinds %s): %s", k.name, k.name, reason(err))
				}
				p.declined[k.kind] = reason(err)
				continue
			}
		}
		p.run = append(p.run, k)
		p.queues[k.queue] = k.slots(n)
		if k.kind == repo.JobTest {
			p.queues[queue.DefaultQueue] = n // jobs queued by an older zoo
		}
	}
	return p, nil
}

// runs reports whether the plan runs kind.
func (p *workPlan) runs(kind string) bool {
	return slices.ContainsFunc(p.run, func(k jobKind) bool { return k.kind == kind })
}

// describe says what the process runs and declines, for its start-up
// line: "test (2 at a time), infer (2 at a time); declining convert
// (reason)".
func (p *workPlan) describe() string {
	var b strings.Builder
	if len(p.run) == 0 {
		b.WriteString("no jobs")
	} else {
		for i, k := range p.run {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s (%d at a time)", k.name, p.queues[k.queue])
		}
	}
	first := true
	for _, k := range p.order {
		why, ok := p.declined[k]
		if !ok {
			continue
		}
		if first {
			b.WriteString("; declining ")
			first = false
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (%s)", nameOf(k), why)
	}
	return b.String()
}

// reason is an error's message without the "not supported: " prefix.
func reason(err error) string {
	return strings.TrimPrefix(zoo.MessageOf(err), "not supported: ")
}

func nameOf(kind string) string {
	for _, k := range jobKinds {
		if k.kind == kind {
			return k.name
		}
	}
	return kind
}

// needModelRuntime: model jobs (tests, inference, challenge model runs)
// need the ONNX Runtime library; a process without it must not take them
// (each attempt would fail and burn the job's retries).
func needModelRuntime() error {
	if err := onnx.Init(); err != nil {
		return zoo.E("worker", zoo.NotSupported, err, "no ONNX Runtime library: %s", zoo.MessageOf(err))
	}
	return nil
}

// runtimeNote says which model runtimes this process has, for its
// start-up line.
func runtimeNote() string {
	ort := "ONNX Runtime " + onnx.Version()
	if onnx.Version() == "" {
		ort = "no ONNX Runtime"
	}
	ts := "libtorch (TorchScript)"
	if err := torch.Available(); err != nil {
		ts = "no libtorch (TorchScript weights test as not supported here)"
	}
	return ort + ", " + ts
}

// needDOI: DOI mints need the DataCite settings.
func needDOI() error {
	c, err := doi.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	if c == nil {
		return zoo.E("worker", zoo.NotSupported, nil, "the DataCite settings (%s, …) are not set", doi.EnvURL)
	}
	return nil
}
