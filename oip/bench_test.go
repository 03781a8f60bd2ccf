package oip_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/modelcache"
	"github.com/zoo-bioimage/zoo/modelcache/cachetest"
	"github.com/zoo-bioimage/zoo/oip"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/web"
)

// BenchmarkInferOIP measures /v2 inference on the nuclei model (512×512
// test input, processing on) at concurrency 1, 2 and 4, with binary and
// with JSON tensors, against the in-process call the server makes
// (runner.Predictor.Predict on the same cached model and input). The
// modes are interleaved: every iteration runs 4·c requests of each mode
// with c concurrent callers, so load changes on a shared machine hit all
// modes alike. Reported per mode: p50 and p95 latency (ms) and throughput
// (req/s, requests over the mode's wall time), and the overhead of p50 over
// in-process p50 (%), and the median of paired relative differences
// (each request against the in-process request of the same position in
// the same iteration). The HTTP path includes zoo's web middleware, a
// loopback TCP connection (kept alive), reading the request, decoding,
// encoding and the client reading the whole response (not parsing it).
func BenchmarkInferOIP(b *testing.B) {
	env := cachetest.New(b)
	v := env.Publish(b, nuclei)
	cache := modelcache.New(env.Svc, modelcache.Options{PerEntry: 8, TempDir: b.TempDir()})
	defer cache.Close()
	s := oip.New(env.Svc, cache, oip.Options{})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(web.New(env.Svc, web.Options{Routes: s.Routes(), Logger: quiet}))
	defer srv.Close()
	in, err := npy.ReadFile(fixtures.Path(b, "packages", nuclei, "test_input.npy"))
	if err != nil {
		b.Fatal(err)
	}
	url := srv.URL + "/v2/models/" + v.ModelID + "/infer"
	head := fmt.Sprintf(`{"inputs":[{"name":"raw","shape":[1,1,512,512],"datatype":"FP32","parameters":{"binary_data_size":%d}}],"outputs":[{"name":"probability","parameters":{"binary_data":true}}]}`, len(in.Data))
	binBody := append([]byte(head), in.Data...)
	jsonBody := []byte(fmt.Sprintf(`{"inputs":[{"name":"raw","shape":[1,1,512,512],"datatype":"FP32","data":%s}]}`, floatsJSON(in.Float32s())))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	post := func(body []byte, binary bool) error {
		req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
		if binary {
			req.Header.Set(oip.HeaderLength, strconv.Itoa(len(head)))
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if _, err := io.Copy(io.Discard, resp.Body); err != nil {
			return err
		}
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	ctx := context.Background()
	x := in.Clone() // Predict reads its inputs, never modifies them
	x.Axes = []string{"batch", "channel", "y", "x"}
	inproc := func() error {
		e, err := cache.Get(ctx, v)
		if err != nil {
			return err
		}
		defer e.Release()
		_, err = e.Predictor().Predict(ctx, runner.Sample{"raw": x})
		return err
	}
	modes := []struct {
		name string
		run  func() error
	}{
		{"inproc", inproc},
		{"binary", func() error { return post(binBody, true) }},
		{"json", func() error { return post(jsonBody, false) }},
	}
	// Warm up: load the model, open connections.
	for _, m := range modes {
		if err := m.run(); err != nil {
			b.Fatalf("%s: %v", m.name, err)
		}
	}
	for _, c := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("c=%d", c), func(b *testing.B) {
			lat := make([][]time.Duration, len(modes))
			wall := make([]time.Duration, len(modes))
			for i := 0; i < b.N; i++ {
				for mi, m := range modes {
					var mu sync.Mutex
					var wg sync.WaitGroup
					start := time.Now()
					for range c {
						wg.Add(1)
						go func() {
							defer wg.Done()
							for range 4 {
								t0 := time.Now()
								if err := m.run(); err != nil {
									b.Error(m.name, err)
									return
								}
								d := time.Since(t0)
								mu.Lock()
								lat[mi] = append(lat[mi], d)
								mu.Unlock()
							}
						}()
					}
					wg.Wait()
					wall[mi] += time.Since(start)
				}
			}
			var base float64
			order := make([][]time.Duration, len(modes))
			for mi := range modes {
				order[mi] = slices.Clone(lat[mi])
			}
			for mi, m := range modes {
				l := lat[mi]
				slices.Sort(l)
				p50 := ms(l[len(l)/2])
				p95 := ms(l[min(len(l)-1, len(l)*95/100)])
				b.ReportMetric(p50, m.name+"-p50-ms")
				b.ReportMetric(p95, m.name+"-p95-ms")
				b.ReportMetric(float64(len(l))/wall[mi].Seconds(), m.name+"-req/s")
				if mi == 0 {
					base = p50
				} else {
					b.ReportMetric(100*(p50-base)/base, m.name+"-%overhead-p50")
					// Paired: the k-th request of this mode against the k-th
					// in-process one of the same iteration (neighbours in
					// time), median of the relative differences — robust to
					// load that drifts during the run.
					r := make([]float64, len(lat[mi]))
					for k := range r {
						r[k] = float64(order[mi][k])/float64(order[0][k]) - 1
					}
					slices.Sort(r)
					b.ReportMetric(100*r[len(r)/2], m.name+"-%overhead-paired")
				}
			}
			b.ReportMetric(0, "ns/op")
		})
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
