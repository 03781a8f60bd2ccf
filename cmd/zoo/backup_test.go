package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"github.com/zoo-bioimage/zoo/internal/testenv"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo/blob/s3"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/postgres/pgtest"
)

// servedState is what an instance serves of one published model: the
// model list, the version record, the package and one file (bytes and
// ETag), all read silently (no download counted).
type servedState struct {
	Models, Version, Files string
	Package, PackageETag   string
	RDF, RDFETag           string
}

func httpBody(t *testing.T, u string) (string, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	return string(b), resp.Header.Get("ETag")
}

func stateOf(t *testing.T, server, id string) servedState {
	t.Helper()
	var s servedState
	s.Models, _ = httpBody(t, server+"/api/v1/models")
	s.Version, _ = httpBody(t, server+"/api/v1/models/"+id+"/versions/1")
	pkg, etag := httpBody(t, server+"/packages/"+id+"/1?silent=1")
	s.Package, s.PackageETag = sha([]byte(pkg)), etag
	rdf, etag := httpBody(t, server+"/files/"+id+"/1/rdf.yaml?silent=1")
	s.RDF, s.RDFETag = rdf, etag
	var v struct {
		Files []struct{ Path string } `json:"files"`
	}
	json.Unmarshal([]byte(s.Version), &v)
	for _, f := range v.Files {
		b, _ := httpBody(t, server+"/files/"+id+"/1/"+f.Path+"?silent=1")
		s.Files += f.Path + "=" + sha([]byte(b)) + "\n"
	}
	if len(v.Files) == 0 {
		t.Fatalf("version without files: %s", s.Version)
	}
	return s
}

// publishOne uploads a fixture as alice, waits for its test and has rita
// accept it; it returns the model id.
func publishOne(t *testing.T, server, alice, rita string) string {
	t.Helper()
	var up struct{ ID string }
	json.Unmarshal([]byte(zooOK(t, "upload", "--server", server, "--token", alice, fixtures.Path(t, "packages", "upsample-onnx"), "--json")), &up)
	if up.ID == "" {
		t.Fatal("upload printed no id")
	}
	if r := waitTested(t, server, up.ID+"/1", rita); r.TestStatus != "passed" {
		t.Fatalf("test %s", r.TestStatus)
	}
	zooOK(t, "review", "--server", server, "--token", rita, "accept", up.ID+"/1")
	return up.ID
}

// TestBackupRestoreEmbedded: zoo admin backup of a running embedded
// instance restores into a fresh folder that serves the same models,
// versions and files.
func TestBackupRestoreEmbedded(t *testing.T) {
	needORT(t)
	data := t.TempDir()
	storage := []string{"--data", data}
	alice := token(t, storage, "alice", "contributor")
	rita := token(t, storage, "rita", "reviewer")
	server, _ := startServe(t, "--data", data)
	id := publishOne(t, server, alice, rita)
	before := stateOf(t, server, id)

	backup := filepath.Join(t.TempDir(), "backup")
	var st copyStats
	if err := json.Unmarshal([]byte(zooOK(t, "admin", "backup", "--data", data, "--to", backup, "--json")), &st); err != nil || st.Blobs == 0 || st.Copied != st.Blobs {
		t.Fatalf("backup: %+v %v", st, err)
	}
	if code, _ := zooFail(t, "admin", "backup", "--data", data, "--to", backup); code != 2 {
		t.Errorf("backup into a non-empty folder: exit %d, want 2", code)
	}
	// Restore: the backup folder, moved to a fresh place, is a data folder.
	restored := filepath.Join(t.TempDir(), "restored")
	if err := os.Rename(backup, restored); err != nil {
		t.Fatal(err)
	}
	server2, _ := startServe(t, "--data", restored, "--workers", "0")
	if after := stateOf(t, server2, id); after != before {
		t.Errorf("restored instance serves\n%+v\nwant\n%+v", after, before)
	}
	// Tokens came along.
	if r := show(t, server2, id+"/1", alice); r.State != "published" {
		t.Errorf("alice's token on the restored instance: %+v", r)
	}
}

