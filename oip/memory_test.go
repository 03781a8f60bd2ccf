package oip_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo/modelcache"
	"github.com/zoo-bioimage/zoo/modelcache/cachetest"
	"github.com/zoo-bioimage/zoo/oip"
	"github.com/zoo-bioimage/zoo/web"
)

// rss returns this process's resident set size in bytes.
func rss(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Skip("no VmRSS")
	return 0
}

// peakRSS samples rss every 5 ms until stop is called, which returns
// the peak.
func peakRSS(t *testing.T) (stop func() int64) {
	var peak atomic.Int64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			if r := rss(t); r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() int64 { close(done); <-finished; return peak.Load() }
}

// clientFrom is an HTTP client whose connections come from the loopback
// address ip (127.0.0.0/8), so that the server sees distinct clients.
func clientFrom(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 2 * time.Minute}
}

func post(c *http.Client, url string, hdr map[string]string, body []byte) (int, []byte, error) {
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// Eight clients at once send 64 MiB requests that the model cannot take
// (a size it refuses, or an input it does not have): the server's memory
// grows by at most about twice its in-flight limit, not by a multiple of
// every body (today: body, a copy by the JSON decoder and the decoded
// tensor for each, 1.5 GiB for eight), and another client is answered
// meanwhile.
func TestConcurrentLargeRequestsStayBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 1 GiB over loopback")
	}
	const inflight = 256 << 20
	ts := newServer(t, oip.Limits{MaxInFlight: inflight})
	url := ts.URL + "/v2/models/" + ts.id + "/infer"
	// 4096² elements as JSON text ("0.5," each): 64 MiB.
	var jb bytes.Buffer
	jb.WriteString(`{"inputs":[{"name":"raw","shape":[1,1,4096,4096],"datatype":"FP32","data":[`)
	jb.WriteString(strings.Repeat("0.5,", 4096*4096-1))
	jb.WriteString(`0.5]}]}`)
	jsonBody := jb.Bytes()
	head := fmt.Sprintf(`{"inputs":[{"name":"rawx","shape":[1,1,4096,4096],"datatype":"FP32","parameters":{"binary_data_size":%d}}]}`, 4096*4096*4)
	binBody := append([]byte(head), make([]byte, 4096*4096*4)...)
	binHdr := map[string]string{oip.HeaderLength: strconv.Itoa(len(head))}
	small := fmt.Sprintf(`{"inputs":[{"name":"raw","shape":[1,1,512,512],"datatype":"FP32","data":%s}]}`, floatsJSON(ts.in.Float32s()))

	// Load the model before measuring.
	if st, b, err := post(clientFrom("127.0.0.99"), url, nil, []byte(small)); err != nil || st != 200 {
		t.Fatalf("warm-up: %d %.200s %v", st, b, err)
	}
	runtime.GC()
	debug.FreeOSMemory()
	base := rss(t)
	stop := peakRSS(t)

	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clientFrom(fmt.Sprintf("127.0.0.%d", 10+i))
			for _, b := range [][]byte{jsonBody, binBody} {
				hdr := map[string]string(nil)
				if &b[0] == &binBody[0] {
					hdr = binHdr
				}
				st, _, err := post(c, url, hdr, b)
				mu.Lock()
				if err != nil {
					st = -1 // the server may close a connection whose body it did not read
				}
				statuses[st]++
				mu.Unlock()
			}
		}()
	}
	// Another user is answered while the attack runs.
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	st, b, err := post(clientFrom("127.0.0.98"), url, nil, []byte(small))
	if err != nil || st != 200 {
		t.Errorf("another client during the attack: %d %.200s %v", st, b, err)
	}
	took := time.Since(start)
	wg.Wait()
	peak := stop()
	t.Logf("statuses %v; RSS %d MiB before, peak +%d MiB; a legitimate request took %v", statuses, base>>20, (peak-base)>>20, took)
	if statuses[200] > 0 {
		t.Errorf("requests the model cannot take were answered 200: %v", statuses)
	}
	if bound := int64(2*inflight + 128<<20); peak-base > bound {
		t.Errorf("peak RSS grew by %d MiB during the attack; the bound is %d MiB (twice the in-flight limit + 128 MiB)", (peak-base)>>20, bound>>20)
	}
}

// An answer larger than MaxResponse is refused before the model runs,
// with a message pointing to binary outputs and jobs; a JSON answer below
// it is streamed, and a binary one has the right length.
func TestLargeAnswerIsRefusedEarly(t *testing.T) {
	env := cachetest.New(t)
	v := env.Publish(t, "upsample-onnx") // output 4× the input in y and x
	cache := modelcache.New(env.Svc, modelcache.Options{Threads: 1, TempDir: t.TempDir()})
	t.Cleanup(func() { cache.Close() })
	s := oip.New(env.Svc, cache, oip.Options{Version: "test"})
	srv := httptest.NewServer(web.New(env.Svc, web.Options{Routes: s.Routes()}))
	t.Cleanup(srv.Close)
	url := srv.URL + "/v2/models/" + v.ModelID + "/infer"
	c := clientFrom("127.0.0.1")
	binReq := func(n int, binaryOut bool) ([]byte, map[string]string) {
		head := fmt.Sprintf(`{"inputs":[{"name":"input","shape":[1,1,%d,%d],"datatype":"FP32","parameters":{"binary_data_size":%d}}],"parameters":{"binary_data_output":%v}}`, n, n, n*n*4, binaryOut)
		return append([]byte(head), make([]byte, n*n*4)...), map[string]string{oip.HeaderLength: strconv.Itoa(len(head))}
	}

	// 1000² in (4 MB), 4000² out: 240 MiB as JSON text. Today: a 167 MiB
	// answer built in memory (+766 MiB RSS).
	runtime.GC()
	debug.FreeOSMemory()
	base := rss(t)
	stop := peakRSS(t)
	body, hdr := binReq(1000, false)
	st, b, err := post(c, url, hdr, body)
	peak := stop()
	if err != nil || st != http.StatusRequestEntityTooLarge {
		t.Fatalf("a 240 MiB JSON answer: %d %.300s %v, want 413", st, b, err)
	}
	var e struct{ Error string }
	json.Unmarshal(b, &e)
	for _, want := range []string{"binary_data_output", "/api/v1/jobs", "64 MiB"} {
		if !strings.Contains(e.Error, want) {
			t.Errorf("the refusal %q does not mention %q", e.Error, want)
		}
	}
	if grew := peak - base; grew > 96<<20 {
		t.Errorf("refusing the answer grew RSS by %d MiB; it should be refused before the model runs", grew>>20)
	}

	// Binary: 500² in, 2000² × 4 bytes = 16 MB out, under the limit.
	body, hdr = binReq(500, true)
	req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	hl, _ := strconv.Atoi(resp.Header.Get(oip.HeaderLength))
	if resp.StatusCode != 200 || len(b)-hl != 2000*2000*4 {
		t.Fatalf("binary answer: %d, %d bytes after a %d-byte header", resp.StatusCode, len(b), hl)
	}

	// JSON, 125² in, 500² out: streamed, and valid.
	body, hdr = binReq(125, false)
	st, b, err = post(c, url, hdr, body)
	if err != nil || st != 200 {
		t.Fatalf("JSON answer: %d %.200s %v", st, b, err)
	}
	var out struct {
		Outputs []struct {
			Shape []int
			Data  []float32
		}
	}
	if err := json.Unmarshal(b, &out); err != nil || len(out.Outputs) != 1 || len(out.Outputs[0].Data) != 500*500 {
		t.Fatalf("JSON answer does not decode to 500² values: %v", err)
	}
}
