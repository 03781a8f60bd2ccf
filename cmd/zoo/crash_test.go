package main

// The crash test of the repository service: a real `zoo serve` process
// (this test binary re-executed as zoo, see TestMain) is killed with
// SIGKILL while a large package is being uploaded and right after a
// reviewer's accept was sent, then restarted on the same storage. After
// every restart no half version is visible (every version the catalog and
// the API list is whole: each file and the package download with their
// sha256; no version's blob is missing), a transition is either done or
// not (an upload created a whole version or none; a version is published
// with its audit entry and publication time, or still submitted and
// publishable), and `zoo gc` deletes exactly the orphan blobs the kill
// left, after which every blob in the store is referenced.
//
// It runs on SQLite + disk always, and on PostgreSQL + S3 (VersityGW) when
// ZOO_TEST_POSTGRES and ZOO_TEST_S3 are set (make test sets them; under CI
// their absence fails). ZOO_CRASH_MIB sets the attachment size of the big
// package (default 200 MiB); ZOO_CRASH_SEED replays the random kill delays
// of a logged run.

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/blob/s3"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/client"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"github.com/zoo-bioimage/zoo/postgres"
	"github.com/zoo-bioimage/zoo/postgres/pgtest"
	"github.com/zoo-bioimage/zoo/sqlite"
)

// TestMain makes this test binary run as the zoo command when asZooEnv is
// set: the crash test starts `zoo serve` as a real child process without a
// build, and servers started in tests run model tests in sandboxed children
// of this binary (modelTester).
func TestMain(m *testing.M) {
	if os.Getenv(asZooEnv) == "1" {
		os.Exit(run(os.Args[1:]))
	}
	os.Setenv(asZooEnv, "1") // for children only
	os.Exit(m.Run())
}

// TestCrashSQLite kills the embedded server (SQLite + blob files).
func TestCrashSQLite(t *testing.T) {
	data := t.TempDir()
	ctx := context.Background()
	cat, err := sqlite.Open(ctx, filepath.Join(data, "zoo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	store, err := disk.New(filepath.Join(data, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(data, "blobs", "blobs")
	r := &crashRig{
		t: t, storage: []string{"--data", data}, catalog: []string{"--data", data},
		spool: filepath.Join(data, "tmp"), cat: cat, store: store,
		walk:  func() map[string]int64 { return walkDiskBlobs(t, root) },
		temps: func() int { return countFiles(filepath.Join(data, "blobs", "tmp"), "put-") },
	}
	r.run()
}

// TestCrashPostgresS3 kills a scaled-out server (PostgreSQL + S3).
func TestCrashPostgresS3(t *testing.T) {
	s3URL := testenv.Env(t, testenv.S3, "ZOO_TEST_S3")
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	u, err := url.Parse(s3URL)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/crash-" + strings.ToLower(strconv.FormatUint(rand.Uint64(), 36))
	blobs := u.String()
	store, err := s3.New(blobs)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // after the server was killed
		var keys []string
		store.Walk(ctx, func(sha string, _ int64) error { keys = append(keys, sha); return nil })
		for _, k := range keys {
			store.Delete(ctx, k)
		}
		store.CleanTemp(ctx, 0)
	})
	cat, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cat.Close() })
	// Without --data the server spools uploads in the system's temporary
	// folder: the child's TMPDIR, watched here.
	spool := t.TempDir()
	r := &crashRig{
		t: t, storage: []string{"--db", dsn, "--blobs", blobs}, catalog: []string{"--db", dsn},
		spool: spool, env: []string{"TMPDIR=" + spool}, cat: cat, store: store,
		walk: func() map[string]int64 {
			got := map[string]int64{}
			if err := store.Walk(ctx, func(sha string, size int64) error { got[sha] = size; return nil }); err != nil {
				t.Fatal(err)
			}
			return got
		},
		temps:  func() int { return -1 },
		remote: true,
	}
	r.run()
}

