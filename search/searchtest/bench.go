package searchtest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/search"
	"github.com/zoo-bioimage/zoo/spec"
)

// BenchModel is one generated published model: its version record (state
// published, number 1), its total downloads and its search document.
type BenchModel struct {
	Version   *zoo.Version
	Type      string
	Downloads int64
	Doc       *search.Doc
}

// Seed bulk-loads generated models into a backend's catalog (users exist:
// Version.UploaderID) in one transaction, after their search documents; each backend's test file
// provides it (it writes the catalog's tables directly, which only a
// benchmark may do).
type Seed func(b *testing.B, db Backend, models []BenchModel)

// Generate makes n published models from the descriptions in corpusDir
// (the bioimage.io rdf-corpus), varied deterministically: names and
// descriptions get extra words, tags, licenses, weight formats, test
// results, downloads and publication dates are drawn from the corpus's
// own values.
func Generate(tb testing.TB, corpusDir string, n int, uploader int64) []BenchModel {
	tb.Helper()
	entries, err := os.ReadDir(corpusDir)
	if err != nil {
		tb.Fatal(err)
	}
	var base []*spec.Model
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(corpusDir, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		if d, err := spec.Decode(data, e.Name()); err == nil {
			base = append(base, d)
		}
	}
	if len(base) == 0 {
		tb.Fatalf("no description in %s decodes", corpusDir)
	}
	var tags, licenses, words []string
	for _, d := range base {
		tags = append(tags, d.Tags...)
		if d.License != "" {
			licenses = append(licenses, d.License)
		}
		words = append(words, strings.Fields(d.Name)...)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(s []string) string { return s[rng.IntN(len(s))] }
	statuses := []zoo.TestStatus{zoo.TestPassed, zoo.TestPassed, zoo.TestFailed, zoo.TestNotSupported, zoo.TestPending}
	reports := map[zoo.TestStatus][]string{
		zoo.TestFailed: {`{"formats":{"onnx":{"runs":true,"reproduces":false}}}`, `{"formats":{"onnx":{"runs":false}}}`},
	}
	start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]BenchModel, n)
	for i := range out {
		src := base[i%len(base)]
		d := *src
		d.Name = fmt.Sprintf("%s %s %d", src.Name, pick(words), i/len(base))
		d.Description = src.Description + " " + pick(words) + " " + pick(words)
		d.Tags = append(slices.Clone(src.Tags), pick(tags), pick(tags))
		if rng.IntN(3) == 0 {
			d.License = pick(licenses)
		}
		if d.Type == "model" && rng.IntN(4) == 0 {
			d.Weights.Torchscript = &spec.WeightsEntry{Source: "w.pt"}
		}
		id := fmt.Sprintf("bench-%07d", i)
		published := start.Add(time.Duration(rng.IntN(5*365*24)) * time.Hour)
		status := statuses[rng.IntN(len(statuses))]
		if d.Type != "model" {
			status = zoo.TestNotSupported
		}
		var report []byte
		if rs := reports[status]; rs != nil {
			report = []byte(rs[rng.IntN(len(rs))])
		}
		v := &zoo.Version{
			ModelID: id, Number: 1, State: zoo.StatePublished, TestStatus: status, TestReport: report, UploaderID: uploader,
			Name: d.Name, Description: d.Description, FormatVersion: d.FormatVersion, DescriptionFile: "rdf.yaml",
			PackageSHA256: hash(id), PackageSize: 1, CreatedAt: published, PublishedAt: &published,
		}
		doc := strings.Repeat(d.Description+" ", 3) // documentation: a longer text of the model's words
		out[i] = BenchModel{Version: v, Type: cmpOr(d.Type, "model"), Downloads: int64(rng.IntN(1000)), Doc: search.BuildDoc(v, &d, doc, nil)}
	}
	return out
}

// BenchQuery is one query of the benchmark's mix.
type BenchQuery struct {
	Kind string // "text", "text+facet", "facet"
	Q    search.Query
}

