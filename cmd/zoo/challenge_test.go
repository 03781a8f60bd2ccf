package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
)

// zoo serve --seed (what make run does) seeds the example challenge with
// a live leaderboard; zoo challenge submits to it and reads it.
func TestSeededChallenge(t *testing.T) {
	needORT(t)
	seed := fixtures.Path(t, "packages")
	data := t.TempDir()
	storage := []string{"--data", data}
	dave := token(t, storage, "dave", "contributor")
	server, _ := startServe(t, append(storage, "--seed", seed)...)

	out := zooOK(t, "challenge", "leaderboard", "--server", server, "nuclei-demo", "final")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "rank") || !strings.Contains(lines[1], "zoo-examples") || !strings.Contains(lines[1], "model") ||
		!strings.Contains(lines[5], "1224") {
		t.Fatalf("seeded leaderboard:\n%s", out)
	}
	csv := zooOK(t, "challenge", "leaderboard", "--server", server, "nuclei-demo", "final", "--csv")
	if !strings.HasPrefix(csv, "rank,user,submission,kind,model,created_at,mean_rank,psnr,psnr_rank,ssim,ssim_rank\n1,zoo-examples,") {
		t.Errorf("CSV export:\n%s", csv)
	}

	// A folder of predictions: the public training target stands in for
	// both hidden images (same shape), so it scores, badly.
	resp, err := http.Get(server + "/api/v1/challenges/nuclei-demo/files/train_truth_01.npy")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("public file: %v %v", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "img01.npy"), body, 0o644)
	code, msg := zooFail(t, "challenge", "submit", "--server", server, "--token", dave, "nuclei-demo", "final", dir)
	if code != 1 || !strings.Contains(msg, `missing prediction for hidden input "img02.npy"`) {
		t.Errorf("a folder without img02.npy: exit %d, %s", code, msg)
	}
	os.WriteFile(filepath.Join(dir, "img02.npy"), body, 0o644)
	out = zooOK(t, "challenge", "submit", "--server", server, "--token", dave, "nuclei-demo", "final", dir, "--wait", "1m")
	if !strings.Contains(out, ": scored") || !strings.Contains(out, "psnr: ") {
		t.Errorf("submit --wait printed %q", out)
	}
	if out := zooOK(t, "challenge", "leaderboard", "--server", server, "nuclei-demo", "final"); !strings.Contains(out, "dave") {
		t.Errorf("dave is not on the leaderboard:\n%s", out)
	}
	if code, msg := zooFail(t, "challenge", "submit", "--server", server, "nuclei-demo", "final", dir); code != 1 || !strings.Contains(msg, "log in") {
		t.Errorf("without a token: exit %d, %s", code, msg)
	}
}
