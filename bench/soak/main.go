// Command soak runs a bounded load against a zoo server on loopback, for
// bench/soak.sh: legitimate users (model list, search, model metadata,
// small /v2 inferences, job submissions from their own addresses) for
// -duration, optionally with attacks from other loopback addresses:
//
//   - slowloris: 1,200 connections from four addresses that send a
//     request's headers and then nothing, reopened (after 100 ms) as the
//     server closes them;
//   - /v2 memory: 64 MiB JSON requests the model cannot take, eight
//     clients in a loop;
//   - /v2 answers: requests whose answer would be 240 MiB of JSON
//     (the upsampling model), in a loop;
//   - job flood: anonymous job submissions from ten addresses in a loop.
//
// It prints one line per phase:
//
//	PHASE legit_requests errors error_rate p50_ms p99_ms peak_rss_mib attack_requests
//
// peak_rss_mib is the largest VmRSS of -pid seen (sampled every 50 ms).
// Only 127.0.0.0/8 addresses are used; every loop stops at -duration.
//
//	soak -server http://127.0.0.1:PORT -pid PID -input test_input.npy [-token T] [-duration 45s] [-attack]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zoo-bioimage/zoo/tensor/npy"
)

func main() {
	server := flag.String("server", "", "zoo server URL (loopback)")
	pid := flag.Int("pid", 0, "the server's process id (for its RSS)")
	input := flag.String("input", "", "the nuclei model's test_input.npy")
	duration := flag.Duration("duration", 45*time.Second, "how long the phase runs")
	attack := flag.Bool("attack", false, "run the attacks beside the legitimate load")
	users := flag.Int("users", 4, "legitimate users (each from its own address)")
	token := flag.String("token", "", "API token the legitimate users submit jobs with (signed in)")
	flag.Parse()
	u, err := url.Parse(*server)
	if err != nil || !loopback(u.Hostname()) {
		fail("-server must be a loopback URL (127.0.0.0/8 or localhost)")
	}
	in, err := npy.ReadFile(*input)
	if err != nil {
		fail("%v", err)
	}
	nuclei, upsample := findModels(*server)
	if nuclei == "" {
		fail("no published model with an input 'raw' of 512×512 (seed the server with the fixtures)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()

	var rssPeak atomic.Int64
	go func() {
		for ctx.Err() == nil {
			if r := rss(*pid); r > rssPeak.Load() {
				rssPeak.Store(r)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()

	var attacks atomic.Int64
	var wg sync.WaitGroup
	if *attack {
		startAttacks(ctx, &wg, *server, nuclei, upsample, in.Data, &attacks)
	}

	head := fmt.Sprintf(`{"inputs":[{"name":"raw","shape":[1,1,512,512],"datatype":"FP32","parameters":{"binary_data_size":%d}}],"parameters":{"binary_data_output":true}}`, len(in.Data))
	v2body := append([]byte(head), in.Data...)
	npyBody, _ := os.ReadFile(*input)
	var mu sync.Mutex
	var lat []time.Duration
	errs := 0
	for i := range *users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clientFrom(fmt.Sprintf("127.0.1.%d", 1+i), 60*time.Second)
			for k := 0; ctx.Err() == nil; k++ {
				var req *http.Request
				switch k % 6 {
				case 0, 3:
					req, _ = http.NewRequest("GET", *server+"/api/v1/models", nil)
				case 1:
					req, _ = http.NewRequest("GET", *server+"/api/v1/search?q=nuclei", nil)
				case 2:
					req, _ = http.NewRequest("GET", *server+"/v2/models/"+nuclei, nil)
				case 4:
					req, _ = http.NewRequest("POST", *server+"/v2/models/"+nuclei+"/infer", bytes.NewReader(v2body))
					req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(len(head)))
				case 5:
					if k%24 != 5 { // a job now and then
						req, _ = http.NewRequest("GET", *server+"/healthz", nil)
						break
					}
					req, _ = http.NewRequest("POST", *server+"/api/v1/jobs?model="+nuclei, bytes.NewReader(npyBody))
					if *token != "" {
						req.Header.Set("Authorization", "Bearer "+*token)
					}
				}
				start := time.Now()
				ok := do(c, req)
				d := time.Since(start)
				if ctx.Err() != nil && !ok {
					break // cut off by the end of the phase
				}
				mu.Lock()
				lat = append(lat, d)
				if !ok {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	phase := "baseline"
	if *attack {
		phase = "attack"
	}
	fmt.Printf("%s %d %d %.4f %.1f %.1f %d %d\n", phase, len(lat), errs, float64(errs)/float64(max(1, len(lat))), q(0.5), q(0.99), rssPeak.Load()>>20, attacks.Load())
}

// do sends req and reports whether it got a 2xx answer read whole.
func do(c *http.Client, req *http.Request) bool {
	resp, err := c.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return err == nil && resp.StatusCode/100 == 2
}

func startAttacks(ctx context.Context, wg *sync.WaitGroup, server, nuclei, upsample string, data []byte, count *atomic.Int64) {
	addr := strings.TrimPrefix(server, "http://")
	// Slowloris: 300 connections from each of 4 addresses (1,200: more
	// than the server's 1,024 file descriptors).
	for a := range 4 {
		for range 300 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(fmt.Sprintf("127.0.2.%d", 1+a))}}
				for ctx.Err() == nil {
					c, err := d.DialContext(ctx, "tcp", addr)
					if err != nil {
						time.Sleep(100 * time.Millisecond)
						continue
					}
					count.Add(1)
					fmt.Fprintf(c, "POST /api/v1/jobs?model=%s HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n", nuclei)
					go func() { <-ctx.Done(); c.Close() }()
					io.Copy(io.Discard, c) // until the server closes it
					c.Close()
					time.Sleep(100 * time.Millisecond) // then open another
				}
			}()
		}
	}
	// /v2 memory: 64 MiB JSON bodies of a size the model refuses.
	var jb bytes.Buffer
	jb.WriteString(`{"inputs":[{"name":"raw","shape":[1,1,4096,4096],"datatype":"FP32","data":[`)
	jb.WriteString(strings.Repeat("0.5,", 4096*4096-1))
	jb.WriteString(`0.5]}]}`)
	big := jb.Bytes()
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clientFrom(fmt.Sprintf("127.0.3.%d", 1+i), 2*time.Minute)
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "POST", server+"/v2/models/"+nuclei+"/infer", bytes.NewReader(big))
				do(c, req)
				count.Add(1)
			}
		}()
	}
	// /v2 answers: 1000² in, 4000² out as JSON.
	if upsample != "" {
		head := fmt.Sprintf(`{"inputs":[{"name":"input","shape":[1,1,1000,1000],"datatype":"FP32","parameters":{"binary_data_size":%d}}]}`, 4000000)
		body := append([]byte(head), make([]byte, 4000000)...)
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := clientFrom(fmt.Sprintf("127.0.4.%d", 1+i), 2*time.Minute)
				for ctx.Err() == nil {
					req, _ := http.NewRequestWithContext(ctx, "POST", server+"/v2/models/"+upsample+"/infer", bytes.NewReader(body))
					req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(len(head)))
					do(c, req)
					count.Add(1)
				}
			}()
		}
	}
	// Job flood: anonymous submissions from 10 addresses.
	sub := make([]byte, 0, len(data)+128)
	sub = append(sub, npyHeader()...)
	sub = append(sub, data...)
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clientFrom(fmt.Sprintf("127.0.5.%d", 1+i), time.Minute)
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "POST", server+"/api/v1/jobs?model="+nuclei, bytes.NewReader(sub))
				if !do(c, req) {
					time.Sleep(200 * time.Millisecond)
				}
				count.Add(1)
			}
		}()
	}
}

