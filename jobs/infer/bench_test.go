package infer_test

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

// BenchmarkJob compares a whole job — POST the image, the worker's run
// (claim, model from the cache, tiled prediction with a heartbeat per
// tile, result stored), GET the result — with the same prediction in
// process (model loaded once, as the cache keeps it), on the nuclei model
// (512² tiles) for images of 512² and 2048² (25 tiles). Embedded storage
// (SQLite, blob files); the queue is called directly, so queue latency
// (River's poll, 1 s at most) is not included.
func BenchmarkJob(b *testing.B) {
	needONNX(b)
	for _, size := range []int{512, 2048} {
		img := big(b, size)
		name := strconv.Itoa(size)
		b.Run("in-process/"+name, func(b *testing.B) {
			pkg, err := runner.Load(fixtures.Path(b, "packages", nuclei), runner.LoadOptions{})
			if err != nil {
				b.Fatal(err)
			}
			p, err := runner.NewPredictor(pkg, "", runner.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close()
			for b.Loop() {
				x, err := npy.Read(bytes.NewReader(img))
				if err != nil {
					b.Fatal(err)
				}
				in, err := runner.ToInput(x, &pkg.Model.Inputs[0], []string{"y", "x"})
				if err != nil {
					b.Fatal(err)
				}
				s := runner.Sample{pkg.Model.Inputs[0].ID: in}
				if err := p.UseDatasetStats([]runner.Sample{s}); err != nil {
					b.Fatal(err)
				}
				out, err := p.PredictTiled(context.Background(), s, runner.Tiling{})
				if err != nil {
					b.Fatal(err)
				}
				var buf bytes.Buffer
				npy.Write(&buf, out[pkg.Model.Outputs[0].ID])
			}
		})
		b.Run("job/"+name, func(b *testing.B) {
			r := newRig(b, nil)
			i := 0
			for b.Loop() {
				v := r.accepted("model="+r.v.ModelID+"&axes=yx", "", img)
				if err := r.work(context.Background(), i, 1); err != nil {
					b.Fatal(err)
				}
				i++
				resp, body := r.get("/api/v1/jobs/" + v.ID + "/result?format=npy")
				if resp.StatusCode != http.StatusOK || len(body) < size*size*4 {
					b.Fatalf("result: %s", resp.Status)
				}
			}
		})
	}
}
