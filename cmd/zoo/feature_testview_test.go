package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/blob/s3"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/postgres/pgtest"

	"github.com/zoo-bioimage/zoo/tensor/npy"
	"github.com/zoo-bioimage/zoo/testview"
	"github.com/zoo-bioimage/zoo/testview/testviewtest"
)

// zoo serve's test jobs keep the produced tensor of a package whose test
// output does not reproduce: the report lists it, its uploader downloads
// it (anonymous callers get 404), zoo gc keeps it. SQLite + disk, tests
// run by serve's own worker.
func TestServeKeepsProducedTensor(t *testing.T) {
	data := t.TempDir()
	producedFlow(t, []string{"--data", data}, []string{"--workers", "1"}, nil, func(sha string) bool {
		_, ok := walkDiskBlobs(t, filepath.Join(data, "blobs", "blobs"))[sha]
		return ok
	})
}

// The same on PostgreSQL + S3, the test run by a separate zoo worker.
func TestServeKeepsProducedTensorPostgresS3(t *testing.T) {
	s3URL := testenv.Env(t, testenv.S3, "ZOO_TEST_S3")
	dsn := pgtest.DSN(t)
	u, err := url.Parse(s3URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/produced-" + strings.ToLower(rand.Text()[:10])
	blobs := u.String()
	store, err := s3.New(blobs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		var keys []string
		store.Walk(ctx, func(sha string, _ int64) error { keys = append(keys, sha); return nil })
		for _, k := range keys {
			store.Delete(ctx, k)
		}
		store.CleanTemp(ctx, 0)
	})
	producedFlow(t, []string{"--db", dsn, "--blobs", blobs}, []string{"--workers", "0"}, []string{"--concurrency", "1"}, func(sha string) bool {
		_, err := store.Stat(context.Background(), sha)
		return err == nil
	})
}

// producedFlow uploads the broken package to a server on storage and
// checks what its failed test kept; worker, if not nil, are the flags of
// a separate zoo worker.
func producedFlow(t *testing.T, storage, serve, worker []string, hasBlob func(sha string) bool) {
	t.Helper()
	needORT(t)
	catalog := storage // zoo admin takes --data or --db, not --blobs
	if len(storage) == 4 && storage[2] == "--blobs" {
		catalog = storage[:2]
	}
	alice := token(t, catalog, "alice", "contributor")
	server, _ := startServe(t, append(append([]string{}, storage...), serve...)...)
	if worker != nil {
		background(t, regexp.MustCompile(`zoo worker: running`), append(append([]string{"worker"}, storage...), worker...)...)
	}

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
	if out := zooOK(t, append([]string{"gc"}, storage...)...); out != "0 unreferenced blob(s) deleted\n" {
		t.Errorf("zoo gc printed %q", out)
	}
	if !hasBlob(ps[0].SHA256) {
		t.Errorf("the produced blob is gone after gc")
	}
}
