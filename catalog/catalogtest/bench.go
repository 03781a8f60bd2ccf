package catalogtest

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
)

// Bench measures metadata reads per second on c, which must be empty. It
// stores BenchModels models of 5 versions each (1–3 published, 4
// submitted, 5 draft; 8 files each), then runs, from GOMAXPROCS
// goroutines at once (b.RunParallel):
//
//   - Version: a random model's random version, with its files;
//   - LatestPublished: a random model's latest published version.
//
// Each reports reads/s (all goroutines together) besides ns/op.
func Bench(b *testing.B, c zoo.Catalog) {
	const versions = 5
	start := time.Now()
	u, err := c.CreateUser(ctx, "bench", zoo.RoleContributor)
	if err != nil {
		b.Fatal(err)
	}
	for i := range BenchModels {
		id := fmt.Sprintf("model-%03d", i)
		if err := c.CreateModel(ctx, &zoo.Model{ID: id, OwnerID: u.ID}); err != nil {
			b.Fatal(err)
		}
		for n := 1; n <= versions; n++ {
			v := newVersion(id, u.ID, fmt.Sprint(n))
			for f := range 6 {
				v.Files = append(v.Files, zoo.File{Path: fmt.Sprintf("test/%d.npy", f), SHA256: hash(fmt.Sprint(id, n, f)), Size: 4096})
			}
			v.ValidationReport = []byte(`{"status":"valid-format","errors":[],"warnings":[]}`)
			v.State = zoo.StatePublished // 1–3 published, 4 submitted, 5 draft
			switch n {
			case 4:
				v.State = zoo.StateSubmitted
			case 5:
				v.State = zoo.StateDraft
			}
			if err := c.CreateVersion(ctx, nil, v, uploadEntry(v)); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Logf("stored %d models × %d versions in %v", BenchModels, versions, time.Since(start).Round(time.Millisecond))

	run := func(name string, read func(r *rand.Rand) error) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := rand.New(rand.NewPCG(rand.Uint64(), 0))
				for pb.Next() {
					if err := read(r); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reads/s")
		})
	}
	run("Version", func(r *rand.Rand) error {
		_, err := c.Version(ctx, fmt.Sprintf("model-%03d", r.IntN(BenchModels)), 1+r.IntN(versions))
		return err
	})
	run("LatestPublished", func(r *rand.Rand) error {
		v, err := c.LatestPublished(ctx, fmt.Sprintf("model-%03d", r.IntN(BenchModels)))
		if err == nil && v.Number != 3 {
			err = fmt.Errorf("latest published is %d, want 3", v.Number)
		}
		return err
	})
}

// BenchModels is how many models Bench stores.
const BenchModels = 200