// crashRig is one storage backend under test and its server process.
type crashRig struct {
	t       *testing.T
	storage []string // flags of zoo serve and zoo gc
	catalog []string // flags of zoo admin token
	spool   string   // where the server spools uploads
	env     []string // extra environment of the server
	cat     zoo.Catalog
	store   zoo.BlobStore
	walk    func() map[string]int64 // every blob in the store (sha256 → size)
	temps   func() int              // temporary files of interrupted Puts (-1: not observable)
	// remote: the blob store is a server, which finishes the requests a
	// killed process had sent (a CopyObject of the package zip) on its own.
	remote bool

	srv          *crashServer
	alice, rita  string
	verified     map[string]bool // versions already downloaded whole
	rng          *rand.Rand
	size         int64 // attachment of the big package
	uploadTotal  time.Duration
	uploadRest   time.Duration // from the attachment's blob to the answer
	acceptTook   time.Duration
	pubOutcomes  map[bool]int
	upOutcomes   map[bool]int
	totalOrphans int
}

// crashServer is a running zoo serve child process.
type crashServer struct {
	cmd  *exec.Cmd
	url  string
	log  *syncBuffer
	done chan struct{}
}

func (r *crashRig) run() {
	t := r.t
	mib := int64(200)
	if s := os.Getenv("ZOO_CRASH_MIB"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			t.Fatalf("ZOO_CRASH_MIB=%q: give a number of MiB", s)
		}
		mib = n
	}
	r.size = mib << 20
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("ZOO_CRASH_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("ZOO_CRASH_SEED=%d ZOO_CRASH_MIB=%d", seed, mib)
	r.rng = rand.New(rand.NewPCG(seed, 1))
	r.verified = map[string]bool{}
	r.pubOutcomes, r.upOutcomes = map[bool]int{}, map[bool]int{}
	r.alice = token(t, r.catalog, "alice", "contributor")
	r.rita = token(t, r.catalog, "rita", "reviewer")
	r.start()
	t.Cleanup(func() {
		if r.srv != nil {
			r.kill()
		}
	})

	start := time.Now()
	// (a) Mid-upload. First a whole upload, killed right after its answer
	// (and timed, for the kill points below).
	r.uploadCrash("after the answer", func(a *attempt) bool { return false })
	r.uploadCrash("while the server spools the body (half received)", func(a *attempt) bool {
		return a.spooled() >= r.size/2
	})
	r.uploadCrash("as the attachment's blob appears", func(a *attempt) bool { return a.blobAt != 0 })
	half := r.uploadRest / 2
	r.uploadCrash(fmt.Sprintf("%v after the attachment's blob appeared (storing the package zip)", half.Round(time.Millisecond)),
		func(a *attempt) bool { return a.blobAt != 0 && time.Since(a.start) >= a.blobAt+half })
	for range 3 {
		d := time.Duration((0.05 + 0.95*r.rng.Float64()) * float64(r.uploadTotal))
		r.uploadCrash(fmt.Sprintf("at random, %v into the upload", d.Round(time.Millisecond)),
			func(a *attempt) bool { return time.Since(a.start) >= d })
	}
	t.Logf("uploads: %d killed before their version existed, %d after; %d orphan blob(s) in all, each deleted by zoo gc (%v)",
		r.upOutcomes[false], r.upOutcomes[true], r.totalOrphans, time.Since(start).Round(time.Second))
	// A model is created with its first version: a killed upload leaves
	// no empty model whose id would be burned.
	if n := r.emptyModels(); n != 0 {
		t.Errorf("%d model(s) exist without a version after killed uploads; want none", n)
	}

	// (b) Mid-publish: the kill right after the accept was sent, then at
	// random delays within how long an accept takes.
	start = time.Now()
	r.publishCrash(-1) // measures acceptTook
	r.publishCrash(0)
	for range 8 {
		r.publishCrash(time.Duration(r.rng.Float64() * float64(r.acceptTook)))
	}
	t.Logf("publishing: %d kill(s) left the version submitted (accepted again after the restart), %d published (%v)",
		r.pubOutcomes[false], r.pubOutcomes[true], time.Since(start).Round(time.Second))
}

