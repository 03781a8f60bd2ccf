package oip

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestAdmission(t *testing.T) {
	lim := Limits{MaxConcurrent: 2, MaxPerClient: 1, MaxInFlight: 100 << 20, QueueWait: 200 * time.Millisecond}.withDefaults()
	a := newAdmission(lim)
	ctx := context.Background()
	status := func(err error) int {
		var rf *refusal
		if errors.As(err, &rf) {
			return rf.status
		}
		return 0
	}
	// Larger than a client's half: 413 at once.
	if _, err := a.admit(ctx, "x", 51<<20); status(err) != 413 {
		t.Fatalf("over the client's share: %v", err)
	}
	big1, err := a.admit(ctx, "a", 20<<20)
	if err != nil {
		t.Fatal(err)
	}
	// The same client waits for its own request, then gets 429.
	start := time.Now()
	if _, err := a.admit(ctx, "a", 20<<20); status(err) != 429 || time.Since(start) < 150*time.Millisecond || !strings.Contains(err.Error(), "per client") {
		t.Fatalf("second request of one client: %v after %v", err, time.Since(start))
	}
	big2, err := a.admit(ctx, "b", 20<<20)
	if err != nil {
		t.Fatal(err)
	}
	// Two large requests run: a third client's large one waits and gets in
	// when one ends.
	go func() { time.Sleep(50 * time.Millisecond); big1.release() }()
	big3, err := a.admit(ctx, "c", 20<<20)
	if err != nil {
		t.Fatalf("waiting for a place: %v", err)
	}
	// Small requests have their own places.
	small, err := a.admit(ctx, "d", 1<<20)
	if err != nil {
		t.Fatalf("a small request behind large ones: %v", err)
	}
	// grow past the bytes in flight: 429; past the client's half: 413.
	if err := small.grow(45 << 20); err != nil {
		t.Fatalf("grow within limits: %v", err)
	}
	if err := big3.grow(20 << 20); status(err) != 429 {
		t.Fatalf("grow past the bytes in flight: %v", err)
	}
	if err := small.grow(10 << 20); status(err) != 413 {
		t.Fatalf("grow past the client's half: %v", err)
	}
	for _, tk := range []*ticket{big2, big3, small, big1} {
		tk.release()
	}
	if a.bytes != 0 || a.running != 0 || a.small != 0 || len(a.clients) != 0 {
		t.Fatalf("after every release: %d bytes, %d+%d running, %d clients", a.bytes, a.running, a.small, len(a.clients))
	}
}

// Decoding a JSON request allocates its tensor and the JSON part, not a
// copy of the tensor's text (today: json.RawMessage copied every input's
// data).
func TestDecodeDoesNotCopyData(t *testing.T) {
	const n = 1 << 20
	var b bytes.Buffer
	b.WriteString(`{"inputs":[{"name":"a","shape":[1048576],"datatype":"FP32","data":[`)
	b.WriteString(strings.Repeat("0.25,", n-1))
	b.WriteString(`0.25]}]}`)
	body := b.Bytes()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	req, err := ReadRequest(bytes.NewReader(body), int64(len(body)), -1, Limits{}, nil)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	got := after.TotalAlloc - before.TotalAlloc
	want := uint64(len(body)) + 4*n // the JSON part read once, and the tensor
	if got > want+want/8 {
		t.Fatalf("decoding a %d-byte body allocated %d bytes; at most %d expected (body + tensor)", len(body), got, want+want/8)
	}
	if req.Inputs[0].Tensor.Float32s()[n-1] != 0.25 {
		t.Fatal("wrong value")
	}
}

// skim finds only the inputs' data arrays, past brackets inside strings,
// and hands the rest to encoding/json unchanged.
func TestSkim(t *testing.T) {
	head := `{"id":"[x]","parameters":{"data":"[","p":1},"inputs":[{"name":"a\"]","data":[[1,2],[3,"]"]],"shape":[2,2]},{"name":"b","shape":[1],"data":5},{"data" : [7]}],"outputs":[{"name":"data","parameters":{"data":[1]}}]}`
	skel, spans := skim([]byte(head))
	want := `{"id":"[x]","parameters":{"data":"[","p":1},"inputs":[{"name":"a\"]","data":null,"shape":[2,2]},{"name":"b","shape":[1],"data":5},{"data" : null}],"outputs":[{"name":"data","parameters":{"data":[1]}}]}`
	if string(skel) != want {
		t.Fatalf("skeleton\n%s\nwant\n%s", skel, want)
	}
	if len(spans) != 3 || string(spans[0]) != `[[1,2],[3,"]"]]` || spans[1] != nil || string(spans[2]) != `[7]` {
		t.Fatalf("spans %q", spans)
	}
	// A number where data should be an array is refused, not taken for
	// another input's data.
	if _, err := DecodeRequest([]byte(`{"inputs":[{"name":"a","shape":[1],"datatype":"FP32","data":[1]},{"name":"b","shape":[1],"datatype":"FP32","data":0}]}`), -1, Limits{}); err == nil {
		t.Fatal("data 0 accepted")
	}
}
