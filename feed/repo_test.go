package feed

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/modelcache/cachetest"
	"github.com/zoo-bioimage/zoo/web"
)

// On a real repository behind the real web layer: published and retired
// versions appear (a retirement as its own entry with the reason, dated
// at retirement), drafts and submissions never; the enclosure is the
// package the server serves.
func TestRepository(t *testing.T) {
	env := cachetest.New(t)
	ctx := context.Background()
	pub := env.Publish(t, "unet2d-nuclei-broad-onnx")
	old := env.Publish(t, "upsample-onnx")
	draft := env.Upload(t, "unet2d-multi-tensor-onnx", true)
	sub := env.Upload(t, "unet2d-diff-output-shape-onnx", false)
	if draft.State != zoo.StateDraft || sub.State != zoo.StateSubmitted {
		t.Fatalf("states %s %s", draft.State, sub.State)
	}
	admin, err := env.Svc.Catalog().CreateUser(ctx, "root", zoo.RoleAdmin)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Svc.Retire(ctx, admin, old.ModelID, old.Number, "replaced by a better model"); err != nil {
		t.Fatal(err)
	}
	h := New(RepoSource(env.Svc), Options{})
	srv := httptest.NewServer(web.New(env.Svc, web.Options{Routes: h.Routes(), Logger: slog.New(slog.DiscardHandler)}))
	t.Cleanup(srv.Close)

	r := get(t, srv, "/feed.atom", nil)
	if r.StatusCode != 200 || len(r.feed.Entries) != 3 {
		t.Fatalf("status %d, entries %q", r.StatusCode, ids(r.feed))
	}
	for _, e := range r.feed.Entries {
		if strings.Contains(e.ID, draft.ModelID) || strings.Contains(e.ID, sub.ModelID) {
			t.Errorf("an unpublished version in the feed: %s", e.ID)
		}
	}
	ret := r.feed.Entries[0]
	if !strings.HasSuffix(ret.ID, "/"+old.ModelID+"/1/retired") || !strings.HasPrefix(ret.Summary, "Retired: replaced by a better model") ||
		ret.Updated < old.PublishedAt.UTC().Format("2006-01-02T15:04:05Z") || !strings.HasSuffix(ret.Title, "— version 1 retired") {
		t.Errorf("retirement entry %+v", ret)
	}
	var e Entry
	for _, x := range r.feed.Entries {
		if strings.HasSuffix(x.ID, "/"+pub.ModelID+"/1/published") {
			e = x
		}
	}
	d, err := env.Svc.Description(ctx, pub)
	if err != nil {
		t.Fatal(err)
	}
	if e.Title != d.Name+" — version 1 published" || e.Rights != d.License || len(e.Authors) != len(d.Authors) ||
		len(e.Categories) != 1+len(d.Tags) || e.Categories[0].Term != "model" {
		t.Errorf("entry %+v from description %q", e, d.Name)
	}
	// The enclosure is the package zip, of the length announced.
	var enc Link
	for _, l := range e.Links {
		if l.Rel == "enclosure" {
			enc = l
		}
	}
	if enc.Href != srv.URL+"/packages/"+pub.ModelID+"/1" || enc.Length != pub.PackageSize {
		t.Fatalf("enclosure %+v, package size %d", enc, pub.PackageSize)
	}
	res, err := srv.Client().Get(enc.Href)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || n != enc.Length || res.Header.Get("Content-Type") != "application/zip" {
		t.Errorf("GET enclosure: %d, %d bytes, %s", res.StatusCode, n, res.Header.Get("Content-Type"))
	}

	// Per model.
	if r := get(t, srv, "/models/"+old.ModelID+"/feed.atom", nil); r.StatusCode != 200 || len(r.feed.Entries) != 2 {
		t.Errorf("retired model's feed: %d %q", r.StatusCode, ids(r.feed))
	}
	for _, id := range []string{draft.ModelID, sub.ModelID, "no-such-model"} {
		if r := get(t, srv, "/models/"+id+"/feed.atom", nil); r.StatusCode != 404 ||
			!strings.HasPrefix(r.Header.Get("Content-Type"), "application/problem+json") {
			t.Errorf("feed of %s: %d %s", id, r.StatusCode, r.Header.Get("Content-Type"))
		}
	}
	// Tags as the descriptions write them, matched case-insensitively.
	if r := get(t, srv, "/feed.atom?tag=DSB2018", nil); len(r.feed.Entries) != 1 || !strings.Contains(r.feed.Entries[0].ID, pub.ModelID) {
		t.Errorf("tag=DSB2018: %q", ids(r.feed))
	}
	// A new publication is at once the newest entry; re-polling with the
	// old ETag no longer matches.
	etag := r.Header.Get("ETag")
	next := env.Publish(t, "unet2d-multi-tensor-onnx")
	r = get(t, srv, "/feed.atom", map[string]string{"If-None-Match": etag})
	if r.StatusCode != 200 || !strings.HasSuffix(r.feed.Entries[0].ID, "/"+next.ModelID+"/"+strconv.Itoa(next.Number)+"/published") {
		t.Errorf("after a publication: %d %q", r.StatusCode, ids(r.feed))
	}
}