// TestBackupRestoreScaleOut: pg_dump plus zoo admin copy-blobs, restored
// with pg_restore into a fresh database and copy-blobs into a fresh
// bucket, serve the same models, versions and files.
func TestBackupRestoreScaleOut(t *testing.T) {
	needORT(t)
	s3URL := testenv.Env(t, testenv.S3, "ZOO_TEST_S3")
	for _, tool := range []string{"pg_dump", "pg_restore"} {
		_, err := exec.LookPath(tool)
		testenv.Need(t, testenv.DeployTools, err)
	}
	dsn := pgtest.DSN(t)
	bucket := func(name string) string {
		u, _ := url.Parse(s3URL)
		u.Host = name + "-" + strings.ToLower(rand.Text()[:8])
		u.Path = ""
		return u.String()
	}
	blobs, copyTo, restoredBlobs := bucket("zoo-live"), t.TempDir(), bucket("zoo-restored")
	for _, b := range []string{blobs, restoredBlobs} {
		t.Cleanup(func() { emptyBucket(t, b) })
	}
	migrateIfNeeded(t, dsn)
	alice := token(t, []string{"--db", dsn}, "alice", "contributor")
	rita := token(t, []string{"--db", dsn}, "rita", "reviewer")
	server, _ := startServe(t, "--db", dsn, "--blobs", blobs, "--workers", "1")
	id := publishOne(t, server, alice, rita)
	before := stateOf(t, server, id)

	// Backup while it runs: the database first, then the blobs (here into
	// a folder; a bucket works the same).
	dump := filepath.Join(t.TempDir(), "zoo.dump")
	if out, err := exec.Command("pg_dump", "--format=custom", "--file="+dump, "--dbname="+dsn).CombinedOutput(); err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	var st copyStats
	if err := json.Unmarshal([]byte(zooOK(t, "admin", "copy-blobs", "--from", blobs, "--to", copyTo, "--json")), &st); err != nil || st.Blobs == 0 || st.Copied != st.Blobs {
		t.Fatalf("copy-blobs: %+v %v", st, err)
	}
	json.Unmarshal([]byte(zooOK(t, "admin", "copy-blobs", "--from", blobs, "--to", copyTo, "--json")), &st)
	if st.Copied != 0 {
		t.Errorf("a second copy copied %d blobs again, want 0", st.Copied)
	}

	// Restore into a fresh database and bucket.
	dsn2 := pgtest.DSN(t)
	if out, err := exec.Command("pg_restore", "--no-owner", "--exit-on-error", "--dbname="+dsn2, dump).CombinedOutput(); err != nil {
		t.Fatalf("pg_restore: %v\n%s", err, out)
	}
	zooOK(t, "admin", "copy-blobs", "--from", copyTo, "--to", restoredBlobs)
	server2, _ := startServe(t, "--db", dsn2, "--blobs", restoredBlobs, "--workers", "0")
	if after := stateOf(t, server2, id); after != before {
		t.Errorf("restored instance serves\n%+v\nwant\n%+v", after, before)
	}
}

// emptyBucket deletes what a test put in a bucket.
func emptyBucket(t *testing.T, loc string) {
	s, err := s3.New(loc)
	if err != nil {
		return
	}
	ctx := context.Background()
	var keys []string
	s.Walk(ctx, func(sha string, _ int64) error { keys = append(keys, sha); return nil })
	for _, k := range keys {
		s.Delete(ctx, k)
	}
	s.CleanTemp(ctx, 0)
}

// migrateIfNeeded runs zoo migrate on a fresh database when this zoo has
// the command (serving processes then refuse an unmigrated schema).
func migrateIfNeeded(t *testing.T, dsn string) {
	t.Helper()
	for _, c := range newRoot().Commands() {
		if c.Name() == "migrate" {
			zooOK(t, "migrate", "--db", dsn)
		}
	}
}
