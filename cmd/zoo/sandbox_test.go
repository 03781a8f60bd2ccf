package main

import (
	"encoding/json"
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