// start runs zoo serve (no workers: the test job is not under test here)
// and waits until it listens.
func (r *crashRig) start() {
	t := r.t
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--workers", "0"}, r.storage...)
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), asZooEnv+"=1"), r.env...)
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &crashServer{cmd: cmd, log: log, done: make(chan struct{})}
	go func() { cmd.Wait(); close(s.done) }()
	deadline := time.Now().Add(time.Minute)
	for {
		if m := listening.FindStringSubmatch(log.String()); m != nil {
			s.url = m[1]
			break
		}
		select {
		case <-s.done:
			t.Fatalf("zoo serve exited (%v) before it listened:\n%s", cmd.ProcessState, log)
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("zoo serve did not listen within a minute:\n%s", log)
		}
	}
	r.srv = s
}

// kill sends SIGKILL to the server and waits for it to die.
func (r *crashRig) kill() {
	t := r.t
	t.Helper()
	s := r.srv
	r.srv = nil
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	if ws, ok := s.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("zoo serve had exited on its own (%v) before the kill:\n%s", s.cmd.ProcessState, s.log)
	}
}

// attempt is an upload in flight, observed from outside the server.
type attempt struct {
	r        *crashRig
	start    time.Time
	sha      string          // of the attachment
	oldSpool map[string]bool // spool files left by earlier kills
	blobAt   time.Duration   // when the attachment's blob appeared (0: not yet)
}

// spooled returns the size of the upload's spool file (in the server's
// own folder under the spool folder).
func (a *attempt) spooled() int64 {
	var n int64
	filepath.WalkDir(a.r.spool, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), "zoo-upload-") || a.oldSpool[p] {
			return nil
		}
		if info, err := d.Info(); err == nil {
			n = max(n, info.Size())
		}
		return nil
	})
	return n
}

// countFiles counts the files named prefix* under dir.
func countFiles(dir, prefix string) int {
	n := 0
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), prefix) {
			n++
		}
		return nil
	})
	return n
}

type uploadResult struct {
	v   *client.Version
	err error
}

