package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/blob/s3"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/client"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/postgres/pgtest"
)

// syncBuffer is a bytes.Buffer safe for a command writing while the test
// reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// background runs a long-running zoo command (serve, worker) in-process
// until the test ends, and waits for ready to appear on its standard
// error. It returns the standard error.
func background(t *testing.T, ready *regexp.Regexp, args ...string) (*syncBuffer, []string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	root := newRoot()
	var out, errb syncBuffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	done := make(chan int, 1)
	go func() {
		code := 0
		if err := root.ExecuteContext(ctx); err != nil {
			code = exitCode(err)
			fmt.Fprintf(&errb, "zoo: %v\n", err)
		}
		done <- code
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("zoo %s exited %d:\n%s", args[0], code, errb.String())
			}
		case <-time.After(90 * time.Second):
			t.Errorf("zoo %s did not stop within 90 s", args[0])
		}
	})
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		if m := ready.FindStringSubmatch(errb.String()); m != nil {
			return &errb, m
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("zoo %s exited %d before it was ready:\n%s", strings.Join(args, " "), code, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("zoo %s not ready after 5 minutes:\n%s", strings.Join(args, " "), errb.String())
	return nil, nil
}

var listening = regexp.MustCompile(`listening on (http://[^/\s]+)/`)

// startServe runs zoo serve on a free port and returns its URL.
func startServe(t *testing.T, args ...string) (string, *syncBuffer) {
	t.Helper()
	log, m := background(t, listening, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	return m[1], log
}

// zooOK runs a command that must succeed and returns its standard output.
func zooOK(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := runZoo(t, args...)
	if code != 0 {
		t.Fatalf("zoo %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// zooFail runs a command that must fail and returns its exit code and
// error message (what zoo prints after "zoo: ").
func zooFail(t *testing.T, args ...string) (int, string) {
	t.Helper()
	root := newRoot()
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		t.Fatalf("zoo %s succeeded", strings.Join(args, " "))
	}
	return exitCode(err), err.Error()
}

// token makes an API token with zoo admin token.
func token(t *testing.T, storage []string, user, role string) string {
	t.Helper()
	out := zooOK(t, append(append([]string{"admin", "token"}, storage...), "--user", user, "--role", role)...)
	tok := strings.TrimSuffix(out, "\n")
	if !strings.HasPrefix(tok, "zoo_") || strings.ContainsAny(tok, " \n") {
		t.Fatalf("zoo admin token printed %q, want the token alone", out)
	}
	return tok
}

type record struct {
	ID         string     `json:"id"`
	Version    int        `json:"version"`
	State      string     `json:"state"`
	TestStatus string     `json:"test_status"`
	Files      []zoo.File `json:"files"`
	TestReport struct {
		Status  string `json:"status"`
		Formats map[string]struct {
			Status     string `json:"status"`
			Runs       bool   `json:"runs"`
			Reproduces bool   `json:"reproduces"`
		} `json:"formats"`
	} `json:"test_report"`
}

// show runs zoo show --json.
func show(t *testing.T, server, ref, tok string) record {
	t.Helper()
	args := []string{"show", "--server", server, ref, "--json"}
	if tok != "" {
		args = append(args, "--token", tok)
	}
	var r record
	if out := zooOK(t, args...); json.Unmarshal([]byte(out), &r) != nil {
		t.Fatalf("zoo show --json printed %q", out)
	}
	return r
}

// waitTested polls zoo show until the test of ref has run.
func waitTested(t *testing.T, server, ref, tok string) record {
	t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		r := show(t, server, ref, tok)
		if r.TestStatus != string(zoo.TestPending) {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("the test of %s is still pending after 5 minutes", ref)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// publishedCount counts the models GET /api/v1/models lists.
func publishedCount(t *testing.T, server string) int {
	t.Helper()
	resp, err := http.Get(server + "/api/v1/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Models []json.RawMessage `json:"models"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	return len(list.Models)
}

// copyDir copies a package folder (flat) to a new temporary folder.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// flow is the end-to-end flow on the storage the flags name: tokens,
// upload, test, review, downloads, a broken package, gc. serve are the
// extra flags of zoo serve; worker, if not nil, the flags of a zoo worker
// to run beside it.
func flow(t *testing.T, storage, serve, worker []string, putOrphan func() string) {
	t.Helper()
	catalog := storage // zoo admin takes --data or --db, not --blobs
	for i, a := range storage {
		if a == "--blobs" {
			catalog = append(append([]string{}, storage[:i]...), storage[i+2:]...)
			break
		}
	}
	needORT(t)
	fixture := fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx")
	alice := token(t, catalog, "alice", "contributor")
	rita := token(t, catalog, "rita", "reviewer")

	server, _ := startServe(t, append(append([]string{}, storage...), serve...)...)
	if worker != nil {
		background(t, regexp.MustCompile(`zoo worker: running`), append(append([]string{"worker"}, storage...), worker...)...)
	}

	// A contributor uploads the package folder.
	out := zooOK(t, "upload", "--server", server, "--token", alice, fixture, "--json")
	var up map[string]any
	if err := json.Unmarshal([]byte(out), &up); err != nil || len(up) != 3 || up["state"] != "submitted" || up["version"] != 1.0 {
		t.Fatalf("zoo upload --json printed %q, want {id, version: 1, state: submitted}", out)
	}
	id := up["id"].(string)
	if !regexp.MustCompile(`^[a-z]+-[a-z]+$`).MatchString(id) {
		t.Errorf("id %q is not an adjective-animal nickname", id)
	}
	ref := id + "/1"

	// Unpublished: anonymous users do not see it; the uploader does.
	// (The model has no published version either: it answers as an unknown one.)
	if code, errs := zooFail(t, "show", "--server", server, ref, "--json"); code != 1 || !strings.Contains(errs, "not found") {
		t.Errorf("anonymous show of a submitted version: exit %d, %s", code, errs)
	}
	if r := show(t, server, ref, alice); r.State != "submitted" || (r.TestStatus != "pending" && r.TestStatus != "passed") {
		t.Errorf("after upload: %+v", r)
	}

	// The worker runs the test through ONNX Runtime.
	r := waitTested(t, server, ref, rita)
	if onnx := r.TestReport.Formats["onnx"]; r.TestStatus != "passed" || r.TestReport.Status != "passed" || !onnx.Runs || !onnx.Reproduces {
		t.Fatalf("test status %s, want passed with the ONNX weights run and reproducing; report %+v", r.TestStatus, r.TestReport)
	}

	// Only a reviewer accepts; accepting publishes at once.
	if code, errs := zooFail(t, "review", "--server", server, "--token", alice, "accept", ref); code != 1 || !strings.Contains(errs, "only reviewers") {
		t.Errorf("a contributor's accept: exit %d, %s", code, errs)
	}
	if out := zooOK(t, "review", "--server", server, "--token", rita, "accept", ref, "--comment", "fine"); !strings.Contains(out, "is now published") {
		t.Errorf("review printed %q", out)
	}
	pub := show(t, server, id, "")
	if pub.ID != id || pub.Version != 1 || pub.State != "published" || pub.TestStatus != "passed" {
		t.Errorf("anonymous show %s: %+v", id, pub)
	}

	// Anyone downloads it by ID and by ID/N: byte-identical to the fixture
	// (the description, now rdf.yaml, gained its id), sha256s as recorded.
	want := map[string][]byte{}
	entries, _ := os.ReadDir(fixture)
	for _, e := range entries {
		data, _ := os.ReadFile(filepath.Join(fixture, e.Name()))
		name := e.Name()
		if name == "bioimageio.yaml" {
			name = "rdf.yaml"
		}
		want[name] = data
	}
	recorded := map[string]zoo.File{}
	for _, f := range pub.Files {
		recorded[f.Path] = f
	}
	for _, target := range []string{id, ref} {
		dir := filepath.Join(t.TempDir(), "out")
		zooOK(t, "download", "--server", server, target, "-o", dir)
		got, _ := os.ReadDir(dir)
		if len(got) != len(want) || len(recorded) != len(want) {
			t.Errorf("download %s: %d files, record %d, fixture %d", target, len(got), len(recorded), len(want))
		}
		for _, e := range got {
			data, _ := os.ReadFile(filepath.Join(dir, e.Name()))
			exp, ok := want[e.Name()]
			switch {
			case !ok:
				t.Errorf("download %s: unexpected file %s", target, e.Name())
				continue
			case e.Name() == "rdf.yaml":
				if idLine := "id: " + id + "\n"; !bytes.Equal(bytes.Replace(data, []byte(idLine), nil, 1), exp) || !bytes.Contains(data, []byte("\n"+idLine)) {
					t.Errorf("download %s: rdf.yaml is not the fixture's description plus %q:\n%s", target, idLine, data)
				}
			case !bytes.Equal(data, exp):
				t.Errorf("download %s: %s differs from the fixture", target, e.Name())
			}
			if f := recorded[e.Name()]; f.SHA256 != sha(data) || f.Size != int64(len(data)) {
				t.Errorf("download %s: %s has sha256 %s, the record says %s", target, e.Name(), sha(data), f.SHA256)
			}
		}
	}

	// A file by path, with its sha256 as ETag.
	c, _ := client.New(server, "")
	d, err := c.File(context.Background(), id, 1, "weights.onnx")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(d)
	d.Close()
	if d.ETag != sha(want["weights.onnx"]) || !bytes.Equal(data, want["weights.onnx"]) {
		t.Errorf("GET /files/%s/1/weights.onnx: ETag %q", id, d.ETag)
	}

	// A broken description gets a report with line numbers, from zoo upload
	// itself and from the server, and nothing is stored.
	broken := copyDir(t, fixture)
	desc, _ := os.ReadFile(filepath.Join(broken, "bioimageio.yaml"))
	nameRE := regexp.MustCompile(`(?m)^name: .*$`)
	loc := nameRE.FindIndex(desc)
	if loc == nil {
		t.Fatal("the fixture has no top-level name line")
	}
	line := bytes.Count(desc[:loc[0]], []byte("\n")) + 1
	os.WriteFile(filepath.Join(broken, "bioimageio.yaml"), nameRE.ReplaceAll(desc, []byte("name: ab")), 0o644)
	code, out, _ := runZoo(t, "upload", "--server", server, "--token", alice, broken)
	if wantPos := fmt.Sprintf("bioimageio.yaml:%d:7: error: name:", line); code != 1 || !strings.Contains(out, wantPos) {
		t.Errorf("upload of a broken package: exit %d, want 1 and %q in:\n%s", code, wantPos, out)
	}
	pkg, err := bundle.OpenDir(broken, bundle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	var zipBuf bytes.Buffer
	if _, _, err := bundle.Write(&zipBuf, pkg); err != nil {
		t.Fatal(err)
	}
	pkg.Close()
	ac, _ := client.New(server, alice)
	_, err = ac.Upload(context.Background(), &zipBuf, client.UploadOptions{})
	rep := client.Report(err)
	if zoo.KindOf(err) != zoo.Invalid || rep == nil || len(rep.Errors) == 0 || rep.Errors[0].Loc != "name" || rep.Errors[0].Line != line {
		t.Errorf("server-side refusal of a broken package: %v, report %+v", err, rep)
	}
	if n := publishedCount(t, server); n != 1 {
		t.Errorf("%d published models after the broken uploads, want 1", n)
	}

	// gc: nothing to collect after refused uploads; an orphan goes.
	gc := append([]string{"gc", "--grace", "0"}, storage...)
	if out := zooOK(t, gc...); out != "0 unreferenced blob(s) deleted\n" {
		t.Errorf("zoo gc printed %q", out)
	}
	if putOrphan != nil {
		putOrphan()
		if out := zooOK(t, gc...); out != "1 unreferenced blob(s) deleted\n" {
			t.Errorf("zoo gc after an orphan printed %q", out)
		}
	}
	// Still whole.
	dir := filepath.Join(t.TempDir(), "again")
	zooOK(t, "download", "--server", server, ref, "-o", dir)
}

// TestServeFlowSQLite is the end-to-end flow on the embedded backends
// (SQLite + disk, in-process workers).
func TestServeFlowSQLite(t *testing.T) {
	data := t.TempDir()
	storage := []string{"--data", data}
	flow(t, storage, nil, nil, func() string {
		s, err := disk.New(filepath.Join(data, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		key, _, err := s.Put(context.Background(), strings.NewReader("orphan "+rand.Text()))
		if err != nil {
			t.Fatal(err)
		}
		return key
	})
}

// TestServeFlowPostgresS3 is the same flow on the scale-out backends, with
// a serving-only replica and a separate worker.
func TestServeFlowPostgresS3(t *testing.T) {
	s3URL := testenv.Env(t, testenv.S3, "ZOO_TEST_S3")
	dsn := pgtest.DSN(t)
	u, err := url.Parse(s3URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/e2e-" + strings.ToLower(rand.Text()[:10])
	blobs := u.String()
	store, err := s3.New(blobs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // runs after the server and worker stopped
		ctx := context.Background()
		var keys []string
		store.Walk(ctx, func(sha string, _ int64) error { keys = append(keys, sha); return nil })
		for _, k := range keys {
			store.Delete(ctx, k)
		}
		store.CleanTemp(ctx, 0)
	})
	storage := []string{"--db", dsn, "--blobs", blobs}
	flow(t, storage, []string{"--workers", "0"}, []string{"--concurrency", "1"}, func() string {
		key, _, err := store.Put(context.Background(), strings.NewReader("orphan "+rand.Text()))
		if err != nil {
			t.Fatal(err)
		}
		return key
	})
}
