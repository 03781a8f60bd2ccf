package main

// What an operator of a scaled-out instance meets (issue #22), on
// PostgreSQL + S3 (VersityGW) as the other scale-out tests: outages of
// either store (through TCP proxies this test stops and starts), a worker
// without the model runtime, the job tools (zoo jobs) and upgrades (zoo
// migrate). They need ZOO_TEST_POSTGRES and ZOO_TEST_S3 and skip without
// them (fail under CI).

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/zoo-bioimage/zoo/blob/s3"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/jobadmin"
	"github.com/zoo-bioimage/zoo/postgres/pgtest"
	"github.com/zoo-bioimage/zoo/queue"
)

// tcpProxy forwards connections from a local port to target; Down closes
// the port and every connection (the service is gone: connections are
// refused), Up listens again on the same port.
type tcpProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  map[net.Conn]bool
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, addr: "127.0.0.1:0", target: target, conns: map[net.Conn]bool{}}
	p.Up()
	t.Cleanup(p.Down)
	return p
}

func (p *tcpProxy) Up() {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may linger for a moment
		if ln, err = net.Listen("tcp", p.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		p.t.Fatalf("proxy cannot listen on %s: %v", p.addr, err)
	}
	p.ln, p.addr = ln, ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
}

func (p *tcpProxy) serve(c net.Conn) {
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil { // went down meanwhile
		p.mu.Unlock()
		c.Close()
		u.Close()
		return
	}
	p.conns[c], p.conns[u] = true, true
	p.mu.Unlock()
	go func() { io.Copy(u, c); u.Close(); c.Close() }()
	io.Copy(c, u)
	c.Close()
	u.Close()
}

func (p *tcpProxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

// opsStores gives a test its own PostgreSQL database and S3 prefix, both
// reached through proxies the test can take down.
type opsStores struct {
	dsn, blobs string    // through the proxies
	pg, s3     *tcpProxy // the proxies
	directDSN  string
	store      *s3.Store // direct to S3
}

func newOpsStores(t *testing.T) *opsStores {
	t.Helper()
	s3URL := testenv.Env(t, testenv.S3, "ZOO_TEST_S3")
	o := &opsStores{directDSN: pgtest.DSN(t)}
	du, err := url.Parse(o.directDSN)
	if err != nil {
		t.Fatal(err)
	}
	o.pg = newTCPProxy(t, du.Host)
	du.Host = o.pg.addr
	o.dsn = du.String()

	su, err := url.Parse(s3URL)
	if err != nil {
		t.Fatal(err)
	}
	su.Path = "/ops-" + strings.ToLower(rand.Text()[:10])
	if o.store, err = s3.New(su.String()); err != nil {
		t.Fatal(err)
	}
	if err := o.store.EnsureBucket(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx := context.Background()
		var keys []string
		o.store.Walk(ctx, func(sha string, _ int64) error { keys = append(keys, sha); return nil })
		for _, k := range keys {
			o.store.Delete(ctx, k)
		}
	})
	q := su.Query()
	o.s3 = newTCPProxy(t, q.Get("endpoint"))
	q.Set("endpoint", o.s3.addr)
	q.Set("timeout", "2s")
	su.RawQuery = q.Encode()
	o.blobs = su.String()
	return o
}

// getStatus GETs u and returns the status, headers, body and time taken.
func getStatus(t *testing.T, u string) (int, http.Header, []byte, time.Duration) {
	t.Helper()
	start := time.Now()
	resp, err := (&http.Client{Timeout: time.Minute}).Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, time.Since(start)
}

// degraded returns the ids of collection.json entries without authors.
func degraded(t *testing.T, body []byte) (ids []string, n int) {
	t.Helper()
	var c struct {
		Collection []struct {
			ID      string `json:"id"`
			Authors []any  `json:"authors"`
		} `json:"collection"`
	}
	if err := json.Unmarshal(body, &c); err != nil {
		t.Fatalf("collection.json: %v: %.200s", err, body)
	}
	for _, e := range c.Collection {
		if len(e.Authors) == 0 {
			ids = append(ids, e.ID)
		}
	}
	return ids, len(c.Collection)
}

