package feed

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/sqlite"
)

// bigFake has n published versions (n/5 models × 5 versions), one in 50
// retired, every tenth model tagged "rare".
func bigFake(n int) *fake {
	f := &fake{descs: map[string]*spec.Model{}}
	for i := range n / 5 {
		id := fmt.Sprintf("m-%06d", i)
		d := &spec.Model{Name: "Model " + id, Description: "Segments nuclei in fluorescence images of cells; version notes follow.",
			License: "CC-BY-4.0", Tags: []string{"segmentation", "nuclei", "2d", "fluorescence"},
			Authors: []spec.Author{{Name: "Ada Lovelace", ORCID: "0000-0002-1825-0097"}, {Name: "Charles Babbage"}}}
		if i%10 == 0 {
			d.Tags = append(d.Tags, "rare")
		}
		f.descs[id] = d
		for k := 1; k <= 5; k++ {
			v := ver(id, k, zoo.StatePublished, i*5+k)
			it := Item{Version: v, Type: "model"}
			if (i*5+k)%50 == 0 {
				v.State, v.RetiredReason = zoo.StateRetired, "superseded"
				it.Retired = v.PublishedAt.Add(time.Minute)
			}
			f.items = append(f.items, it)
		}
	}
	return f
}

func benchServe(b *testing.B, h *Handler, path string) {
	b.Helper()
	model, _, _ := strings.Cut(strings.TrimPrefix(path, "/models/"), "/feed.atom")
	run := func() int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", path, nil)
		if strings.HasPrefix(path, "/models/") {
			req.SetPathValue("id", model)
			h.ServeModel(rec, req)
		} else {
			h.ServeInstance(rec, req)
		}
		if rec.Code != 200 {
			b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		return rec.Body.Len()
	}
	run() // warm the per-version cache
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		b.SetBytes(int64(run()))
	}
}

// The feed over 10,000 published versions held in memory: the cost of
// sorting the events and writing the entries (descriptions cached).
func BenchmarkFeed10k(b *testing.B) {
	h := New(bigFake(10_000), Options{Base: "https://zoo.example.org"})
	for _, c := range []struct{ name, path string }{
		{"default50", "/feed.atom"},
		{"limit200", "/feed.atom?limit=200"},
		{"tagRare", "/feed.atom?tag=rare&tag=nuclei"},
		{"tagNone", "/feed.atom?tag=absent"},
		{"model", "/models/m-000123/feed.atom"},
	} {
		b.Run(c.name, func(b *testing.B) { benchServe(b, h, c.path) })
	}
}

// The feed over 10,000 published versions in an SQLite catalog, through
// RepoSource (every request lists the public versions and models).
func BenchmarkFeedSQLite10k(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "zoo.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	blobs, err := disk.New(filepath.Join(dir, "blobs"))
	if err != nil {
		b.Fatal(err)
	}
	u, err := db.CreateUser(ctx, "bench", zoo.RoleContributor)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for i := range 2000 {
		id := fmt.Sprintf("m-%06d", i)
		if err := db.CreateModel(ctx, &zoo.Model{ID: id, Type: "model", OwnerID: u.ID}); err != nil {
			b.Fatal(err)
		}
		for k := 1; k <= 5; k++ {
			h := fmt.Sprintf("%064x", i*5+k)
			v := &zoo.Version{ModelID: id, UploaderID: u.ID, State: zoo.StatePublished, Name: "Model " + id,
				Description: "Segments nuclei.", FormatVersion: "0.5.4", DescriptionFile: "rdf.yaml",
				Files:         []zoo.File{{Path: "rdf.yaml", SHA256: h, Size: 10}, {Path: "weights.onnx", SHA256: h, Size: 1000}},
				PackageSHA256: h, PackageSize: 1010}
			if err := db.CreateVersion(ctx, nil, v, zoo.AuditEntry{ActorID: u.ID, Action: "upload", Detail: "published"}); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Logf("stored 10,000 published versions in %v", time.Since(start).Round(time.Millisecond))
	svc := repo.New(db, blobs, nil, repo.Config{TempDir: b.TempDir()})
	h := New(RepoSource(svc), Options{Base: "https://zoo.example.org"})
	b.Run("default50", func(b *testing.B) { benchServe(b, h, "/feed.atom") })
	b.Run("model", func(b *testing.B) { benchServe(b, h, "/models/m-000123/feed.atom") })
}
