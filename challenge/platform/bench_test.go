package platform

import (
	"archive/zip"
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/score"
	"github.com/zoo-bioimage/zoo/sqlite"
)

// BenchmarkSubmit is one predictions submission end to end on SQLite:
// checked on submission, recorded within the limits, scored (PSNR and
// SSIM on 4 images of 512×512) and its scores stored.
func BenchmarkSubmit(b *testing.B) {
	dir := b.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "zoo.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	blobs, _ := disk.New(filepath.Join(dir, "blobs"))
	svc := &Service{Store: db.Challenges(), Repo: repo.New(db, blobs, nil, repo.Config{})}
	org, _ := db.CreateUser(ctx, "olga", zoo.RoleReviewer)
	u, _ := db.CreateUser(ctx, "alice", zoo.RoleContributor)
	var files []NewFile
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	for i := range 4 {
		name := fmt.Sprintf("img%02d.npy", i)
		truth := enc(b, pattern(b, 512, 512, float32(i)))
		files = append(files, NewFile{Kind: challenge.Input, Name: name, Data: truth}, NewFile{Kind: challenge.Truth, Name: name, Data: truth})
		w, _ := zw.Create(name)
		w.Write(enc(b, pattern(b, 512, 512, float32(i)+0.5)))
	}
	zw.Close()
	now := time.Now()
	c := &challenge.Challenge{Slug: "bench", Title: "Bench", Metrics: []challenge.Metric{{Name: score.MetricPSNR}, {Name: score.MetricSSIM}},
		Phases: []challenge.Phase{{Name: "final", OpensAt: now.Add(-time.Hour), ClosesAt: now.Add(time.Hour), PerDay: 1 << 30, Total: 1 << 30}}}
	if err := svc.Create(ctx, org, c, files); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(zbuf.Len()))
	b.ResetTimer()
	for b.Loop() {
		s, err := svc.Submit(ctx, u, "bench", "final", zbuf.Bytes(), "")
		if err != nil || s.Status != challenge.StatusScored {
			b.Fatal(err)
		}
	}
}
