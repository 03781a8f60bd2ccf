package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
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
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "rank") || !strings.Contains(out, "zoo-examples") || !strings.Contains(out, " model ") ||
		!strings.Contains(lines[5], "1224") {
		t.Fatalf("seeded leaderboard:\n%s", out)
	}
	csv := zooOK(t, "challenge", "leaderboard", "--server", server, "nuclei-demo", "final", "--csv")
	if !strings.HasPrefix(csv, "rank,user,submission,kind,model,created_at,mean_rank,psnr,psnr_rank,ssim,ssim_rank\n") || !strings.Contains(csv, ",zoo-examples,") {
		t.Errorf("CSV export:\n%s", csv)
	}
	// The hidden truth is independent of the models (issue 15: it was the
	// nuclei model's own test output, which then scored PSNR infinity):
	// every submission, the model's included, scores finite and imperfect.
	for _, line := range strings.Split(strings.TrimSpace(csv), "\n")[1:] {
		f := strings.Split(line, ",")
		psnr, err := strconv.ParseFloat(f[7], 64)
		ssim, err2 := strconv.ParseFloat(f[9], 64)
		if err != nil || err2 != nil || psnr > 40 || ssim >= 0.99 {
			t.Errorf("a seeded submission scores as if it knew the truth: %s", line)
		}
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
	if code != 1 || !strings.Contains(msg, `missing prediction for test input "img02.npy"`) {
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

// writeNpy writes a small float32 image to dir/name.
func writeNpy(t *testing.T, dir, name string, base float32) string {
	t.Helper()
	x, err := tensor.New(tensor.Float32, []int{4, 4})
	if err != nil {
		t.Fatal(err)
	}
	for i := range x.Float32s() {
		x.Float32s()[i] = base + float32(i)
	}
	var b bytes.Buffer
	if err := npy.Write(&b, x); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// zoo challenge update, withdraw and disqualify against a server: the
// organiser edits (the change is recorded), a participant cannot; the
// participant withdraws, the organiser disqualifies and reinstates.
func TestChallengeUpdateCLI(t *testing.T) {
	data := t.TempDir()
	storage := []string{"--data", data}
	rita := token(t, storage, "rita", "reviewer")
	dave := token(t, storage, "dave", "contributor")
	server, _ := startServe(t, storage...)
	dir, preds := t.TempDir(), t.TempDir()
	opens := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	spec, _ := json.Marshal(map[string]any{"slug": "cli-demo", "title": "CLI demo", "metrics": []map[string]any{{"name": "mse"}},
		"phases": []map[string]any{{"name": "dev", "opens_at": opens, "closes_at": opens.Add(48 * time.Hour), "per_day": 5, "total": 5}}})
	os.WriteFile(filepath.Join(dir, "spec.json"), spec, 0o644)
	in := writeNpy(t, dir, "img01.npy", 1)
	truth := writeNpy(t, t.TempDir(), "img01.npy", 50)
	writeNpy(t, preds, "img01.npy", 51)
	zooOK(t, "challenge", "create", "--server", server, "--token", rita, "--spec", filepath.Join(dir, "spec.json"), "--input", in, "--truth", truth)

	out := zooOK(t, "challenge", "submit", "--server", server, "--token", dave, "cli-demo", "dev", preds, "--wait", "30s", "--json")
	var sub struct {
		ID int64 `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &sub); err != nil || sub.ID == 0 {
		t.Fatalf("submit --json printed %q", out)
	}
	id := strconv.FormatInt(sub.ID, 10)

	desc := filepath.Join(dir, "desc.md")
	os.WriteFile(desc, []byte("# New\n\ntext"), 0o644)
	closes := opens.Add(72 * time.Hour).Format(time.RFC3339)
	out = zooOK(t, "challenge", "update", "--server", server, "--token", rita, "cli-demo", "--title", "CLI demo 2", "--description-file", desc,
		"--phase", "dev", "--closes", closes, "--total", "3", "--json")
	var c challenge.Challenge
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("update --json printed %q: %v", out, err)
	}
	if c.Title != "CLI demo 2" || c.Description != "# New\n\ntext" || c.Phases[0].Total != 3 || c.Phases[0].ClosesAt.Format(time.RFC3339) != closes ||
		len(c.Changes) != 1 || c.Changes[0].User != "rita" || len(c.Changes[0].Fields) != 4 {
		t.Errorf("after update: %+v", c)
	}
	if code, msg := zooFail(t, "challenge", "update", "--server", server, "--token", dave, "cli-demo", "--title", "mine"); code != 1 || !strings.Contains(msg, "organisers") {
		t.Errorf("a participant's update: exit %d, %s", code, msg)
	}
	if code, msg := zooFail(t, "challenge", "update", "--server", server, "--token", rita, "cli-demo", "--phase", "dev", "--opens", closes, "--closes", opens.Format(time.RFC3339)); code != 1 || !strings.Contains(msg, "must come after") {
		t.Errorf("closes before opens: exit %d, %s", code, msg)
	}
	if code, _ := zooFail(t, "challenge", "update", "--server", server, "--token", rita, "cli-demo", "--per-day", "2"); code != 2 {
		t.Errorf("--per-day without --phase: exit %d", code)
	}

	if out := zooOK(t, "challenge", "disqualify", "--server", server, "--token", rita, "cli-demo", id, "--reason", "a test"); !strings.Contains(out, "disqualified: a test") {
		t.Errorf("disqualify printed %q", out)
	}
	if out := zooOK(t, "challenge", "leaderboard", "--server", server, "cli-demo", "dev"); strings.Contains(out, "dave") {
		t.Errorf("a disqualified submission is on the leaderboard:\n%s", out)
	}
	if out := zooOK(t, "challenge", "disqualify", "--server", server, "--token", rita, "cli-demo", id, "--reinstate"); !strings.Contains(out, "reinstated") {
		t.Errorf("reinstate printed %q", out)
	}
	if out := zooOK(t, "challenge", "leaderboard", "--server", server, "cli-demo", "dev"); !strings.Contains(out, "dave") {
		t.Errorf("a reinstated submission is not on the leaderboard:\n%s", out)
	}
	if code, _ := zooFail(t, "challenge", "withdraw", "--server", server, "--token", rita, "cli-demo", id); code != 1 {
		t.Errorf("the organiser withdraws dave's submission: exit %d", code)
	}
	zooOK(t, "challenge", "withdraw", "--server", server, "--token", dave, "cli-demo", id)
	if out := zooOK(t, "challenge", "leaderboard", "--server", server, "cli-demo", "dev"); strings.Contains(out, "dave") {
		t.Errorf("a withdrawn submission is on the leaderboard:\n%s", out)
	}
}
