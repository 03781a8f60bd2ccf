package web

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/repo"
)

// TestReadyWithoutBlobStore: a server whose blob store is gone (folder
// removed or unmounted) is not ready (503 naming the store), though the
// catalog answers; a load balancer then stops sending it downloads.
func TestReadyWithoutBlobStore(t *testing.T) {
	root := filepath.Join(t.TempDir(), "blobs")
	blobs, err := disk.New(root)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvBlobs(t, Options{}, repo.Config{}, blobs)
	if r := e.get("", "/readyz"); r.StatusCode != 200 {
		t.Fatalf("readyz with its blob store: %d %s", r.StatusCode, r.body)
	}
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	r := e.get("", "/readyz")
	p := e.problem(r, http.StatusServiceUnavailable)
	if !strings.Contains(p.Detail, "blob store") || r.Header.Get("Retry-After") == "" {
		t.Errorf("readyz without its blob store: %q, Retry-After %q", p.Detail, r.Header.Get("Retry-After"))
	}
}
