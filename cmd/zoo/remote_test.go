package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/sqlite"
	"github.com/zoo-bioimage/zoo/web"
)

// A package whose test fails is never published: accepting it is refused,
// it stays invisible to others, and it can be rejected.
func TestServeFailedTestNeverPublished(t *testing.T) {
	needORT(t)
	data := t.TempDir()
	storage := []string{"--data", data}
	alice := token(t, storage, "alice", "contributor")
	rita := token(t, storage, "rita", "reviewer")
	server, _ := startServe(t, storage...)

	// upsample-onnx with a test output that its model does not reproduce
	// (hashes updated, so the description stays valid).
	dir := copyDir(t, fixtures.Path(t, "packages", "upsample-onnx"))
	out := filepath.Join(dir, "test_output.npy")
	npy, _ := os.ReadFile(out)
	for i := len(npy) - 64; i < len(npy); i++ {
		npy[i] ^= 0x55
	}
	os.WriteFile(out, npy, 0o644)
	zooOK(t, "update-hashes", filepath.Join(dir, "bioimageio.yaml"))

	var up struct{ ID string }
	json.Unmarshal([]byte(zooOK(t, "upload", "--server", server, "--token", alice, dir, "--json")), &up)
	ref := up.ID + "/1"
	if r := waitTested(t, server, ref, alice); r.TestStatus != "failed" || r.TestReport.Formats["onnx"].Reproduces {
		t.Fatalf("test of a non-reproducing package: %+v", r)
	}
	if code, msg := zooFail(t, "review", "--server", server, "--token", rita, "accept", ref); code != 1 || !strings.Contains(msg, "failed its reproducibility test") {
		t.Errorf("accepting a failed version: exit %d, %s", code, msg)
	}
	if code, msg := zooFail(t, "review", "--server", server, "--token", rita, "request-changes", ref); code != 1 || !strings.Contains(msg, "--comment") {
		t.Errorf("request-changes without a comment: exit %d, %s", code, msg)
	}
	if code, _ := zooFail(t, "show", "--server", server, up.ID); code != 1 {
		t.Errorf("the model of a failed version resolves for anonymous users (exit %d)", code)
	}
	if code, _ := zooFail(t, "download", "--server", server, up.ID, "-o", t.TempDir()); code != 1 {
		t.Errorf("a failed version downloads (exit %d)", code)
	}
	if out := zooOK(t, "review", "--server", server, "--token", rita, "reject", ref, "--comment", "does not reproduce"); !strings.Contains(out, "is now rejected") {
		t.Errorf("reject printed %q", out)
	}
	if r := show(t, server, ref, alice); r.State != "rejected" {
		t.Errorf("after reject: %+v", r)
	}
	if n := publishedCount(t, server); n != 0 {
		t.Errorf("%d models published", n)
	}
}