// uploadCrash uploads a new big package (a fresh attachment, so that
// nothing is deduplicated), kills the server when kill says so (or right
// after the answer), restarts it and checks the storage.
func (r *crashRig) uploadCrash(what string, kill func(*attempt) bool) {
	t := r.t
	t.Helper()
	ctx := context.Background()
	dir, attSHA := crashPackage(t, r.size, r.rng.Uint64())
	defer os.RemoveAll(dir)
	pkg, _, err := bundle.Build(dir, bundle.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pkg.Close()
	before := r.versionSet()
	a := &attempt{r: r, sha: attSHA, oldSpool: map[string]bool{}}
	filepath.WalkDir(r.spool, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			a.oldSpool[p] = true
		}
		return nil
	})

	c, _ := client.New(r.srv.url, r.alice)
	pr, pw := io.Pipe()
	go func() {
		_, _, err := bundle.Write(pw, pkg)
		pw.CloseWithError(err)
	}()
	res := make(chan uploadResult, 1)
	a.start = time.Now()
	go func() {
		v, err := c.Upload(ctx, pr, client.UploadOptions{})
		pr.CloseWithError(errors.New("upload ended"))
		res <- uploadResult{v, err}
	}()
	var got *uploadResult
	answered := false
	for got == nil {
		if a.blobAt == 0 {
			if _, err := r.store.Stat(ctx, attSHA); err == nil {
				a.blobAt = time.Since(a.start)
			}
		}
		if kill(a) {
			break
		}
		select {
		case x := <-res:
			got, answered = &x, true
		case <-time.After(2 * time.Millisecond):
		}
	}
	killedAt := time.Since(a.start)
	spooled := a.spooled()
	r.kill()
	if got == nil {
		select {
		case x := <-res:
			got = &x
		case <-time.After(time.Minute):
			t.Fatal("the upload did not end within a minute of the kill")
		}
	}
	if answered && got.err != nil {
		t.Fatalf("upload (%s): %v", what, got.err)
	}
	if r.uploadTotal == 0 {
		if !answered || a.blobAt == 0 {
			t.Fatalf("the first upload did not complete (answered %v, attachment stored after %v)", answered, a.blobAt)
		}
		r.uploadTotal = killedAt
	}
	if answered && a.blobAt != 0 {
		r.uploadRest = max(r.uploadRest, killedAt-a.blobAt)
	}
	if r.remote && !answered {
		// A request the dead process had sent may still complete on the S3
		// server (e.g. the copy of the package zip to its key), adding an
		// orphan after the kill: wait as long as storing the package took
		// in the first upload, as an operator would before zoo gc.
		time.Sleep(r.uploadRest + time.Second)
	}
	r.start()
	// The restart removed what the killed process left: its spool file
	// and its blob store's temporary files (issue 15).
	if n := countFiles(r.spool, "zoo-upload-"); n != 0 {
		t.Errorf("after the restart %d upload spool file(s) of the killed server remain", n)
	}
	if n := r.temps(); n > 0 {
		t.Errorf("after the restart %d temporary file(s) of the killed server's Puts remain", n)
	}

	// The upload made one whole version or none.
	created := r.newVersions(before)
	switch {
	case len(created) > 1:
		t.Fatalf("one upload made %d versions: %v", len(created), created)
	case got.err == nil && len(created) == 0:
		t.Fatalf("upload (%s) was answered with %s, which does not exist after the restart", what, got.v.Ref())
	case got.err == nil && created[0].ModelID+"/"+strconv.Itoa(created[0].Number) != got.v.Ref():
		t.Fatalf("upload answered %s but made %s/%d", got.v.Ref(), created[0].ModelID, created[0].Number)
	}
	if len(created) == 1 {
		v := created[0]
		if v.State != zoo.StateSubmitted || v.TestStatus != zoo.TestPending || !slices.ContainsFunc(v.Files, func(f zoo.File) bool {
			return f.Path == "big.bin" && f.SHA256 == attSHA && f.Size == r.size
		}) {
			t.Errorf("the version the killed upload made: %+v", v)
		}
	}
	r.checkWhole()
	orphans := r.gcExact()
	switch {
	case strings.HasPrefix(what, "while the server spools") && orphans != 0:
		t.Errorf("a kill before the body was received left %d blob(s); the blob store is written only after the upload was checked", orphans)
	case strings.HasPrefix(what, "as the attachment") && len(created) == 0 && orphans < 1:
		t.Errorf("a kill after the attachment was stored left no orphan blob (the gc count is suspect)")
	}
	r.upOutcomes[len(created) == 1]++
	r.totalOrphans += orphans
	stage := "before the answer"
	if answered {
		stage = "after the answer"
	}
	stored := "not stored yet"
	if a.blobAt != 0 {
		stored = "stored after " + a.blobAt.Round(time.Millisecond).String()
	}
	t.Logf("upload killed %s: at %v, %s (%d MiB spooled; the attachment's blob %s): version made: %v; orphan blobs %d, all deleted by zoo gc; temporary files of interrupted Puts %d",
		what, killedAt.Round(time.Millisecond), stage, spooled>>20, stored, len(created) == 1, orphans, r.temps())
}