// npyHeader is the .npy header of a float32 1×1×512×512 array.
func npyHeader() []byte {
	h := "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 512, 512), }"
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	b := []byte("\x93NUMPY\x01\x00")
	b = append(b, byte(len(h)), byte(len(h)>>8))
	return append(b, h...)
}

// findModels returns the ids of the published nuclei and upsampling
// models, found by their /v2 metadata.
func findModels(server string) (nuclei, upsample string) {
	resp, err := http.Get(server + "/api/v1/models")
	if err != nil {
		fail("%v", err)
	}
	defer resp.Body.Close()
	var models []struct{ ID string }
	var wrap struct{ Models []struct{ ID string } }
	b, _ := io.ReadAll(resp.Body)
	if json.Unmarshal(b, &models) != nil {
		json.Unmarshal(b, &wrap)
		models = wrap.Models
	}
	for _, m := range models {
		r, err := http.Get(server + "/v2/models/" + m.ID)
		if err != nil {
			continue
		}
		var md struct {
			Inputs []struct {
				Name  string
				Shape []int
			}
		}
		json.NewDecoder(r.Body).Decode(&md)
		r.Body.Close()
		if len(md.Inputs) == 1 && md.Inputs[0].Name == "raw" && slices.Contains(md.Inputs[0].Shape, 512) {
			nuclei = m.ID
		}
		if len(md.Inputs) == 1 && md.Inputs[0].Name == "input" {
			upsample = m.ID
		}
	}
	return nuclei, upsample
}

func clientFrom(ip string, timeout time.Duration) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Timeout: timeout, Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}}
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func rss(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "soak: "+format+"\n", args...)
	os.Exit(2)
}