// zoo upload takes a folder, a zip or a description yaml; --draft keeps a
// draft; --model adds a version; human output names the version.
func TestUploadForms(t *testing.T) {
	data := t.TempDir()
	storage := []string{"--data", data}
	alice := token(t, storage, "alice", "contributor")
	bob := token(t, storage, "bob", "contributor")
	// --workers 0: no test runs; the states are what is checked here.
	server, _ := startServe(t, append(storage, "--workers", "0")...)
	fixture := fixtures.Path(t, "packages", "upsample-onnx")

	out := zooOK(t, "upload", "--server", server, "--token", alice, filepath.Join(fixture, "bioimageio.yaml"), "--draft")
	if !strings.Contains(out, "✔ uploaded ") || !strings.Contains(out, "/1 (Test_scaling): draft; its test is pending") {
		t.Errorf("human output %q", out)
	}
	id := strings.Fields(out)[2]
	id = id[:strings.Index(id, "/")]
	if r := show(t, server, id+"/1", alice); r.State != "draft" {
		t.Errorf("--draft: %+v", r)
	}

	zipPath := filepath.Join(t.TempDir(), "pkg.zip")
	zooOK(t, "package", fixture, "-o", zipPath)
	var up struct {
		ID      string
		Version int
		State   string
	}
	json.Unmarshal([]byte(zooOK(t, "upload", "--server", server, "--token", alice, zipPath, "--model", id, "--json")), &up)
	if up.ID != id || up.Version != 2 || up.State != "submitted" {
		t.Errorf("zip with --model: %+v", up)
	}
	// The model has no published version: to others it looks unknown.
	if code, msg := zooFail(t, "upload", "--server", server, "--token", bob, zipPath, "--model", id); code != 1 || !strings.Contains(msg, "not found") {
		t.Errorf("another contributor adding a version: exit %d, %s", code, msg)
	}
	if code, msg := zooFail(t, "upload", "--server", server, zipPath); code != 1 || !strings.Contains(msg, "token") {
		t.Errorf("anonymous upload: exit %d, %s", code, msg)
	}
	if code, msg := zooFail(t, "upload", "--server", server, "--token", "zoo_wrong", zipPath); code != 1 {
		t.Errorf("bad token: exit %d, %s", code, msg)
	}

	// The human summary of show.
	if out := zooOK(t, "show", "--server", server, "--token", alice, id+"/2"); !strings.Contains(out, "state: submitted   test: pending") || !strings.Contains(out, "weights.onnx") {
		t.Errorf("show printed %q", out)
	}

	// Usage errors.
	for _, args := range [][]string{
		{"review", "--server", server, "approve", id + "/1"},
		{"review", "--server", server, "accept", id},
		{"show", "--server", server, id + "/x"},
		{"show", "--server", server, id + "/1/2"},
		{"download", "--server", server, id},
		{"upload", "--server", "localhost:8080", zipPath},
	} {
		if code, _ := zooFail(t, args...); code != 2 {
			t.Errorf("zoo %s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}
	// Nobody listening: exit 3.
	if code, msg := zooFail(t, "show", "--server", "http://127.0.0.1:1", id); code != 3 || !strings.Contains(msg, "cannot reach") {
		t.Errorf("unreachable server: exit %d, %s", code, msg)
	}
}

// zoo admin token creates users, sets roles, prints only the token and
// stores only its hash.
func TestAdminToken(t *testing.T) {
	data := t.TempDir()
	tok := token(t, []string{"--data", data}, "rita", "reviewer")
	code, out, errs := runZoo(t, "admin", "token", "--data", data, "--user", "carl")
	if code != 0 || !strings.HasPrefix(out, "zoo_") || !strings.Contains(errs, "new user carl (contributor)") {
		t.Errorf("default role: exit %d, %q, %q", code, out, errs)
	}
	tok2 := token(t, []string{"--data", data}, "rita", "admin")
	if tok2 == tok {
		t.Error("the same token twice")
	}
	for _, args := range [][]string{
		{"admin", "token", "--data", data},
		{"admin", "token", "--data", data, "--user", "x", "--role", "owner"},
		{"admin", "token", "--data", data, "--user", "x", "--db", "mysql://x"},
		{"admin"},
	} {
		if code, _ := zooFail(t, args...); code != 2 {
			t.Errorf("zoo %s: exit %d, want 2", strings.Join(args, " "), code)
		}
	}

	db, err := sqlite.Open(context.Background(), filepath.Join(data, "zoo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, tk := range []string{tok, tok2} {
		u, err := db.UserByToken(context.Background(), web.HashToken(tk))
		if err != nil || u.Name != "rita" || u.Role != zoo.RoleAdmin {
			t.Errorf("token of rita: %+v, %v", u, err)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(data, "zoo.db"))
	wal, _ := os.ReadFile(filepath.Join(data, "zoo.db-wal"))
	if bytes.Contains(append(raw, wal...), []byte(tok)) {
		t.Error("the token secret is stored")
	}
}

// zoo serve --seed publishes the example packages on an empty instance
// only, skipping what cannot be published, and starts without a missing
// folder.
func TestServeSeed(t *testing.T) {
	needORT(t)
	seed := t.TempDir()
	up := fixtures.Path(t, "packages", "upsample-onnx")
	copyInto := func(name string) string {
		d := copyDir(t, up)
		if err := os.Rename(d, filepath.Join(seed, name)); err != nil {
			t.Fatal(err)
		}
		return filepath.Join(seed, name)
	}
	copyInto("upsample")
	broken := copyInto("broken")
	os.WriteFile(filepath.Join(broken, "bioimageio.yaml"), []byte("type: model\nname: x\n"), 0o644)
	os.WriteFile(filepath.Join(seed, "README.md"), []byte("examples"), 0o644)

	data := t.TempDir()
	server, log := startServe(t, "--data", data, "--seed", seed)
	for _, want := range []string{"--seed: published ", "(Test_scaling; test passed)", "broken: ", "--seed: 1 example model(s) published"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if n := publishedCount(t, server); n != 1 {
		t.Errorf("%d models published, want 1", n)
	}
	// The home page lists it with a link to its page.
	resp, err := http.Get(server + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !bytes.Contains(page, []byte("Test_scaling")) || !bytes.Contains(page, []byte(`href="/models/`)) {
		t.Errorf("GET /: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), page)
	}

	// Not again on an instance with models; a missing folder is no error.
	_, log2 := startServe(t, "--data", data, "--seed", seed)
	if !strings.Contains(log2.String(), "already has 1 model(s); not seeding") {
		t.Errorf("second seed:\n%s", log2)
	}
	_, log3 := startServe(t, "--data", t.TempDir(), "--seed", filepath.Join(seed, "missing"))
	if !strings.Contains(log3.String(), "starting without example models") {
		t.Errorf("missing seed folder:\n%s", log3)
	}
}

// zoo download verifies what it got against the record and writes nothing
// when they disagree.
func TestDownloadVerifies(t *testing.T) {
	pkg, err := bundle.OpenDir(fixtures.Path(t, "packages", "upsample-onnx"), bundle.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	defer pkg.Close()
	var zipBuf bytes.Buffer
	zipSHA, zipSize, err := bundle.Write(&zipBuf, pkg)
	if err != nil {
		t.Fatal(err)
	}
	files := pkg.Files()
	for i := range files {
		if files[i].Path == "bioimageio.yaml" {
			files[i].Path = "rdf.yaml"
		}
	}
	record := func(files []zoo.File, sha string) []byte {
		b, _ := json.Marshal(map[string]any{"id": "tiny-fox", "version": 1, "state": "published", "test_status": "passed",
			"files": files, "package_sha256": sha, "package_size": zipSize})
		return b
	}
	var rec []byte
	body := zipBuf.Bytes()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/models/tiny-fox", "/api/v1/models/tiny-fox/versions/1":
			w.Header().Set("Content-Type", "application/json")
			w.Write(rec)
		case "/packages/tiny-fox/1":
			w.Header().Set("Content-Type", "application/zip")
			w.Write(body)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	rec = record(files, zipSHA)
	dir := filepath.Join(t.TempDir(), "ok")
	zooOK(t, "download", "--server", srv.URL, "tiny-fox", "-o", dir)
	if got, _ := os.ReadDir(dir); len(got) != len(files) {
		t.Errorf("%d files written, want %d", len(got), len(files))
	}

	bad := append([]zoo.File(nil), files...)
	bad[0].SHA256 = strings.Repeat("0", 64)
	for name, r := range map[string][]byte{
		"file sha256":    record(bad, zipSHA),
		"package sha256": record(files, strings.Repeat("0", 64)),
		"missing file":   record(append(files, zoo.File{Path: "extra.txt", SHA256: strings.Repeat("1", 64), Size: 1}), zipSHA),
	} {
		rec = r
		dir := filepath.Join(t.TempDir(), "bad")
		code, msg := zooFail(t, "download", "--server", srv.URL, "tiny-fox/1", "-o", dir)
		if _, err := os.Stat(dir); code != 1 || !strings.Contains(msg, "nothing was written") || err == nil {
			t.Errorf("%s: exit %d, %s; folder made: %v", name, code, msg, err == nil)
		}
	}

	// An unsafe zip is refused by bundle.OpenZip.
	var evil bytes.Buffer
	zw := zip.NewWriter(&evil)
	for _, n := range []string{"rdf.yaml", "../evil.txt"} {
		w, _ := zw.Create(n)
		w.Write([]byte("x"))
	}
	zw.Close()
	body, rec = evil.Bytes(), record(files, "")
	parent := t.TempDir()
	if code, _ := zooFail(t, "download", "--server", srv.URL, "tiny-fox/1", "-o", filepath.Join(parent, "out")); code != 1 {
		t.Errorf("unsafe zip: exit %d", code)
	}
	if _, err := os.Stat(filepath.Join(parent, "evil.txt")); err == nil {
		t.Error("a file escaped the output folder")
	}
}

// A version stored without a queued test (an upload interrupted between
// the catalog write and the enqueue) is tested once a worker starts.
func TestWorkerRequeuesPending(t *testing.T) {
	needORT(t)
	data := t.TempDir()
	storage := []string{"--data", data}
	alice := token(t, storage, "alice", "contributor")

	// Upload through a service without a queue: no job.
	ctx := context.Background()
	st, err := openStorage(ctx, storageFlags{data: data}, true)
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.cat.UserByName(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	pkg, _, err := bundle.Build(fixtures.Path(t, "packages", "upsample-onnx"), bundle.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var zipBuf bytes.Buffer
	bundle.Write(&zipBuf, pkg)
	pkg.Close()
	v, err := repo.New(st.cat, st.blobs, nil, repo.Config{}).Upload(ctx, u, &zipBuf, repo.UploadOptions{})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	ref := v.ModelID + "/1"

	server, _ := startServe(t, append(storage, "--workers", "0")...)
	if r := show(t, server, ref, alice); r.TestStatus != "pending" {
		t.Fatalf("before a worker: %+v", r)
	}
	background(t, regexp.MustCompile(`zoo worker: running`), "worker", "--data", data, "--concurrency", "1")
	if r := waitTested(t, server, ref, alice); r.TestStatus != "passed" {
		t.Errorf("after a worker started: %+v", r)
	}
}

// zoo gc also removes what killed uploads left in the data folder's tmp/,
// once it is an hour old.
func TestGCTemporaryFiles(t *testing.T) {
	data := t.TempDir()
	zooOK(t, "gc", "--data", data) // creates the layout
	old, fresh := filepath.Join(data, "tmp", "zoo-upload-1.zip"), filepath.Join(data, "tmp", "zoo-upload-2.zip")
	for _, p := range []string{old, fresh} {
		os.WriteFile(p, []byte("partial"), 0o644)
	}
	past := time.Now().Add(-2 * time.Hour)
	os.Chtimes(old, past, past)
	if out := zooOK(t, "gc", "--data", data, "--json"); out != `{"deleted":0,"temporary_deleted":1}`+"\n" {
		t.Errorf("zoo gc --json printed %q", out)
	}
	if _, err := os.Stat(old); err == nil {
		t.Error("the old spool file is still there")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("a fresh spool file (an upload in progress) was removed")
	}
	// A fresh unreferenced blob (an upload that has not yet created its
	// version) is spared by default; --grace 0 collects it.
	blobs, err := disk.New(filepath.Join(data, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := blobs.Put(context.Background(), strings.NewReader("an upload in progress")); err != nil {
		t.Fatal(err)
	}
	if out := zooOK(t, "gc", "--data", data, "--json"); out != `{"deleted":0,"temporary_deleted":0}`+"\n" {
		t.Errorf("zoo gc beside a fresh blob printed %q, want nothing deleted", out)
	}
	if out := zooOK(t, "gc", "--data", data, "--json", "--grace", "0"); out != `{"deleted":1,"temporary_deleted":0}`+"\n" {
		t.Errorf("zoo gc --grace 0 printed %q, want the blob deleted", out)
	}
}

// The command zoo upload suggests works as printed (issue 17: it lacked
// the token, and a version that is not public yet is shown only with it).
func TestUploadFollowUpWorks(t *testing.T) {
	data := t.TempDir()
	storage := []string{"--data", data}
	alice := token(t, storage, "alice", "contributor")
	server, _ := startServe(t, append(storage, "--workers", "0")...)
	fixture := fixtures.Path(t, "packages", "upsample-onnx")
	follow := func(out string) []string {
		t.Helper()
		_, line, ok := strings.Cut(out, "follow it with: ")
		if !ok {
			t.Fatalf("no follow-up in %q", out)
		}
		line, _, _ = strings.Cut(line, "\n")
		f := strings.Fields(line)
		if f[0] != "zoo" {
			t.Fatalf("follow-up %q", line)
		}
		return f[1:]
	}

	// Token from ZOO_TOKEN: the printed command reads it again.
	t.Setenv("ZOO_TOKEN", alice)
	args := follow(zooOK(t, "upload", "--server", server, filepath.Join(fixture, "bioimageio.yaml"), "--draft"))
	if out := zooOK(t, args...); !strings.Contains(out, "state: draft") {
		t.Errorf("zoo %s: %q", strings.Join(args, " "), out)
	}
	// Token from --token: it is not echoed; the command says where it goes.
	t.Setenv("ZOO_TOKEN", "")
	out := zooOK(t, "upload", "--server", server, "--token", alice, filepath.Join(fixture, "bioimageio.yaml"), "--draft")
	if strings.Contains(out, alice) {
		t.Errorf("the token was echoed: %q", out)
	}
	args = follow(out)
	if args[len(args)-1] != "TOKEN" || args[len(args)-2] != "--token" {
		t.Fatalf("follow-up without a token: %v", args)
	}
	args[len(args)-1] = alice
	if out := zooOK(t, args...); !strings.Contains(out, "state: draft") {
		t.Errorf("zoo %s: %q", strings.Join(args, " "), out)
	}
}

// zoo show without a token, of a version its uploader has not had
// published yet, does not read as if the upload were lost: it says that
// unpublished versions are shown only with a token, and how (issue 17).
// With the token it shows the version and its state.
func TestShowNotPublicYetSaysHowToSeeIt(t *testing.T) {
	data := t.TempDir()
	storage := []string{"--data", data}
	alice := token(t, storage, "alice", "contributor")
	server, _ := startServe(t, append(storage, "--workers", "0")...)
	fixture := fixtures.Path(t, "packages", "upsample-onnx")
	t.Setenv("ZOO_TOKEN", "")
	out := zooOK(t, "upload", "--server", server, "--token", alice, filepath.Join(fixture, "bioimageio.yaml"), "--draft", "--json")
	var up struct {
		ID      string `json:"id"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal([]byte(out), &up); err != nil {
		t.Fatalf("%v: %q", err, out)
	}
	for _, ref := range []string{fmt.Sprintf("%s/%d", up.ID, up.Version), up.ID} {
		code, msg := zooFail(t, "show", "--server", server, ref)
		if code != 1 || strings.HasPrefix(msg, "no version") || strings.HasPrefix(msg, "no model") ||
			!strings.Contains(msg, "not published") || !strings.Contains(msg, "--token") {
			t.Errorf("zoo show %s without a token: exit %d %q", ref, code, msg)
		}
	}
	if out := zooOK(t, "show", "--server", server, fmt.Sprintf("%s/%d", up.ID, up.Version), "--token", alice); !strings.Contains(out, "state: draft") {
		t.Errorf("zoo show with the token: %q", out)
	}
}

// A byte-identical re-upload still succeeds, but the contributor is told
// that the same content is already at ID/N, with the command that
// withdraws the new upload, which works as printed; --json keeps its
// fields and adds duplicate_of. Another contributor is not told about
// versions they may not see (issue 17).
func TestDuplicateUploadWarns(t *testing.T) {
	data := t.TempDir()
	storage := []string{"--data", data}
	alice := token(t, storage, "alice", "contributor")
	bob := token(t, storage, "bob", "contributor")
	server, _ := startServe(t, append(storage, "--workers", "0")...)
	desc := filepath.Join(fixtures.Path(t, "packages", "upsample-onnx"), "bioimageio.yaml")
	t.Setenv("ZOO_TOKEN", alice)
	upJSON := func(tok string) map[string]any {
		t.Helper()
		out := zooOK(t, "upload", "--server", server, "--token", tok, desc, "--json")
		var m map[string]any
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("%v: %q", err, out)
		}
		return m
	}
	first := upJSON(alice)
	if len(first) != 3 || first["id"] == nil || first["version"] == nil || first["state"] == nil {
		t.Errorf("first upload --json: %v, want exactly id, version, state", first)
	}
	ref := fmt.Sprintf("%s/%v", first["id"], first["version"])

	// The same package again: a warning naming ref and a withdraw command.
	out := zooOK(t, "upload", "--server", server, desc)
	if !strings.Contains(out, "same content as "+ref) {
		t.Fatalf("re-upload did not warn about %s:\n%s", ref, out)
	}
	_, line, ok := strings.Cut(out, "withdraw it with: ")
	if !ok {
		t.Fatalf("no withdraw command in:\n%s", out)
	}
	line, _, _ = strings.Cut(line, "\n")
	args := strings.Fields(line)
	if args[0] != "zoo" || args[1] != "withdraw" {
		t.Fatalf("withdraw command %q", line)
	}
	wout := zooOK(t, args[1:]...)
	if !strings.Contains(wout, "withdrawn") {
		t.Errorf("zoo %s: %q", line, wout)
	}
	if dup := args[len(args)-1]; !strings.Contains(zooOK(t, "show", "--server", server, dup), "state: rejected") {
		t.Errorf("%s is not rejected after its withdrawal", dup)
	}
	// A withdrawn upload is not the content's home: the next re-upload
	// names ref alone, in --json too.
	third := upJSON(alice)
	if fmt.Sprint(third["duplicate_of"]) != "["+ref+"]" || third["id"] == nil || third["state"] != "submitted" {
		t.Errorf("re-upload --json: %v, want duplicate_of [%s]", third, ref)
	}
	// Bob may not see alice's unpublished versions: no warning names them.
	if b := upJSON(bob); b["duplicate_of"] != nil {
		t.Errorf("bob's upload was told about alice's unpublished versions: %v", b)
	}
}
