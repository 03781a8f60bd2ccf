package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/search"
)

// Seeded examples are found by zoo search and GET /api/v1/search (the
// feature's start hook indexes them); an uploaded, unpublished version is
// not; an accepted one is, at once.
func TestSearchServeAndCLI(t *testing.T) {
	needORT(t)
	seed := t.TempDir()
	if err := os.Rename(copyDir(t, fixtures.Path(t, "packages", "upsample-onnx")), filepath.Join(seed, "upsample")); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	storage := []string{"--data", data}
	alice := token(t, storage, "alice", "contributor")
	rita := token(t, storage, "rita", "reviewer")
	server, _ := startServe(t, append(storage, "--seed", seed, "--workers", "0")...)

	var hits []search.Hit
	if err := json.Unmarshal([]byte(zooOK(t, "search", "--server", server, "scaling", "--json")), &hits); err != nil {
		t.Fatal(err)
	}
	if len(hits) != 1 || hits[0].ID == "" || hits[0].Name != "Test_scaling" || hits[0].Test != "reproduces" || hits[0].Version != 1 {
		t.Fatalf("zoo search scaling --json: %+v", hits)
	}
	seeded := hits[0].ID

	// An upload stays invisible until accepted.
	var up struct{ ID string }
	dir := copyDir(t, fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx"))
	json.Unmarshal([]byte(zooOK(t, "upload", "--server", server, "--token", alice, dir, "--json")), &up)
	out := zooOK(t, "search", "--server", server, "--token", rita, "nuclei")
	if !strings.Contains(out, "no models found (0 matches)") {
		t.Errorf("an unpublished upload is found:\n%s", out)
	}
	// No test ran (--workers 0): accepting a pending version is allowed or
	// not by repo's rules; only if it is published must it be found.
	if code, _ := zooFail(t, "review", "--server", server, "--token", rita, "accept", up.ID+"/1"); code == 0 {
		out = zooOK(t, "search", "--server", server, "nuclei")
		if !strings.Contains(out, up.ID+"/1") || !strings.Contains(out, "1–1 of 1") {
			t.Errorf("an accepted version is not found:\n%s", out)
		}
	}

	// The table, filters and facets over HTTP.
	out = zooOK(t, "search", "--server", server, "--test", "reproduces")
	if !strings.Contains(out, "ID/N") || !strings.Contains(out, seeded+"/1") || !strings.Contains(out, "Test_scaling") {
		t.Errorf("zoo search --test reproduces:\n%s", out)
	}
	resp, err := http.Get(server + "/api/v1/search?q=scal&weight_format=onnx&dims=2d")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var res search.Results
	if err := json.Unmarshal(body, &res); err != nil || resp.StatusCode != 200 || res.Total != 1 || len(res.Facets["weight_format"]) == 0 {
		t.Errorf("GET /api/v1/search: %d %s", resp.StatusCode, body)
	}
	// Bad input is the server's refusal: exit 1 with its message.
	if code, msg := zooFail(t, "search", "--server", server, "--sort", "name"); code != 1 || !strings.Contains(msg, "unknown sort") {
		t.Errorf("--sort name: exit %d, %s", code, msg)
	}
	// The route is in the OpenAPI document.
	resp, err = http.Get(server + "/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `"/api/v1/search"`) {
		t.Errorf("OpenAPI lacks /api/v1/search")
	}
}