// publishCrash makes a submitted version whose test passed, sends a
// reviewer's accept and kills the server delay after the request was sent
// (delay < 0: after the answer, timing the accept), restarts it and checks
// that the version is published whole or still submitted.
func (r *crashRig) publishCrash(delay time.Duration) {
	t := r.t
	t.Helper()
	ctx := context.Background()
	ac, _ := client.New(r.srv.url, r.alice)
	pkg, _, err := bundle.Build(fixtures.Path(t, "packages", "upsample-onnx"), bundle.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		_, _, err := bundle.Write(pw, pkg)
		pw.CloseWithError(err)
	}()
	v, err := ac.Upload(ctx, pr, client.UploadOptions{})
	pr.Close()
	pkg.Close()
	if err != nil {
		t.Fatal(err)
	}
	id, n := v.ModelID, v.Number
	// What a worker records when the test passes.
	if err := r.cat.SetTestResult(ctx, id, n, zoo.TestPassed, json.RawMessage(`{"status":"passed"}`)); err != nil {
		t.Fatal(err)
	}

	body := `{"action":"accept","comment":"crash test"}`
	req := fmt.Sprintf("POST /api/v1/models/%s/versions/%d/review HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", id, n, strings.TrimPrefix(r.srv.url, "http://"), r.rita, len(body), body)
	conn, err := net.Dial("tcp", strings.TrimPrefix(r.srv.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	what := fmt.Sprintf("%v after the accept was sent", delay)
	if delay < 0 {
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("accept: %v %v", resp, err)
		}
		r.acceptTook = time.Since(sent)
		what = fmt.Sprintf("after the answer (the accept took %v)", r.acceptTook.Round(time.Microsecond))
	} else if delay > 0 {
		time.Sleep(delay - time.Since(sent))
	}
	r.kill()
	conn.Close()
	r.start()

	got, err := r.cat.Version(ctx, id, n)
	if err != nil {
		t.Fatal(err)
	}
	audit, err := r.cat.Audit(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	accepted := slices.ContainsFunc(audit, func(e zoo.AuditEntry) bool { return e.Action == "accept" && e.Version == n })
	published := got.State == zoo.StatePublished
	switch {
	case got.State != zoo.StateSubmitted && !published:
		t.Fatalf("%s/%d is %s after a kill during its accept; want submitted or published", id, n, got.State)
	case published != accepted || published != (got.PublishedAt != nil):
		t.Fatalf("%s/%d is half published: state %s, accept in the audit log %v, published_at %v", id, n, got.State, accepted, got.PublishedAt)
	case delay < 0 && !published:
		t.Fatalf("%s/%d was accepted (200) but is %s after the restart", id, n, got.State)
	}
	r.pubOutcomes[published]++
	anon, _ := client.New(r.srv.url, "")
	if pub, err := anon.Get(ctx, id, 0); published != (err == nil) || (err == nil && pub.Number != n) {
		t.Fatalf("anonymous GET %s after the restart: %v (published %v)", id, err, published)
	}
	if listed := r.publicModels()[id]; listed != published {
		t.Errorf("the public model list has %s: %v, but it is %s", id, listed, got.State)
	}
	if !published { // the accept did not happen: it can be done now
		rc, _ := client.New(r.srv.url, r.rita)
		if v, err := rc.Review(ctx, id, n, "accept", "again after the crash"); err != nil || v.State != zoo.StatePublished {
			t.Fatalf("accepting %s/%d again after the restart: %v", id, n, err)
		}
	}
	r.verifyVersion(anon, id, n) // whole for anyone
	r.checkWhole()
	if orphans := r.gcExact(); orphans != 0 {
		t.Errorf("a kill during an accept left %d orphan blob(s)", orphans)
	}
	t.Logf("accept of %s/%d killed %s: %s after the restart", id, n, what, got.State)
}

// versionSet returns the versions in the catalog by "ID/N".
func (r *crashRig) versionSet() map[string]*zoo.Version {
	vs, err := r.cat.ListVersions(context.Background(), zoo.VersionFilter{})
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]*zoo.Version{}
	for _, v := range vs {
		out[fmt.Sprintf("%s/%d", v.ModelID, v.Number)] = v
	}
	return out
}

func (r *crashRig) newVersions(before map[string]*zoo.Version) []*zoo.Version {
	var out []*zoo.Version
	for k, v := range r.versionSet() {
		if before[k] == nil {
			out = append(out, v)
		}
	}
	return out
}

// emptyModels counts the models without a version (there must be none:
// an upload creates its model with the version).
func (r *crashRig) emptyModels() int {
	models, err := r.cat.ListModels(context.Background(), false)
	if err != nil {
		r.t.Fatal(err)
	}
	have := map[string]bool{}
	for _, v := range r.versionSet() {
		have[v.ModelID] = true
	}
	n := 0
	for _, m := range models {
		if !have[m.ID] {
			n++
		}
	}
	return n
}

// publicModels returns the ids GET /api/v1/models lists (anonymous).
func (r *crashRig) publicModels() map[string]bool {
	resp, err := http.Get(r.srv.url + "/api/v1/models")
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Models []struct {
			ID    string    `json:"id"`
			State zoo.State `json:"state"`
		} `json:"models"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		r.t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range list.Models {
		out[m.ID] = true
	}
	return out
}

// checkWhole checks that no version is half there: every version of the
// catalog has all its blobs, with their sizes; the API lists for each
// model (to a reviewer, who sees all) exactly the catalog's versions; and
// each version downloads whole (each file and the package zip with its
// sha256; versions are immutable, so each is downloaded once).
func (r *crashRig) checkWhole() {
	t := r.t
	t.Helper()
	ctx := context.Background()
	all := r.versionSet()
	for ref, v := range all {
		blobs := append(slices.Clone(v.Files), zoo.File{Path: "(package zip)", SHA256: v.PackageSHA256, Size: v.PackageSize})
		for _, f := range blobs {
			if size, err := r.store.Stat(ctx, f.SHA256); err != nil || size != f.Size {
				t.Errorf("%s: the blob of %s is missing or damaged (size %d, want %d): %v", ref, f.Path, size, f.Size, err)
			}
		}
	}
	models, err := r.cat.ListModels(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := client.New(r.srv.url, r.rita)
	listed := 0
	for _, m := range models {
		req, _ := http.NewRequest(http.MethodGet, r.srv.url+"/api/v1/models/"+m.ID+"/versions", nil)
		req.Header.Set("Authorization", "Bearer "+r.rita)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var out struct{ Versions []*zoo.Version }
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET versions of %s: %s", m.ID, resp.Status)
		}
		for _, v := range out.Versions {
			ref := fmt.Sprintf("%s/%d", v.ModelID, v.Number)
			if all[ref] == nil {
				t.Errorf("the API lists %s, which the catalog does not have", ref)
			}
			listed++
			if !r.verified[ref] {
				r.verifyVersion(rc, v.ModelID, v.Number)
			}
		}
	}
	if listed != len(all) {
		t.Errorf("the API lists %d versions, the catalog has %d", listed, len(all))
	}
	// Anyone sees only published versions, in the list and by id.
	anon, _ := client.New(r.srv.url, "")
	for id := range r.publicModels() {
		v, err := anon.Get(ctx, id, 0)
		if err != nil || v.State != zoo.StatePublished || all[fmt.Sprintf("%s/%d", id, v.Number)] == nil {
			t.Errorf("the public list has %s, whose latest version is %v (%v)", id, v, err)
		}
	}
}

// verifyVersion downloads every file and the package of a version through
// c and compares them with the record.
func (r *crashRig) verifyVersion(c *client.Client, id string, n int) {
	t := r.t
	t.Helper()
	ctx := context.Background()
	v, err := c.Get(ctx, id, n)
	if err != nil {
		t.Fatalf("GET %s/%d: %v", id, n, err)
	}
	if len(v.Files) == 0 || v.PackageSHA256 == "" {
		t.Fatalf("%s/%d: a version record without files or package: %s", id, n, v.Raw)
	}
	check := func(what string, d *client.Download, err error, sha string, size int64) {
		if err != nil {
			t.Fatalf("%s/%d: downloading %s: %v", id, n, what, err)
		}
		h := sha256.New()
		got, err := io.Copy(h, d)
		d.Close()
		if sum := hex.EncodeToString(h.Sum(nil)); err != nil || sum != sha || got != size {
			t.Fatalf("%s/%d: %s downloads as %d bytes with sha256 %s (%v), want %d bytes, %s", id, n, what, got, sum, err, size, sha)
		}
		if d.ETag != "" && d.ETag != sha {
			t.Errorf("%s/%d: %s has ETag %s, want its sha256 %s", id, n, what, d.ETag, sha)
		}
	}
	for _, f := range v.Files {
		d, err := c.File(ctx, id, n, f.Path)
		check(f.Path, d, err, f.SHA256, f.Size)
	}
	d, err := c.Package(ctx, id, n)
	check("the package", d, err, v.PackageSHA256, v.PackageSize)
	r.verified[fmt.Sprintf("%s/%d", id, n)] = true
}

// gcExact checks the blob store against the catalog — every referenced
// blob is there — runs zoo gc and checks that it deleted exactly the
// unreferenced blobs, leaving only referenced ones. It returns how many
// orphans there were.
func (r *crashRig) gcExact() int {
	t := r.t
	t.Helper()
	ctx := context.Background()
	ref := map[string]bool{}
	if err := r.cat.ReferencedBlobs(ctx, func(sha string) error { ref[sha] = true; return nil }); err != nil {
		t.Fatal(err)
	}
	stored := r.walk()
	orphans := 0
	for sha := range stored {
		if !ref[sha] {
			orphans++
		}
	}
	for sha := range ref {
		if _, ok := stored[sha]; !ok {
			t.Errorf("blob %s is referenced by a version but not stored", sha)
		}
	}
	var out struct {
		Deleted int `json:"deleted"`
	}
	if s := zooOK(t, append([]string{"gc", "--json", "--grace", "0"}, r.storage...)...); json.Unmarshal([]byte(s), &out) != nil {
		t.Fatalf("zoo gc --json printed %q", s)
	}
	if out.Deleted != orphans {
		t.Errorf("zoo gc deleted %d blob(s); the store held %d unreferenced", out.Deleted, orphans)
	}
	after := r.walk()
	for sha := range after {
		if !ref[sha] {
			t.Errorf("after zoo gc, blob %s is referenced by no version", sha)
		}
	}
	if len(after) != len(ref) {
		t.Errorf("after zoo gc the store holds %d blobs, the catalog refers to %d", len(after), len(ref))
	}
	return orphans
}

var blobName = regexp.MustCompile(`^[0-9a-f]{64}$`)

// walkDiskBlobs lists the blob files of a disk store's blobs/ folder
// (<sha[0:2]>/<sha[2:4]>/<sha>) by walking it, not through the store.
func walkDiskBlobs(t *testing.T, root string) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		rel, _ := filepath.Rel(root, p)
		if !blobName.MatchString(name) || rel != filepath.Join(name[0:2], name[2:4], name) {
			t.Errorf("a file that is not a blob in the blob folder: %s", rel)
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		out[name] = info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// crashPackage writes a valid model package — upsample-onnx with an
// attachment of size random bytes (from seed) — into a new folder and
// returns it and the attachment's sha256.
func crashPackage(t *testing.T, size int64, seed uint64) (string, string) {
	t.Helper()
	src := fixtures.Path(t, "packages", "upsample-onnx")
	dir, err := os.MkdirTemp(t.TempDir(), "pkg-")
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var key [32]byte
	for i := range 4 {
		seed = seed*6364136223846793005 + 1442695040888963407
		for j := range 8 {
			key[i*8+j] = byte(seed >> (8 * j))
		}
	}
	f, err := os.Create(filepath.Join(dir, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	if _, err := io.CopyN(w, rand.NewChaCha8(key), size); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	desc := filepath.Join(dir, "bioimageio.yaml")
	data, err := os.ReadFile(desc)
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, fmt.Sprintf("attachments:\n  - source: big.bin\n    sha256: %s\n", sum)...)
	if err := os.WriteFile(desc, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, sum
}
