package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/postgres/pgtest"
)

// guideBlocks returns the code blocks of docs/deploy.md whose info string
// is exactly info ("sh guide", "sh guide-settings", …), in order.
func guideBlocks(t *testing.T, doc, info string) []string {
	t.Helper()
	var out []string
	var cur *strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		switch {
		case cur == nil && strings.TrimSpace(l) == "```"+info:
			cur = &strings.Builder{}
		case cur != nil && strings.TrimSpace(l) == "```":
			out = append(out, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(l + "\n")
		}
	}
	return out
}

// unitLines returns the values of key= lines of a systemd unit file.
func unitLines(t *testing.T, path, key string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, key+"="); ok {
			out = append(out, v)
		}
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// vmHWM is the peak resident memory of a process in MiB.
func vmHWM(pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// TestDeployGuide follows docs/deploy.md: it runs the guide's "sh guide"
// blocks in order with the test's values in place of the guide's first
// block (folders, the test PostgreSQL and S3 server, free ports), starts
// two replicas and a worker from the ExecStart lines of the units in
// deploy/ (paths mapped to the test's folders), runs the "sh guide
// running" blocks (health checks, a model uploaded, tested and published,
// a backup and its restore into a fresh database and bucket), then starts
// a replica on the restored copy and checks that it serves the same
// models, versions and files. It also checks that every log line of the
// processes is JSON with role and instance, and reports their peak memory.
func TestDeployGuide(t *testing.T) {
	needORT(t)
	base := testenv.Env(t, testenv.PostgreSQL, pgtest.EnvVar)
	s3URL := testenv.Env(t, testenv.S3, "ZOO_TEST_S3")
	for _, tool := range []string{"bash", "psql", "pg_dump", "pg_restore", "jq", "curl", "openssl"} {
		_, err := exec.LookPath(tool)
		testenv.Need(t, testenv.DeployTools, err)
	}
	docBytes, err := os.ReadFile("../../docs/deploy.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(docBytes)
	setup, running := guideBlocks(t, doc, "sh guide"), guideBlocks(t, doc, "sh guide running")
	if len(guideBlocks(t, doc, "sh guide-settings")) != 1 || len(setup) < 4 || len(running) < 3 {
		t.Fatalf("docs/deploy.md: want one sh guide-settings block, setup and running blocks; got %d, %d", len(setup), len(running))
	}
	pg, _ := url.Parse(base)
	s3u, _ := url.Parse(s3URL)
	endpoint := s3u.Query().Get("endpoint")

	// The guide's fixed names (role and database zoo, zoo_restored, bucket
	// zoo-restored) are cleared before and after.
	ctx := context.Background()
	clear := func() {
		admin, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Fatal(err)
		}
		defer admin.Close(ctx)
		for _, q := range []string{`DROP DATABASE IF EXISTS zoo WITH (FORCE)`, `DROP DATABASE IF EXISTS zoo_restored WITH (FORCE)`, `DROP ROLE IF EXISTS zoo`} {
			if _, err := admin.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		emptyBucket(t, "s3://zoo-restored?endpoint="+endpoint+"&region=us-east-1&insecure=1")
	}
	clear()
	t.Cleanup(clear)
	bucket := "zoo-guide-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	t.Cleanup(func() { emptyBucket(t, "s3://"+bucket+"?endpoint="+endpoint+"&region=us-east-1&insecure=1") })

	// A release: bin/zoo (this test binary, which acts as zoo in its
	// children) and lib/.
	tmp := t.TempDir()
	rel := filepath.Join(tmp, "release")
	os.MkdirAll(filepath.Join(rel, "bin"), 0o755)
	os.MkdirAll(filepath.Join(rel, "lib"), 0o755)
	self, _ := os.Executable()
	if out, err := exec.Command("cp", self, filepath.Join(rel, "bin", "zoo")).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	libs, _ := filepath.Glob("../../lib/*.so*")
	for _, l := range libs {
		abs, _ := filepath.Abs(l)
		os.Symlink(abs, filepath.Join(rel, "lib", filepath.Base(l)))
	}
	home, etc, backup := filepath.Join(tmp, "opt"), filepath.Join(tmp, "etc"), filepath.Join(tmp, "backup")
	// TMPDIR as the units' CacheDirectory= makes it: reachable by the
	// sandbox's user nobody (t.TempDir's folders are 0700).
	cache, err := os.MkdirTemp("", "zoo-guide-cache-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(cache, 0o755)
	t.Cleanup(func() { os.RemoveAll(cache) })
	ports := []int{freePort(t), freePort(t)}
	settings := fmt.Sprintf(`ZOO_RELEASE=%q ZOO_HOME=%q ZOO_ETC=%q ZOO_BACKUP=%q
PGHOST=%q PGPORT=%q
S3_ENDPOINT=%q S3_BUCKET=%q
S3_ACCESS_KEY=%q S3_SECRET_KEY=%q
REPLICA_PORTS="%d %d"
MODEL=%q
export PGHOST PGPORT
`, rel, home, etc, backup, pg.Hostname(), pg.Port(), endpoint, bucket, os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"),
		ports[0], ports[1], fixtures.Path(t, "packages", "upsample-onnx"))

	runScript := func(name, script string) string {
		t.Helper()
		cmd := exec.Command("bash", "-c", "set -euo pipefail\n"+script)
		cmd.Dir = tmp
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("the guide's %s blocks failed: %v\n--- script\n%s\n--- output\n%s", name, err, script, out)
		}
		t.Logf("guide %s output:\n%s", name, out)
		return string(out)
	}
	runScript("setup", settings+strings.Join(setup, "\n"))

	// The processes, from the units' ExecStart lines.
	host, _ := os.Hostname()
	mapPaths := strings.NewReplacer("/opt/zoo", home, "/etc/zoo", etc, "/var/cache/zoo", cache, "%H", host)
	var procs []*proc
	for _, port := range ports {
		procs = append(procs, startBash(t, "zoo-serve@"+strconv.Itoa(port), listening, guideProcScript(t, doc, etc, mapPaths, "zoo-serve@.service", strconv.Itoa(port), "")))
	}
	procs = append(procs, startBash(t, "zoo-worker@1", regexp.MustCompile(`zoo worker: running`), guideProcScript(t, doc, etc, mapPaths, "zoo-worker@.service", "1", "")))

	out := runScript("running", settings+"set -a; . \"$ZOO_ETC/zoo.env\"; set +a\n"+strings.Join(running, "\n"))
	m := regexp.MustCompile(`test of ([a-z]+-[a-z]+)/1: passed`).FindStringSubmatch(out)
	if m == nil || !strings.Contains(out, m[1]+"/1 published") {
		t.Fatalf("the guide's model was not tested and published:\n%s", out)
	}
	id := m[1]
	server := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	before := stateOf(t, server, id)

	// A replica on the restored database and bucket serves the same.
	restored := startBash(t, "restored replica", listening, guideProcScript(t, doc, etc, mapPaths, "zoo-serve@.service", "0",
		fmt.Sprintf("ZOO_DB='postgres://zoo@%s:%s/zoo_restored'; ZOO_BLOBS='s3://zoo-restored?endpoint=%s&region=us-east-1&insecure=1'", pg.Hostname(), pg.Port(), endpoint)))
	rm := listening.FindStringSubmatch(restored.log.String())
	if after := stateOf(t, rm[1], id); after != before {
		t.Errorf("the restored copy serves\n%+v\nwant\n%+v", after, before)
	}

	// Logs: JSON, with role and instance, on every line.
	for _, p := range append(procs, restored) {
		for _, l := range strings.Split(strings.TrimSpace(p.log.String()), "\n") {
			var rec map[string]any
			if err := json.Unmarshal([]byte(l), &rec); err != nil {
				t.Errorf("%s: a log line is not JSON: %q", p.name, l)
				break
			}
			if rec["role"] == nil || rec["instance"] == nil {
				t.Errorf("%s: a log line without role or instance: %q", p.name, l)
				break
			}
		}
		t.Logf("peak resident memory of %s: %.0f MiB", p.name, vmHWM(p.cmd.Process.Pid))
	}
}

// guideProcScript is the bash script that runs a unit's ExecStart as
// systemd would: the settings file and the unit's Environment= lines,
// then extra assignments (the test's overrides), then the command.
func guideProcScript(t *testing.T, doc, etc string, mapPaths *strings.Replacer, unit, instance, extra string) string {
	t.Helper()
	path := "../../deploy/" + unit
	execs := unitLines(t, path, "ExecStart")
	if len(execs) != 1 || !strings.Contains(doc, "ExecStart="+execs[0]) {
		t.Fatalf("%s: ExecStart %q is not the one docs/deploy.md shows", unit, execs)
	}
	var env []string
	for _, e := range unitLines(t, path, "Environment") {
		env = append(env, "export "+strings.ReplaceAll(mapPaths.Replace(e), "%i", instance))
	}
	line := strings.ReplaceAll(mapPaths.Replace(execs[0]), "%i", instance)
	// systemd's ${VAR} in ExecStart is one word: quote it for bash.
	line = regexp.MustCompile(`\$\{([A-Z_]+)\}`).ReplaceAllString(line, `"${$1}"`)
	return fmt.Sprintf("set -a; . %q; set +a\n%s\n%s\nexec %s", filepath.Join(etc, "zoo.env"), strings.Join(env, "\n"), extra, line)
}

// startBash runs script with bash as a child process and waits until its
// output matches ready.
func startBash(t *testing.T, name string, ready *regexp.Regexp, script string) *proc {
	t.Helper()
	cmd := exec.Command("bash", "-c", script)
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{name: name, cmd: cmd, log: log, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(40 * time.Second):
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("log of %s:\n%s", name, log)
		}
	})
	deadline := time.Now().Add(2 * time.Minute)
	for !ready.MatchString(log.String()) {
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before it was ready:\n%s\n--- script\n%s", name, cmd.ProcessState, log, script)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 2 minutes:\n%s", name, log)
		}
	}
	return p
}
