package challenge

import (
	"archive/zip"
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo/score"
)

// BenchmarkReadPredictions reads and checks a zip of 8 float32 predictions
// of 512×512 (8 MiB), as every submission is read twice: on submission
// and when scored.
func BenchmarkReadPredictions(b *testing.B) {
	var names []string
	shapes := map[string][]int{}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i := range 8 {
		name := fmt.Sprintf("img%02d.npy", i)
		names = append(names, name)
		shapes[name] = []int{512, 512}
		w, _ := zw.Create(name)
		w.Write(npyBytes(b, img(b, []int{512, 512}, float32(i))))
	}
	zw.Close()
	data := buf.Bytes()
	b.SetBytes(8 * 512 * 512 * 4)
	b.ResetTimer()
	for b.Loop() {
		if _, err := ReadPredictions(data, names, shapes, nil, ZipLimits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLeaderboard ranks 5,000 scored submissions of 1,000
// participants by the mean rank over 3 metrics, keeping each one's best.
func BenchmarkLeaderboard(b *testing.B) {
	c := &Challenge{Ranking: RankMeanRank, Metrics: []Metric{{Name: score.MetricPSNR}, {Name: score.MetricSSIM}, {Name: score.MetricMAE}}}
	rng := rand.New(rand.NewPCG(1, 2))
	var subs []*Submission
	for i := range 5000 {
		subs = append(subs, &Submission{ID: int64(i + 1), UserID: int64(i % 1000), Phase: "p", Status: StatusScored, CreatedAt: time.Unix(int64(i), 0),
			Scores: map[string]Value{"psnr": Value(20 + rng.Float64()*10), "ssim": Value(rng.Float64()), "mae": Value(float64(rng.IntN(100)) / 100)}})
	}
	b.ResetTimer()
	for b.Loop() {
		if rows := Leaderboard(c, "p", subs); len(rows) != 1000 {
			b.Fatal(len(rows))
		}
	}
}
