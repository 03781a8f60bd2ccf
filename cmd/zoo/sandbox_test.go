package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
)

// An uploaded model whose test allocates 4 GiB (testview/testdata/membomb)
// fails its test with the memory limit as the reason; the server's own
// memory does not grow with it, and it keeps answering.
func TestServeMemoryBombFailsItsTestInTheSandbox(t *testing.T) {
	needORT(t)
	t.Setenv("ZOO_TEST_MEMORY_MB", "1024")
	data := t.TempDir()
	storage := []string{"--data", data}
	alice := token(t, storage, "alice", "contributor")
	server, _ := startServe(t, "--data", data)

	out := zooOK(t, "upload", "--server", server, "--token", alice, copyDir(t, "../../testview/testdata/membomb"), "--json")
	var up struct{ ID string }
	if err := json.Unmarshal([]byte(out), &up); err != nil {
		t.Fatalf("upload printed %q", out)
	}
	r := waitTested(t, server, up.ID+"/1", alice)
	raw := zooOK(t, "show", "--server", server, up.ID+"/1", "--token", alice, "--json")
	var rep struct {
		TestReport struct {
			Message string `json:"message"`
			Limit   string `json:"limit"`
		} `json:"test_report"`
	}
	json.Unmarshal([]byte(raw), &rep)
	if r.TestStatus != "failed" || rep.TestReport.Limit != "memory" || !strings.Contains(rep.TestReport.Message, "more memory than the 1 GiB allowed") {
		t.Errorf("test status %s, report %+v; want failed by the memory limit", r.TestStatus, rep.TestReport)
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	if peak := ru.Maxrss << 10; peak > 1<<30 {
		t.Errorf("the server's peak RSS is %d MiB: the model ran inside it", peak>>20)
	}
	resp, err := http.Get(server + "/readyz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("the server stopped answering: %v %v", resp, err)
	}
}

// A published model runs in a bounded child process: a model whose memory
// grows with its input (testview/testdata/sizebomb: passes its 8×8 test,
// allocates 4 GiB for 512×512) fails each big /v2 call with the serving
// limit named, while the server's own memory stays small, it keeps
// answering, and the same model still serves small images.
func TestServePublishedMemoryBombRunsInChild(t *testing.T) {
	needORT(t)
	t.Setenv("ZOO_MODEL_MEMORY_MB", "1024")
	data := t.TempDir()
	storage := []string{"--data", data}
	alice := token(t, storage, "alice", "contributor")
	rita := token(t, storage, "rita", "reviewer")
	server, _ := startServe(t, "--data", data)
	out := zooOK(t, "upload", "--server", server, "--token", alice, copyDir(t, "../../testview/testdata/sizebomb"), "--json")
	var up struct{ ID string }
	if err := json.Unmarshal([]byte(out), &up); err != nil {
		t.Fatalf("upload printed %q", out)
	}
	if r := waitTested(t, server, up.ID+"/1", alice); r.TestStatus != "passed" {
		t.Fatalf("the test did not pass: %+v", r)
	}
	zooOK(t, "review", "--server", server, "--token", rita, "accept", up.ID+"/1")

	infer := func(side int) (int, string) {
		body := fmt.Sprintf(`{"inputs":[{"name":"x","shape":[1,1,%d,%d],"datatype":"FP32","data":[`, side, side) + strings.TrimSuffix(strings.Repeat("0.5,", side*side), ",") + `]}]}`
		resp, err := http.Post(server+"/v2/models/"+up.ID+"/infer", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode, string(b)
	}
	for i := 0; i < 2; i++ {
		if code, b := infer(512); code != http.StatusRequestEntityTooLarge || !strings.Contains(b, "more memory than the 1024 MiB this server allows one model") {
			t.Errorf("infer 512×512 (%d): %d %s", i, code, b)
		}
	}
	if code, b := infer(16); code != http.StatusOK {
		t.Errorf("infer 16×16 after the failures: %d %s", code, b)
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	if peak := ru.Maxrss << 10; peak > 1<<30 {
		t.Errorf("the server's peak RSS is %d MiB: the model ran inside it", peak>>20)
	}
	if resp, err := http.Get(server + "/api/v1/models"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("the server stopped answering: %v %v", resp, err)
	}
}
