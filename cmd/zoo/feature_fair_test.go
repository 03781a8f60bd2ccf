package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/doi"
	"github.com/zoo-bioimage/zoo/doi/doitest"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/web"
)

// Publishing a version queues a DOI mint; the job mints against DataCite
// (the checking test server), records the DOI, and the citation routes
// cite it. A second run of the job asks DataCite nothing.
func TestPublishMintsDOI(t *testing.T) {
	dc := doitest.NewServer(t)
	t.Setenv(doi.EnvURL, dc.URL)
	t.Setenv(doi.EnvRepository, dc.Repository)
	t.Setenv(doi.EnvPassword, dc.Password)
	t.Setenv(doi.EnvPrefix, dc.Prefix)
	t.Setenv(doi.EnvPublicURL, "https://zoo.example.org")

	ctx := context.Background()
	st, err := openStorage(ctx, storageFlags{data: t.TempDir()}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, env, err := serveOnly(ctx, st, slog.New(slog.NewTextHandler(io.Discard, nil)), "")
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := st.cat.CreateUser(ctx, "alice", zoo.RoleContributor)
	rita, _ := st.cat.CreateUser(ctx, "rita", zoo.RoleReviewer)
	pkg, _, err := bundle.Build(fixtures.Path(t, "packages", "unet2d-nuclei-broad-onnx"), bundle.BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var zipBuf bytes.Buffer
	bundle.Write(&zipBuf, pkg)
	pkg.Close()
	v, err := env.svc.Upload(ctx, alice, &zipBuf, repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.cat.SetTestResult(ctx, v.ModelID, v.Number, zoo.TestPassed, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.Review(ctx, rita, v.ModelID, v.Number, "accept", ""); err != nil {
		t.Fatal(err)
	}
	jobs, err := env.queue.Jobs(ctx, jobMintDOI, 10)
	if err != nil || len(jobs) != 1 {
		t.Fatalf("mint jobs after publishing: %v, %v; want 1", jobs, err)
	}
	if err := mintDOI(ctx, env, jobs[0]); err != nil {
		t.Fatalf("mint job: %v (DataCite saw: %v)", err, dc.Problems())
	}
	want := "10.5072/zoo." + v.ModelID + ".1"
	if rec := dc.Get(want); rec == nil || rec.State != "findable" || rec.Attributes["url"] != "https://zoo.example.org/models/"+v.ModelID+"/1" {
		t.Fatalf("DataCite holds %+v", rec)
	}
	got, err := env.st.cat.(doi.Store).VersionDOI(ctx, v.ModelID, 1)
	if err != nil || got != want {
		t.Fatalf("recorded DOI %q, %v", got, err)
	}
	n := dc.Requests()
	if err := mintDOI(ctx, env, jobs[0]); err != nil || dc.Requests() != n {
		t.Fatalf("second run: %v, %d more requests", err, dc.Requests()-n)
	}

	opts, err := webOptions(env)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(env.svc, opts))
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL + "/api/v1/models/" + v.ModelID + "/citation.bib")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "doi = {"+want+"}") || !strings.Contains(res.Header.Get("Link"), "<https://doi.org/"+want+">; rel=\"cite-as\"") {
		t.Fatalf("citation after minting: %d %s\nLink: %s", res.StatusCode, body, res.Header.Get("Link"))
	}
}

// A DataCite outage fails the job for a retry; a half configuration stops
// the server from starting.
func TestMintDOIRetriesAndConfig(t *testing.T) {
	dc := doitest.NewServer(t)
	t.Setenv(doi.EnvURL, dc.URL)
	t.Setenv(doi.EnvRepository, dc.Repository)
	t.Setenv(doi.EnvPassword, dc.Password)
	t.Setenv(doi.EnvPrefix, dc.Prefix)
	t.Setenv(doi.EnvPublicURL, "https://zoo.example.org")
	ctx := context.Background()
	st, err := openStorage(ctx, storageFlags{data: t.TempDir()}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	_, env, err := serveOnly(ctx, st, slog.New(slog.NewTextHandler(io.Discard, nil)), "")
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := st.cat.CreateUser(ctx, "alice", zoo.RoleContributor)
	rita, _ := st.cat.CreateUser(ctx, "rita", zoo.RoleReviewer)
	pkg, _, _ := bundle.Build(fixtures.Path(t, "packages", "upsample-onnx"), bundle.BuildOptions{})
	var zipBuf bytes.Buffer
	bundle.Write(&zipBuf, pkg)
	pkg.Close()
	v, err := env.svc.Upload(ctx, alice, &zipBuf, repo.UploadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	st.cat.SetTestResult(ctx, v.ModelID, 1, zoo.TestPassed, json.RawMessage(`{}`))
	if _, err := env.svc.Review(ctx, rita, v.ModelID, 1, "accept", ""); err != nil {
		t.Fatal(err)
	}
	jobs, _ := env.queue.Jobs(ctx, jobMintDOI, 10)
	if len(jobs) != 1 {
		t.Fatalf("%d jobs", len(jobs))
	}
	dc.FailNext(503)
	if err := mintDOI(ctx, env, jobs[0]); zoo.KindOf(err) != zoo.Unavailable {
		t.Fatalf("outage: %v, want Unavailable (retried)", err)
	}
	if _, err := st.cat.(doi.Store).VersionDOI(ctx, v.ModelID, 1); zoo.KindOf(err) != zoo.NotFound {
		t.Fatalf("a failed mint recorded a DOI: %v", err)
	}
	if err := mintDOI(ctx, env, jobs[0]); err != nil {
		t.Fatalf("retry: %v", err)
	}

	t.Setenv(doi.EnvPassword, "")
	if _, _, err := serveOnly(ctx, st, slog.New(slog.NewTextHandler(io.Discard, nil)), ""); err == nil || !strings.Contains(zoo.MessageOf(err), doi.EnvPassword) {
		t.Fatalf("half configuration: %v", err)
	}
}

// serve started with DataCite configured queues mints for published
// versions that have no DOI yet, and none for those that have one.
func TestBackfillDOIs(t *testing.T) {
	dc := doitest.NewServer(t)
	ctx := context.Background()
	st, err := openStorage(ctx, storageFlags{data: t.TempDir()}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	_, env, err := serveOnly(ctx, st, quiet, "") // DataCite not configured yet
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := st.cat.CreateUser(ctx, "alice", zoo.RoleContributor)
	rita, _ := st.cat.CreateUser(ctx, "rita", zoo.RoleReviewer)
	var ids []string
	for _, fx := range []string{"upsample-onnx", "unet2d-nuclei-broad-onnx"} {
		pkg, _, _ := bundle.Build(fixtures.Path(t, "packages", fx), bundle.BuildOptions{})
		var zipBuf bytes.Buffer
		bundle.Write(&zipBuf, pkg)
		pkg.Close()
		v, err := env.svc.Upload(ctx, alice, &zipBuf, repo.UploadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		st.cat.SetTestResult(ctx, v.ModelID, 1, zoo.TestPassed, json.RawMessage(`{}`))
		if _, err := env.svc.Review(ctx, rita, v.ModelID, 1, "accept", ""); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ModelID)
	}
	if jobs, _ := env.queue.Jobs(ctx, jobMintDOI, 10); len(jobs) != 0 {
		t.Fatalf("unconfigured: %d mint jobs", len(jobs))
	}
	if err := st.cat.(doi.Store).SetVersionDOI(ctx, ids[0], 1, "10.5072/zoo."+ids[0]+".1"); err != nil {
		t.Fatal(err)
	}
	t.Setenv(doi.EnvURL, dc.URL)
	t.Setenv(doi.EnvRepository, dc.Repository)
	t.Setenv(doi.EnvPassword, dc.Password)
	t.Setenv(doi.EnvPrefix, dc.Prefix)
	t.Setenv(doi.EnvPublicURL, "https://zoo.example.org")
	backfillDOIs(env)
	jobs, _ := env.queue.Jobs(ctx, jobMintDOI, 10)
	if len(jobs) != 1 || !strings.Contains(string(jobs[0].Args), ids[1]) {
		t.Fatalf("backfill queued %d jobs (%v); want one for %s", len(jobs), jobs, ids[1])
	}
}