// The outages of issue #22 on one replica: S3 down → /readyz 503 and
// requests fail fast; S3 back → no degraded collection entry served
// afterwards; PostgreSQL down → 503 with Retry-After (not 500), then
// recovery once it is back.
func TestOutagesPostgresS3(t *testing.T) {
	needORT(t)
	o := newOpsStores(t)
	seed := t.TempDir()
	for _, name := range []string{"unet2d-nuclei-broad-onnx"} {
		if err := os.CopyFS(filepath.Join(seed, name), os.DirFS(fixtures.Path(t, "packages", name))); err != nil {
			t.Fatal(err)
		}
	}
	// The seed publishes with this replica; a second replica starts cold
	// (its caches empty) for the outage.
	startServe(t, "--db", o.dsn, "--blobs", o.blobs, "--workers", "0", "--seed", seed)
	server, _ := startServe(t, "--db", o.dsn, "--blobs", o.blobs, "--workers", "0")

	if code, _, body, _ := getStatus(t, server+"/readyz"); code != 200 {
		t.Fatalf("readyz before the outage: %d %s", code, body)
	}
	_, _, body, _ := getStatus(t, server+"/api/v1/models")
	var models struct {
		Models []struct {
			ID string `json:"id"`
		} `json:"models"`
	}
	if err := json.Unmarshal(body, &models); err != nil || len(models.Models) == 0 {
		t.Fatalf("models: %v %s", err, body)
	}
	file := server + "/files/" + models.Models[0].ID + "/rdf.yaml"

	// S3 goes away.
	o.s3.Down()
	code, hdr, body, took := getStatus(t, server+"/readyz")
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || !strings.Contains(string(body), "blob store") {
		t.Errorf("readyz while S3 is down: %d %q %s", code, hdr.Get("Retry-After"), body)
	}
	t.Logf("readyz while S3 is down: %d in %v", code, took)
	code, hdr, _, took = getStatus(t, file)
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" || took > 5*time.Second {
		t.Errorf("a download while S3 is down: %d (Retry-After %q) in %v; want 503 with Retry-After within 5 s", code, hdr.Get("Retry-After"), took)
	}
	t.Logf("download while S3 is down: %d in %v", code, took)
	for _, p := range []string{"/collection.json", "/index.json"} {
		code, _, body, took := getStatus(t, server+p)
		if took > 10*time.Second {
			t.Errorf("%s while S3 is down took %v", p, took)
		}
		t.Logf("%s while S3 is down: %d in %v", p, code, took)
		if p == "/collection.json" && code == 200 {
			if ids, _ := degraded(t, body); len(ids) == 0 {
				t.Logf("collection.json was complete during the outage (served from another cache)")
			}
		}
	}
	// S3 comes back: ready again, and nothing degraded is served.
	o.s3.Up()
	waitReady(t, server, 30*time.Second)
	code, _, body, _ = getStatus(t, server+"/collection.json")
	if ids, n := degraded(t, body); code != 200 || n == 0 || len(ids) > 0 {
		t.Errorf("collection.json after S3 came back: %d, %d entries, degraded (no authors): %v", code, n, ids)
	}
	if code, _, body, _ := getStatus(t, server+"/index.json"); code != 200 || !strings.Contains(string(body), models.Models[0].ID) {
		t.Errorf("index.json after S3 came back: %d %.200s", code, body)
	}
	if code, _, _, _ := getStatus(t, file); code != 200 {
		t.Errorf("download after S3 came back: %d", code)
	}

	// PostgreSQL goes away: 503 with Retry-After, not 500.
	o.pg.Down()
	for _, p := range []string{"/api/v1/models", "/api/v1/models/" + models.Models[0].ID, "/readyz"} {
		code, hdr, body, took := getStatus(t, server+p)
		if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
			t.Errorf("%s while PostgreSQL is down: %d (Retry-After %q) %s; want 503 with Retry-After", p, code, hdr.Get("Retry-After"), body)
		}
		if took > 10*time.Second {
			t.Errorf("%s while PostgreSQL is down took %v", p, took)
		}
		t.Logf("%s while PostgreSQL is down: %d in %v", p, code, took)
	}
	o.pg.Up()
	waitReady(t, server, 30*time.Second)
	if code, _, body, _ := getStatus(t, server+"/api/v1/models"); code != 200 {
		t.Errorf("models after PostgreSQL came back: %d %s", code, body)
	}
}

