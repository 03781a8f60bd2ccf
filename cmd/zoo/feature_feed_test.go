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
	"github.com/zoo-bioimage/zoo/feed"
	"github.com/zoo-bioimage/zoo/internal/fixtures"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/web"
)

// In the composed server (every feature's routes, the pages' among them):
// both feeds answer under ZOO_PUBLIC_URL, link the recorded DOI, and the
// model page beside /models/{id}/feed.atom is still the page.
func TestFeedRoutes(t *testing.T) {
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
	st.cat.SetTestResult(ctx, v.ModelID, 1, zoo.TestPassed, json.RawMessage(`{"status":"passed"}`))
	if _, err := env.svc.Review(ctx, rita, v.ModelID, 1, "accept", ""); err != nil {
		t.Fatal(err)
	}
	if err := st.cat.(doi.Store).SetVersionDOI(ctx, v.ModelID, 1, "10.5072/zoo."+v.ModelID+".1"); err != nil {
		t.Fatal(err)
	}
	opts, err := webOptions(env)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(web.New(env.svc, opts))
	defer srv.Close()
	for _, path := range []string{"/feed.atom", "/models/" + v.ModelID + "/feed.atom"} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		var f feed.Feed
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != feed.ContentType || xml.Unmarshal(b, &f) != nil || len(f.Entries) != 1 {
			t.Fatalf("%s: %d %s %.300s", path, res.StatusCode, res.Header.Get("Content-Type"), b)
		}
		e := f.Entries[0]
		if e.Link("alternate") != "https://zoo.example.org/models/"+v.ModelID+"/1" ||
			e.Link("related") != "https://doi.org/10.5072/zoo."+v.ModelID+".1" || !strings.HasPrefix(e.ID, "tag:zoo.example.org,") {
			t.Errorf("%s: entry %+v", path, e)
		}
	}
	res, err := http.Get(srv.URL + "/models/" + v.ModelID)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Errorf("model page: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
}