// BenchQueries is the mix: words and filters found in the corpus.
var BenchQueries = []BenchQuery{
	{"text", search.Query{Text: "nuclei"}},
	{"text", search.Query{Text: "segmentation"}},
	{"text", search.Query{Text: "cell segmentation fluorescence"}},
	{"text", search.Query{Text: "unet"}},
	{"text", search.Query{Text: "denoising"}},
	{"text", search.Query{Text: "membrane 3d"}},
	{"text", search.Query{Text: "stardist"}},
	{"text", search.Query{Text: "segm"}},
	{"text+facet", search.Query{Text: "nuclei", Filters: map[string][]string{"license": {"CC-BY-4.0"}}}},
	{"text+facet", search.Query{Text: "segmentation", Filters: map[string][]string{"weight_format": {"torchscript"}}}},
	{"text+facet", search.Query{Text: "cell", Filters: map[string][]string{"test": {"reproduces"}, "type": {"model"}}}},
	{"text+facet", search.Query{Text: "electron", Filters: map[string][]string{"dims": {"3d"}}, Sort: "downloads"}},
	{"facet", search.Query{Filters: map[string][]string{"type": {"model"}}}},
	{"facet", search.Query{Filters: map[string][]string{"test": {"reproduces"}}, Sort: "downloads"}},
	{"facet", search.Query{Filters: map[string][]string{"license": {"MIT"}, "weight_format": {"onnx"}}}},
	{"facet", search.Query{Filters: map[string][]string{"tag": {"nuclei", "cells"}}}},
}

var benchLoaded sync.Map // "backend/n" → Backend, reused across b.N rounds

// Bench loads n generated models into a fresh backend (once per process
// and size) and times the query mix: ZOO_BENCH_SEARCH_QUERIES queries
// (default 320, cycling through BenchQueries) one after the other, then
// the same number from 4 goroutines. It reports p50/p95 latency per kind
// and overall, and throughput, as metrics and as one Markdown table row
// per kind on standard output.
func Bench(b *testing.B, name string, open func(b *testing.B) Backend, seed Seed, corpusDir string, n int) {
	key := fmt.Sprintf("%s/%d", name, n)
	var db Backend
	var load time.Duration
	if v, ok := benchLoaded.Load(key); ok {
		db = v.(Backend)
	} else {
		db = open(b)
		u, err := db.CreateUser(ctx, "bench", zoo.RoleAdmin)
		if err != nil {
			b.Fatal(err)
		}
		models := Generate(b, corpusDir, n, u.ID)
		docs := make([]*search.Doc, len(models))
		for i, m := range models {
			docs[i] = m.Doc
		}
		t0 := time.Now()
		if err := db.PutSearchDocs(ctx, docs); err != nil {
			b.Fatal(err)
		}
		index := time.Since(t0)
		t0 = time.Now()
		seed(b, db, models) // after the index: a backend may update its statistics here
		load = time.Since(t0)
		benchLoaded.Store(key, db)
		fmt.Printf("| %s | %d | load | index %.1f s, catalog rows %.1f s (one transaction each) | | |\n", name, n, index.Seconds(), load.Seconds())
	}
	idx := search.New(db, nil, nil)
	total := 320
	if s := os.Getenv("ZOO_BENCH_SEARCH_QUERIES"); s != "" {
		total, _ = strconv.Atoi(s)
	}
	b.ResetTimer()
	for range b.N {
		lat := map[string][]time.Duration{}
		t0 := time.Now()
		for i := range total {
			q := BenchQueries[i%len(BenchQueries)]
			s := time.Now()
			res, err := idx.Search(ctx, q.Q)
			if err != nil {
				b.Fatal(err)
			}
			if i < len(BenchQueries) && res.Total == 0 {
				b.Logf("query %+v matches nothing", q.Q)
			}
			d := time.Since(s)
			lat[q.Kind] = append(lat[q.Kind], d)
			lat["all"] = append(lat["all"], d)
		}
		seqQPS := float64(total) / time.Since(t0).Seconds()
		var wg sync.WaitGroup
		t0 = time.Now()
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < total; i += 4 {
					if _, err := idx.Search(ctx, BenchQueries[i%len(BenchQueries)].Q); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		parQPS := float64(total) / time.Since(t0).Seconds()
		for _, kind := range []string{"text", "text+facet", "facet", "all"} {
			p50, p95 := percentile(lat[kind], 50), percentile(lat[kind], 95)
			b.ReportMetric(ms(p50), kind+"-p50-ms")
			b.ReportMetric(ms(p95), kind+"-p95-ms")
			tput := ""
			if kind == "all" {
				tput = fmt.Sprintf("%.0f q/s (1 client), %.0f q/s (4 clients)", seqQPS, parQPS)
			}
			fmt.Printf("| %s | %d | %s | %.1f ms | %.1f ms | %s |\n", name, n, kind, ms(p50), ms(p95), tput)
		}
		b.ReportMetric(seqQPS, "q/s")
		b.ReportMetric(parQPS, "q/s-4clients")
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, (len(s)*p+99)/100-1)]
}

// BenchSizes are the model counts to benchmark: ZOO_BENCH_SEARCH_MODELS
// (comma-separated), default 2000 (quick; bench/search.sh runs 10,000
// and 100,000).
func BenchSizes() []int {
	s := os.Getenv("ZOO_BENCH_SEARCH_MODELS")
	if s == "" {
		return []int{2000}
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}