// waitReady polls /readyz until it answers 200.
func waitReady(t *testing.T, server string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	start := time.Now()
	for {
		code, _, body, _ := getStatus(t, server+"/readyz")
		if code == 200 {
			t.Logf("ready again after %v", time.Since(start).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready %v after the store came back: %d %s", within, code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// jobsJSON runs zoo jobs list --json with args and returns the jobs.
func jobsJSON(t *testing.T, args ...string) []jobadmin.Job {
	t.Helper()
	out := zooOK(t, append([]string{"jobs", "list", "--json"}, args...)...)
	var a jobadmin.ListAnswer
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("zoo jobs list --json printed %q: %v", out, err)
	}
	return a.Jobs
}

// A worker without the ONNX Runtime library says so and takes no model
// job (the test job keeps its attempts); the operator sees the job with
// zoo jobs list, cancels and retries it, zoo jobs check reports the stuck
// test and later a missing blob; a capable worker then runs the test;
// zoo jobs retest runs it again. Through the admin API and directly on
// the database.
func TestWorkerKindsAndJobToolsPostgresS3(t *testing.T) {
	needORT(t)
	o := newOpsStores(t)
	catalog := []string{"--db", o.dsn}
	admin := token(t, catalog, "ada", "admin")
	alice := token(t, catalog, "alice", "contributor")
	server, _ := startServe(t, "--db", o.dsn, "--blobs", o.blobs, "--workers", "0")
	remote := []string{"--server", server, "--token", admin}

	// No ONNX Runtime; DataCite settings so that it has a kind to run.
	noORT, _ := startProc(t, "worker without ONNX Runtime", []string{
		"ZOO_ONNXRUNTIME_LIB=/nonexistent", "ZOO_DATACITE_URL=http://127.0.0.1:9", "ZOO_DATACITE_REPOSITORY=X.Y",
		"ZOO_DATACITE_PASSWORD=p", "ZOO_DATACITE_PREFIX=10.5072", "ZOO_PUBLIC_URL=http://zoo.test",
	}, regexp.MustCompile(`zoo worker: running`), "worker", "--db", o.dsn, "--blobs", o.blobs)
	for _, want := range []string{"doi (1 at a time)", "declining test (no ONNX Runtime library", "infer (no ONNX Runtime library"} {
		if !strings.Contains(noORT.log.String(), want) {
			t.Errorf("the worker without ONNX Runtime does not say %q:\n%s", want, noORT.log)
		}
	}
	// Asked for test jobs explicitly, it refuses to start.
	if code, msg := zooFailEnv(t, []string{"ZOO_ONNXRUNTIME_LIB=/nonexistent"}, "worker", "--db", o.dsn, "--blobs", o.blobs, "--kinds", "test"); code != 3 || !strings.Contains(msg, "cannot run test jobs") {
		t.Errorf("worker --kinds test without ONNX Runtime: exit %d: %s", code, msg)
	}

	out := zooOK(t, "upload", "--server", server, "--token", alice, fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx"), "--json")
	var up struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &up); err != nil || up.ID == "" {
		t.Fatalf("zoo upload printed %q", out)
	}
	ref := up.ID + "/1"
	time.Sleep(5 * time.Second) // workers poll every second
	jobs := jobsJSON(t, append([]string{"--kind", "test-version"}, remote...)...)
	if len(jobs) != 1 || jobs[0].State != queue.Available || jobs[0].Attempt != 0 || jobs[0].Version != ref || jobs[0].Queue != "test" {
		t.Fatalf("the test job after 5 s beside a worker without ONNX Runtime: %+v (want available, attempt 0, queue test)", jobs)
	}
	id := fmt.Sprint(jobs[0].ID)
	// Contributors may not use the tools.
	if code, msg := zooFail(t, "jobs", "list", "--server", server, "--token", alice); code != 1 || !strings.Contains(msg, "for admins") {
		t.Errorf("zoo jobs list by a contributor: exit %d: %s", code, msg)
	}
	// Cancel it: check reports the stuck test (exit 1) with the fix.
	if out := zooOK(t, append([]string{"jobs", "cancel", id}, remote...)...); !strings.Contains(out, "cancelled") {
		t.Errorf("zoo jobs cancel printed %q", out)
	}
	code, out, _ := runZoo(t, append([]string{"jobs", "check", "--json"}, remote...)...)
	var rep jobadmin.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("zoo jobs check --json printed %q", out)
	}
	if code != 1 || len(rep.Problems) != 1 || rep.Problems[0].Problem != "test-stuck" || rep.Problems[0].Version != ref || !strings.Contains(rep.Problems[0].Fix, "zoo jobs retest "+ref) {
		t.Errorf("zoo jobs check after the cancel: exit %d, %+v", code, rep)
	}
	// Retry it (directly on the database this time) and start a worker
	// that can run it: the version is tested.
	zooOK(t, "jobs", "retry", id, "--db", o.dsn)
	background(t, regexp.MustCompile(`zoo worker: running`), "worker", "--db", o.dsn, "--blobs", o.blobs, "--kinds", "test,infer", "--concurrency", "1")
	if r := waitTested(t, server, ref, alice); r.TestStatus != "passed" {
		t.Fatalf("test %s", r.TestStatus)
	}
	// The queue records a job completed shortly after its handler
	// returned (River completes in batches): wait for it.
	jobs = jobsJSON(t, "--state", "completed", "--db", o.dsn)
	for deadline := time.Now().Add(10 * time.Second); len(jobs) == 0 && time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		jobs = jobsJSON(t, "--state", "completed", "--db", o.dsn)
	}
	if len(jobs) != 1 || jobs[0].ID != jobs[0].ID || jobs[0].Kind != "test-version" || jobs[0].Attempt != 1 {
		t.Errorf("completed jobs: %+v", jobs)
	}
	// Retest: a new job, run to completion.
	out = zooOK(t, append([]string{"jobs", "retest", ref, "--json"}, remote...)...)
	var again jobadmin.Job
	if err := json.Unmarshal([]byte(out), &again); err != nil || again.Kind != "test-version" || again.Version != ref {
		t.Fatalf("zoo jobs retest printed %q", out)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		js := jobsJSON(t, "--state", "completed", "--kind", "test-version", "--db", o.dsn)
		if len(js) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the retest did not complete: %+v", jobsJSON(t, "--db", o.dsn))
		}
		time.Sleep(300 * time.Millisecond)
	}
	if code, out, _ := runZoo(t, append([]string{"jobs", "check"}, remote...)...); code != 0 || !strings.Contains(out, "0 problem(s)") {
		t.Errorf("zoo jobs check on a healthy instance: exit %d: %s", code, out)
	}
	// A blob goes missing: check names the version and the blob.
	var victim string
	o.store.Walk(context.Background(), func(sha string, _ int64) error {
		if victim == "" {
			victim = sha
		}
		return nil
	})
	if err := o.store.Delete(context.Background(), victim); err != nil {
		t.Fatal(err)
	}
	code, out, _ = runZoo(t, "jobs", "check", "--db", o.dsn, "--blobs", o.blobs)
	if code != 1 || !strings.Contains(out, ref+" (submitted): missing-blobs") && !strings.Contains(out, ref+" (draft): missing-blobs") || !strings.Contains(out, victim) {
		t.Errorf("zoo jobs check with a missing blob: exit %d:\n%s", code, out)
	}
}

