package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"testing"

	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/testview"
	"github.com/zoo-bioimage/zoo/testview/testviewtest"
)

// zoo serve's test jobs keep the produced tensor of a package whose test
// output does not reproduce: the report lists it, its uploader downloads
// it (anonymous callers get 404), zoo gc keeps it.
func TestServeKeepsProducedTensor(t *testing.T) {
	data := t.TempDir()
	storage := []string{"--data", data}
	alice := token(t, storage, "alice", "contributor")
	server, _ := startServe(t, "--data", data, "--workers", "1")

	out := zooOK(t, "upload", "--server", server, "--token", alice, testviewtest.BrokenPackage(t, 0.5), "--json")
	var up struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &up); err != nil || up.ID == "" {
		t.Fatalf("zoo upload printed %q", out)
	}
	ref := up.ID + "/1"
	if r := waitTested(t, server, ref, alice); r.TestStatus != "failed" {
		t.Fatalf("test status %s", r.TestStatus)
	}
	// The report, as the API returns it.
	req, _ := http.NewRequest("GET", server+"/api/v1/models/"+up.ID+"/versions/1", nil)
	req.Header.Set("Authorization", "Bearer "+alice)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		TestReport struct {
			Formats map[string]struct {
				Produced []struct {
					Format, Output, SHA256, DType string
					Size                          int64
					Shape                         []int
				} `json:"produced"`
			} `json:"formats"`
		} `json:"test_report"`
	}
	err = json.NewDecoder(resp.Body).Decode(&v)
	resp.Body.Close()
	ps := v.TestReport.Formats["onnx"].Produced
	if err != nil || len(ps) != 1 || ps[0].Output != "probability" || ps[0].DType != "float32" || len(ps[0].SHA256) != 64 {
		t.Fatalf("report's produced tensors %+v (%v)", ps, err)
	}

	url := server + testview.URL(up.ID, 1, "onnx", "probability", "npy")
	get := func(tok string) (int, []byte) {
		req, _ := http.NewRequest("GET", url, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, body := get(alice)
	if code != 200 || sha(body) != ps[0].SHA256 {
		t.Fatalf("uploader: %d, sha %s, want %s", code, sha(body), ps[0].SHA256)
	}
	if x, err := npy.Read(bytes.NewReader(body)); err != nil || len(x.Shape) != 4 || x.Shape[3] != 512 {
		t.Errorf("the download is not the 1×1×512×512 tensor: %v", err)
	}
	if code, _ := get(""); code != 404 {
		t.Errorf("anonymous: %d, want 404", code)
	}
	// The route is documented in the served OpenAPI document.
	if resp, err := http.Get(server + "/api/openapi.json"); err != nil {
		t.Fatal(err)
	} else {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(b, []byte(`"/api/v1/models/{id}/versions/{n}/test/produced/{format}/{file}"`)) || !bytes.Contains(b, []byte(`"getProducedTensor"`)) {
			t.Errorf("OpenAPI lacks the produced-tensor route")
		}
	}
	// zoo gc keeps the referenced produced tensor.
	if out := zooOK(t, "gc", "--data", data); out != "0 unreferenced blob(s) deleted\n" {
		t.Errorf("zoo gc printed %q", out)
	}
	if _, ok := walkDiskBlobs(t, filepath.Join(data, "blobs", "blobs"))[ps[0].SHA256]; !ok {
		t.Errorf("the produced blob is gone after gc")
	}
}
