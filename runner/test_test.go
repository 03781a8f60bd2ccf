package runner

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
)

var fixturePackages = []string{"unet2d-nuclei-broad-onnx", "unet2d-diff-output-shape-onnx", "unet2d-multi-tensor-onnx", "upsample-onnx"}

func TestFixturePackagesPass(t *testing.T) {
	needORT(t)
	for _, name := range fixturePackages {
		t.Run(name, func(t *testing.T) {
			dir := fixtures.Path(t, "packages", name)
			rep := Test(context.Background(), dir, TestOptions{SaveDir: t.TempDir()})
			b, _ := json.MarshalIndent(rep, "", "  ")
			t.Logf("%s", b)
			if rep.Status != StatusPassed {
				t.Fatalf("status %s: %s", rep.Status, rep.Message)
			}
		})
	}
}