// zooFailEnv runs zoo in a child process with env added and returns its
// exit code and output.
func zooFailEnv(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(append(os.Environ(), asZooEnv+"=1"), env...)
	out, _ := cmd.CombinedOutput()
	return cmd.ProcessState.ExitCode(), string(out)
}

// applyOldSchema brings the database at dsn to the catalog schema before
// the newest migration (and River's), as an older zoo left it.
func applyOldSchema(t *testing.T, dsn string) (newest string) {
	t.Helper()
	ctx := context.Background()
	names, err := fs.Glob(os.DirFS("../../postgres/migrations"), "*.sql")
	if err != nil || len(names) < 2 {
		t.Fatalf("migrations: %v %v", names, err)
	}
	sort.Strings(names)
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for i, name := range names[:len(names)-1] {
		sql, err := os.ReadFile(filepath.Join("../../postgres/migrations", name))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, string(sql)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, $2, now())`, i+1, name); err != nil {
			t.Fatal(err)
		}
	}
	if err := queue.Migrate(ctx, riverpgxv5.New(pool)); err != nil {
		t.Fatal(err)
	}
	return names[len(names)-1]
}

// The upgrade: a database at the previous schema; replicas and workers
// with --no-migrate (and zoo admin) refuse it, naming zoo migrate; zoo
// migrate --status lists the pending migration; zoo migrate applies it;
// the new replicas serve. Then a schema newer than this binary: every
// zoo refuses it, saying to upgrade the binary.
func TestMigrateUpgradePostgres(t *testing.T) {
	dsn := pgtest.DSN(t)
	newest := applyOldSchema(t, dsn)
	blobs := t.TempDir()

	code, out, _ := runZoo(t, "migrate", "--db", dsn, "--status")
	if code != 1 || !strings.Contains(out, "pending  "+newest) || strings.Contains(out, "pending  0001") {
		t.Errorf("zoo migrate --status on the old schema: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{"serve", "--db", dsn, "--blobs", blobs, "--workers", "0", "--no-migrate", "--addr", "127.0.0.1:0"},
		{"worker", "--db", dsn, "--blobs", blobs, "--no-migrate"},
		{"admin", "token", "--db", dsn, "--user", "ada", "--role", "admin"},
	} {
		if code, msg := zooFail(t, args...); code != 3 || !strings.Contains(msg, "run zoo migrate") {
			t.Errorf("zoo %s on the old schema: exit %d: %s", strings.Join(args, " "), code, msg)
		}
	}
	out = zooOK(t, "migrate", "--db", dsn, "--json")
	var res struct {
		Applied []string `json:"applied"`
		Schema  struct {
			Current, Known int
			Pending        []string
		} `json:"schema"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Applied) != 1 || res.Applied[0] != newest || res.Schema.Current != res.Schema.Known || len(res.Schema.Pending) != 0 {
		t.Fatalf("zoo migrate --json: %s (%v)", out, err)
	}
	if out := zooOK(t, "migrate", "--db", dsn); !strings.Contains(out, "nothing to do") {
		t.Errorf("second zoo migrate: %s", out)
	}
	zooOK(t, "migrate", "--db", dsn, "--status")
	tok := token(t, []string{"--db", dsn}, "ada", "admin")
	server, _ := startServe(t, "--db", dsn, "--blobs", blobs, "--workers", "0", "--no-migrate")
	if code, _, body, _ := getStatus(t, server+"/readyz"); code != 200 {
		t.Errorf("readyz of the upgraded replica: %d %s", code, body)
	}
	zooOK(t, "jobs", "list", "--server", server, "--token", tok)

	// A newer zoo migrated further: this binary refuses, whatever it is.
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(context.Background(), `INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', now())`); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"serve", "--db", dsn, "--blobs", blobs, "--workers", "0", "--addr", "127.0.0.1:0"},
		{"serve", "--db", dsn, "--blobs", blobs, "--workers", "0", "--no-migrate", "--addr", "127.0.0.1:0"},
		{"worker", "--db", dsn, "--blobs", blobs},
		{"migrate", "--db", dsn},
		{"admin", "token", "--db", dsn, "--user", "bob"},
	} {
		if code, msg := zooFail(t, args...); code != 3 || !strings.Contains(msg, "newer than this zoo binary knows") || !strings.Contains(msg, "upgrade this binary") {
			t.Errorf("zoo %s on a newer schema: exit %d: %s", strings.Join(args, " "), code, msg)
		}
	}
	if code, out, _ := runZoo(t, "migrate", "--db", dsn, "--status"); code != 1 || !strings.Contains(out, "newer than this zoo binary knows") {
		t.Errorf("zoo migrate --status on a newer schema: exit %d: %s", code, out)
	}
}

