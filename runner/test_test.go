package runner

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
)

// needORT skips a test when the ONNX Runtime library is missing, except
// in CI, where it must be there.
func needORT(t testing.TB) {
	t.Helper()
	if _, err := os.Stat("../lib/libonnxruntime.so.1"); err != nil && os.Getenv("CI") == "" {
		t.Skip("ONNX Runtime not installed (run scripts/install-onnxruntime.sh)")
	}
}

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
