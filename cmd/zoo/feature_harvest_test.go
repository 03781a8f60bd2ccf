package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/bundle"
	"github.com/zoo-bioimage/zoo/doi"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/web"
)

// serve mounts every feature's routes (a clash between them panics in
// web.New); a published version shows in OAI-PMH, the collection files
// and the Hub endpoints, under ZOO_PUBLIC_URL.
func TestHarvestRoutes(t *testing.T) {
	t.Setenv(doi.EnvPublicURL, "https://zoo.example.org")
	t.Setenv("ZOO_ADMIN_EMAIL", "ops@example.org")
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
	st.cat.SetTestResult(ctx, v.ModelID, 1, zoo.TestPassed, json.RawMessage(`{"status":"passed","formats":{"onnx":{"status":"passed"}}}`))
	if _, err := env.svc.Review(ctx, rita, v.ModelID, 1, "accept", ""); err != nil {
		t.Fatal(err)
	}
	opts, err := webOptions(env)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(env.svc, opts))
	defer srv.Close()
	get := func(path string) (int, string) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode, string(b)
	}
	code, body := get("/oai?verb=GetRecord&metadataPrefix=oai_datacite&identifier=oai:zoo.example.org:" + v.ModelID + "/1")
	if code != 200 || xml.Unmarshal([]byte(body), new(struct{})) != nil || !strings.Contains(body, "<payload>") {
		t.Errorf("oai: %d %.500s", code, body)
	}
	if code, body := get("/oai?verb=Identify"); code != 200 || !strings.Contains(body, "<adminEmail>ops@example.org</adminEmail>") {
		t.Errorf("Identify: %d %.500s", code, body)
	}
	res, err := http.Post(srv.URL+"/oai", "application/x-www-form-urlencoded", strings.NewReader("verb=ListIdentifiers&metadataPrefix=oai_dc"))
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(pb), "<identifier>oai:zoo.example.org:"+v.ModelID+"/1</identifier>") {
		t.Errorf("POST /oai: %d %.500s", res.StatusCode, pb)
	}
	code, body = get("/collection.json")
	if code != 200 || !strings.Contains(body, `"download_url":"https://zoo.example.org/packages/`+v.ModelID+`/1"`) ||
		!strings.Contains(body, `"tested":["`) {
		t.Errorf("collection.json: %d %.800s", code, body)
	}
	if code, body := get("/index.json"); code != 200 || !strings.Contains(body, `"total":1`) {
		t.Errorf("index.json: %d %.300s", code, body)
	}
	if code, body := get("/id_map.json"); code != 200 || !strings.Contains(body, `"`+v.ModelID+`/1":{"source":"https://zoo.example.org/files/`+v.ModelID+`/1/rdf.yaml"`) {
		t.Errorf("id_map.json: %d %.300s", code, body)
	}
	if code, body := get("/all_versions.json"); code != 200 || !strings.Contains(body, `"concept":"`+v.ModelID+`"`) {
		t.Errorf("all_versions.json: %d %.300s", code, body)
	}
	if code, body := get("/hf/api/models/" + v.ModelID); code != 200 || !strings.Contains(body, `"sha":"`+v.PackageSHA256[:40]) {
		t.Errorf("hub: %d %.300s", code, body)
	}
	if code, body := get("/api/openapi.json"); code != 200 || !strings.Contains(body, `"/api/models/{id}/revision/{rev}"`) {
		t.Errorf("OpenAPI lacks the hub routes: %d", code)
	}
}

// An instance without ZOO_PUBLIC_URL and ZOO_ADMIN_EMAIL, reached at
// 127.0.0.1:PORT (make run): its display name never carries the port
// (collection, OAI-PMH, feed, the DataCite publisher), the OAI-PMH contact
// is no invented address at the request's host, and start-up says which
// setting is missing (issue 17).
func TestInstanceNameAndContactWithoutSettings(t *testing.T) {
	t.Setenv(doi.EnvPublicURL, "")
	t.Setenv("ZOO_ADMIN_EMAIL", "")
	ctx := context.Background()
	st, err := openStorage(ctx, storageFlags{data: t.TempDir()}, true)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var logs bytes.Buffer
	_, env, err := serveOnly(ctx, st, slog.New(slog.NewTextHandler(&logs, nil)), "")
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
	st.cat.SetTestResult(ctx, v.ModelID, 1, zoo.TestPassed, json.RawMessage(`{"status":"passed"}`))
	if _, err := env.svc.Review(ctx, rita, v.ModelID, 1, "accept", ""); err != nil {
		t.Fatal(err)
	}
	opts, err := webOptions(env)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(env.svc, opts))
	defer srv.Close()
	port := srv.URL[strings.LastIndex(srv.URL, ":"):]
	for _, p := range []string{"/collection.json", "/oai?verb=Identify", "/feed.atom",
		"/api/v1/models/" + v.ModelID + "/versions/1/datacite.json", "/api/v1/models/" + v.ModelID + "/versions/1/jsonld"} {
		res, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		body := strings.ReplaceAll(string(b), srv.URL, "BASE") // links keep the port, names must not
		if res.StatusCode != 200 {
			t.Errorf("%s: %d %.300s", p, res.StatusCode, body)
		}
		if strings.Contains(body, "127.0.0.1"+port) {
			t.Errorf("%s names the instance with its port: %.600s", p, body)
		}
		if strings.Contains(body, "admin@127.0.0.1") {
			t.Errorf("%s invents a contact at the request's host: %.600s", p, body)
		}
	}
	if !strings.Contains(logs.String(), "ZOO_ADMIN_EMAIL") {
		t.Errorf("start-up did not say to set ZOO_ADMIN_EMAIL:\n%s", logs.String())
	}
}
