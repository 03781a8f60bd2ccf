package web

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
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

// TestReadyDetail: a readiness failure without a kind (a driver's raw
// error, with hosts and credentials) is reported as "a store is not
// reachable"; one with a message meant for people keeps it.
func TestReadyDetail(t *testing.T) {
	for _, c := range []struct {
		err          error
		want, absent string
	}{
		{errors.New("dial tcp 10.1.2.3:5432: password authentication failed for zoo_secret"), "a store is not reachable", "10.1.2.3"},
		{zoo.E("pg.Ping", zoo.Internal, errors.New("dial tcp 10.1.2.3:5432"), ""), "a store is not reachable", "10.1.2.3"},
		{zoo.E("pg.Ping", zoo.Unavailable, nil, "the catalog is in recovery"), "the catalog is in recovery", "a store is not reachable"},
	} {
		e := newEnv(t, Options{Ready: func(context.Context) error { return c.err }}, repo.Config{})
		p := e.problem(e.get("", "/readyz"), http.StatusServiceUnavailable)
		if !strings.Contains(p.Detail, c.want) || strings.Contains(p.Detail, c.absent) {
			t.Errorf("%v: detail %q, want %q without %q", c.err, p.Detail, c.want, c.absent)
		}
	}
}