// zoo migrate on the embedded storage: a new data folder has every
// migration pending (--status exits 1, --json lists them), zoo migrate
// applies them, a second run has nothing to do, and serve --no-migrate
// starts on the result; a folder that does not exist is refused rather
// than created.
func TestMigrateSQLite(t *testing.T) {
	data := t.TempDir()
	code, out, _ := runZoo(t, "migrate", "--data", data, "--status", "--json")
	var s struct {
		Backend string   `json:"backend"`
		Current int      `json:"current"`
		Known   int      `json:"known"`
		Pending []string `json:"pending"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil || code != 1 || s.Backend != "sqlite" || s.Current != 0 || s.Known < 10 || len(s.Pending) != s.Known {
		t.Fatalf("zoo migrate --status on a new folder: exit %d %s (%v)", code, out, err)
	}
	if code, msg := zooFail(t, "serve", "--data", data, "--no-migrate", "--addr", "127.0.0.1:0"); code != 3 || !strings.Contains(msg, "run zoo migrate") {
		t.Errorf("serve --no-migrate before zoo migrate: exit %d: %s", code, msg)
	}
	out = zooOK(t, "migrate", "--data", data)
	if !strings.Contains(out, "applied 0001_init.sql") || !strings.Contains(out, fmt.Sprintf("now at version %d", s.Known)) {
		t.Errorf("zoo migrate printed %q", out)
	}
	if out := zooOK(t, "migrate", "--data", data); !strings.Contains(out, "nothing to do") {
		t.Errorf("second zoo migrate printed %q", out)
	}
	zooOK(t, "migrate", "--data", data, "--dry-run")
	server, _ := startServe(t, "--data", data, "--no-migrate", "--workers", "0")
	if code, _, body, _ := getStatus(t, server+"/readyz"); code != 200 {
		t.Errorf("readyz: %d %s", code, body)
	}
	missing := filepath.Join(t.TempDir(), "nothing-here")
	if code, msg := zooFail(t, "migrate", "--data", missing); code != 2 || !strings.Contains(msg, "no zoo data folder") {
		t.Errorf("zoo migrate on a missing folder: exit %d: %s", code, msg)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("zoo migrate created the missing data folder")
	}
}
