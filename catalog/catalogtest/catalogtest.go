// Package catalogtest is the conformance suite every zoo.Catalog passes
// (sqlite, postgres): one set of tests, so that the backends cannot drift
// apart. A backend's test calls Run with a function that opens a fresh,
// empty catalog, and its benchmark calls Bench.
package catalogtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/catalog"
)

// Run runs the suite. open returns a fresh, empty catalog and arranges its
// closing with t.Cleanup; subtests call it in parallel.
func Run(t *testing.T, open func(t *testing.T) zoo.Catalog) {
	tests := []struct {
		name string
		fn   func(t *testing.T, c zoo.Catalog)
	}{
		{"Users", testUsers},
		{"Tokens", testTokens},
		{"NamedTokens", testNamedTokens},
		{"Models", testModels},
		{"ModelIDsAreNeverReused", testModelIDs},
		{"ListModels", testListModels},
		{"VersionNumbers", testVersionNumbers},
		{"VersionNumbersConcurrent", testVersionNumbersConcurrent},
		{"VersionRoundTrip", testVersionRoundTrip},
		{"CreateVersionChecks", testCreateVersionChecks},
		{"CreateVersionAudit", testCreateVersionAudit},
		{"CreateVersionNewModel", testCreateVersionNewModel},
		{"VersionNotFound", testVersionNotFound},
		{"LatestPublished", testLatestPublished},
		{"ListVersions", testListVersions},
		{"Transitions", testTransitions},
		{"TransitionWrongState", testTransitionWrongState},
		{"TransitionConcurrent", testTransitionConcurrent},
		{"Audit", testAudit},
		{"SetTestResult", testSetTestResult},
		{"CountDownload", testCountDownload},
		{"CountDownloadOnce", testCountDownloadOnce},
		{"ReferencedBlobs", testReferencedBlobs},
		{"Conversion", testConversion},
		{"ConversionBlobs", testConversionBlobs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

// --- helpers

var ctx = context.Background()

// wantKind fails unless err is a zoo error of kind.
func wantKind(t *testing.T, err error, kind zoo.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v", kind)
	}
	var ze *zoo.Error
	if !errors.As(err, &ze) {
		t.Fatalf("got %T %v, want a *zoo.Error of kind %v", err, err, kind)
	}
	if ze.Kind != kind {
		t.Fatalf("got %v (%v), want %v", ze.Kind, err, kind)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func user(t *testing.T, c zoo.Catalog, name string, role zoo.Role) *zoo.User {
	t.Helper()
	u, err := c.CreateUser(ctx, name, role)
	must(t, err)
	return u
}

func model(t *testing.T, c zoo.Catalog, id string, owner int64, maintainers ...int64) *zoo.Model {
	t.Helper()
	m := &zoo.Model{ID: id, Type: "model", OwnerID: owner, Maintainers: maintainers}
	must(t, c.CreateModel(ctx, m))
	return m
}

// newVersion is a version of model id with two files and a package.
func newVersion(id string, uploader int64, tag string) *zoo.Version {
	return &zoo.Version{
		ModelID: id, UploaderID: uploader,
		Name: "U-Net " + tag, Description: "nuclei " + tag, FormatVersion: "0.5.4",
		DescriptionFile: "rdf.yaml",
		Files: []zoo.File{
			{Path: "weights.onnx", SHA256: hash(id + tag + "weights"), Size: 1000},
			{Path: "rdf.yaml", SHA256: hash(id + tag + "rdf"), Size: 10},
		},
		PackageSHA256: hash(id + tag + "zip"), PackageSize: 1010,
	}
}

func version(t *testing.T, c zoo.Catalog, id string, uploader int64, state zoo.State) *zoo.Version {
	t.Helper()
	v := newVersion(id, uploader, fmt.Sprint(time.Now().UnixNano()))
	v.State = state
	must(t, c.CreateVersion(ctx, nil, v, uploadEntry(v)))
	return v
}

// uploadEntry is the audit entry of v's upload.
func uploadEntry(v *zoo.Version) zoo.AuditEntry {
	return zoo.AuditEntry{ActorID: v.UploaderID, Action: "upload", Detail: string(v.State)}
}

func sameUser(a, b *zoo.User) bool {
	return a.ID == b.ID && a.Name == b.Name && a.Role == b.Role && a.CreatedAt.Equal(b.CreatedAt)
}

// sameVersion compares versions field by field (times with Equal,
// reports byte for byte).
func sameVersion(t *testing.T, got, want *zoo.Version) {
	t.Helper()
	g, w := *got, *want
	if !g.CreatedAt.Equal(w.CreatedAt) {
		t.Errorf("CreatedAt = %v, want %v", g.CreatedAt, w.CreatedAt)
	}
	if (g.PublishedAt == nil) != (w.PublishedAt == nil) || g.PublishedAt != nil && !g.PublishedAt.Equal(*w.PublishedAt) {
		t.Errorf("PublishedAt = %v, want %v", g.PublishedAt, w.PublishedAt)
	}
	if string(g.ValidationReport) != string(w.ValidationReport) || string(g.TestReport) != string(w.TestReport) {
		t.Errorf("reports = %q, %q, want %q, %q", g.ValidationReport, g.TestReport, w.ValidationReport, w.TestReport)
	}
	if gc, wc := g.Converted, w.Converted; gc != nil && wc != nil {
		if (gc.At == nil) != (wc.At == nil) || gc.At != nil && !gc.At.Equal(*wc.At) {
			t.Errorf("Converted.At = %v, want %v", gc.At, wc.At)
		}
		c1, c2 := *gc, *wc
		c1.At, c2.At = nil, nil
		g.Converted, w.Converted = &c1, &c2
	}
	g.CreatedAt, w.CreatedAt, g.PublishedAt, w.PublishedAt = time.Time{}, time.Time{}, nil, nil
	g.ValidationReport, w.ValidationReport, g.TestReport, w.TestReport = nil, nil, nil, nil
	if !reflect.DeepEqual(g, w) {
		gj, _ := json.Marshal(g)
		wj, _ := json.Marshal(w)
		t.Errorf("version differs:\n got %s\nwant %s", gj, wj)
	}
}

// --- users and tokens

func testUsers(t *testing.T, c zoo.Catalog) {
	before := time.Now().Add(-time.Second)
	ann := user(t, c, "ann", zoo.RoleContributor)
	if ann.ID == 0 || ann.Name != "ann" || ann.Role != zoo.RoleContributor || ann.CreatedAt.Before(before) {
		t.Fatalf("CreateUser = %+v", ann)
	}
	bob := user(t, c, "bob", zoo.RoleAdmin)
	if bob.ID == ann.ID {
		t.Fatal("two users with one id")
	}
	_, err := c.CreateUser(ctx, "ann", zoo.RoleReviewer)
	wantKind(t, err, zoo.Conflict)
	_, err = c.CreateUser(ctx, "eve", "superuser")
	wantKind(t, err, zoo.Invalid)
	_, err = c.CreateUser(ctx, "", zoo.RoleContributor)
	wantKind(t, err, zoo.Invalid)

	got, err := c.UserByName(ctx, "ann")
	must(t, err)
	if !sameUser(got, ann) {
		t.Errorf("UserByName = %+v, want %+v", got, ann)
	}
	got, err = c.UserByID(ctx, bob.ID)
	must(t, err)
	if !sameUser(got, bob) {
		t.Errorf("UserByID = %+v, want %+v", got, bob)
	}
	_, err = c.UserByName(ctx, "nobody")
	wantKind(t, err, zoo.NotFound)
	_, err = c.UserByID(ctx, bob.ID+1000)
	wantKind(t, err, zoo.NotFound)

	must(t, c.SetRole(ctx, ann.ID, zoo.RoleReviewer))
	got, err = c.UserByID(ctx, ann.ID)
	must(t, err)
	if got.Role != zoo.RoleReviewer {
		t.Errorf("role after SetRole = %s", got.Role)
	}
	wantKind(t, c.SetRole(ctx, ann.ID, "root"), zoo.Invalid)
	wantKind(t, c.SetRole(ctx, bob.ID+1000, zoo.RoleAdmin), zoo.NotFound)
}

func testTokens(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	bob := user(t, c, "bob", zoo.RoleReviewer)
	h1, h2, h3 := hash("secret-1"), hash("secret-2"), hash("secret-3")
	tok, err := c.CreateToken(ctx, ann.ID, h1)
	must(t, err)
	if tok.ID == 0 || tok.UserID != ann.ID || tok.Hash != h1 || tok.RevokedAt != nil || tok.CreatedAt.IsZero() {
		t.Fatalf("CreateToken = %+v", tok)
	}
	_, err = c.CreateToken(ctx, ann.ID, h2)
	must(t, err)
	_, err = c.CreateToken(ctx, bob.ID, h3)
	must(t, err)

	_, err = c.CreateToken(ctx, bob.ID, h1)
	wantKind(t, err, zoo.Conflict)
	_, err = c.CreateToken(ctx, bob.ID+1000, hash("x"))
	wantKind(t, err, zoo.NotFound)
	_, err = c.CreateToken(ctx, ann.ID, "not-a-hash")
	wantKind(t, err, zoo.Invalid)

	for h, want := range map[string]*zoo.User{h1: ann, h2: ann, h3: bob} {
		got, err := c.UserByToken(ctx, h)
		must(t, err)
		if !sameUser(got, want) {
			t.Errorf("UserByToken = %+v, want %+v", got, want)
		}
	}
	_, err = c.UserByToken(ctx, hash("unknown"))
	wantKind(t, err, zoo.NotFound)

	must(t, c.RevokeToken(ctx, h1))
	_, err = c.UserByToken(ctx, h1)
	wantKind(t, err, zoo.NotFound)  // a revoked token does not authenticate
	must(t, c.RevokeToken(ctx, h1)) // idempotent
	_, err = c.UserByToken(ctx, h2)
	must(t, err) // the user's other token still works
	wantKind(t, c.RevokeToken(ctx, hash("unknown")), zoo.NotFound)

	// A role change shows through the token at once.
	must(t, c.SetRole(ctx, bob.ID, zoo.RoleAdmin))
	got, err := c.UserByToken(ctx, h3)
	must(t, err)
	if got.Role != zoo.RoleAdmin {
		t.Errorf("role through token = %s, want admin", got.Role)
	}
}

func testNamedTokens(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	bob := user(t, c, "bob", zoo.RoleContributor)
	// A token made without a name is token-ID.
	plain, err := c.CreateToken(ctx, ann.ID, hash("plain"))
	must(t, err)
	if want := fmt.Sprintf("token-%d", plain.ID); plain.Name != want {
		t.Errorf("unnamed token's name = %q, want %q", plain.Name, want)
	}
	later := catalog.Now().Add(time.Hour)
	ci, err := c.CreateNamedToken(ctx, ann.ID, hash("ci"), "ci-upload", &later)
	must(t, err)
	if ci.Name != "ci-upload" || ci.ExpiresAt == nil || !ci.ExpiresAt.Equal(later) || ci.LastUsedAt != nil {
		t.Fatalf("CreateNamedToken = %+v", ci)
	}
	// Names are unique among a user's active tokens only.
	_, err = c.CreateNamedToken(ctx, ann.ID, hash("ci-2"), "ci-upload", nil)
	wantKind(t, err, zoo.Conflict)
	if err != nil && !strings.Contains(zoo.MessageOf(err), "ci-upload") {
		t.Errorf("name conflict says %q, want the name", zoo.MessageOf(err))
	}
	_, err = c.CreateNamedToken(ctx, bob.ID, hash("bob-ci"), "ci-upload", nil)
	must(t, err)
	for _, bad := range []string{"", "-x", "a b", "ü", strings.Repeat("a", catalog.MaxTokenName+1), "x\n"} {
		_, err = c.CreateNamedToken(ctx, ann.ID, hash("bad"+bad), bad, nil)
		wantKind(t, err, zoo.Invalid)
	}
	// An expired token does not authenticate.
	past := catalog.Now().Add(-time.Second)
	_, err = c.CreateNamedToken(ctx, ann.ID, hash("old"), "old", &past)
	must(t, err)
	_, err = c.UserByToken(ctx, hash("old"))
	wantKind(t, err, zoo.NotFound)
	// A use is recorded.
	before := catalog.Now()
	_, err = c.UserByToken(ctx, hash("ci"))
	must(t, err)
	list, err := c.Tokens(ctx, ann.ID)
	must(t, err)
	if len(list) != 3 || list[0].Name != "old" || list[1].Name != "ci-upload" || list[2].Name != plain.Name {
		t.Fatalf("Tokens = %+v, want old, ci-upload, %s (newest first)", list, plain.Name)
	}
	if u := list[1].LastUsedAt; u == nil || u.Before(before) || list[1].Hash != hash("ci") || list[1].UserID != ann.ID {
		t.Errorf("ci-upload after a use: %+v", list[1])
	}
	if list[2].LastUsedAt != nil {
		t.Errorf("an unused token has a last use: %+v", list[2])
	}
	// Revoking by name revokes that user's token only, and frees the name.
	rt, err := c.RevokeTokenByName(ctx, ann.ID, "ci-upload")
	must(t, err)
	if rt.RevokedAt == nil || rt.Name != "ci-upload" || rt.ID != ci.ID {
		t.Errorf("RevokeTokenByName = %+v", rt)
	}
	_, err = c.UserByToken(ctx, hash("ci"))
	wantKind(t, err, zoo.NotFound)
	_, err = c.UserByToken(ctx, hash("bob-ci"))
	must(t, err)
	_, err = c.RevokeTokenByName(ctx, ann.ID, "ci-upload")
	wantKind(t, err, zoo.NotFound)
	_, err = c.RevokeTokenByName(ctx, ann.ID, "nope")
	wantKind(t, err, zoo.NotFound)
	_, err = c.CreateNamedToken(ctx, ann.ID, hash("ci-3"), "ci-upload", nil)
	must(t, err)
	list, err = c.Tokens(ctx, ann.ID)
	must(t, err)
	if len(list) != 4 || list[2].RevokedAt == nil || list[0].RevokedAt != nil {
		t.Errorf("Tokens after revoke and reuse of the name = %+v", list)
	}
	if none, err := c.Tokens(ctx, ann.ID+bob.ID+1000); err != nil || none == nil || len(none) != 0 {
		t.Errorf("Tokens of an unknown user = %v, %v; want an empty list", none, err)
	}
}

// --- models

func testModels(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	bob := user(t, c, "bob", zoo.RoleContributor)
	cat := user(t, c, "cat", zoo.RoleContributor)
	m := &zoo.Model{ID: "patient-heron", OwnerID: ann.ID, Maintainers: []int64{cat.ID, bob.ID, cat.ID}}
	must(t, c.CreateModel(ctx, m))
	if m.Type != "model" || m.CreatedAt.IsZero() || !slices.Equal(m.Maintainers, []int64{bob.ID, cat.ID}) {
		t.Fatalf("CreateModel left %+v", m)
	}
	got, err := c.Model(ctx, "patient-heron")
	must(t, err)
	if got.ID != m.ID || got.Type != "model" || got.OwnerID != ann.ID || got.Downloads != 0 ||
		!got.CreatedAt.Equal(m.CreatedAt) || !slices.Equal(got.Maintainers, []int64{bob.ID, cat.ID}) {
		t.Errorf("Model = %+v, want %+v", got, m)
	}

	d := &zoo.Model{ID: "brave-otter", Type: "dataset", OwnerID: bob.ID}
	must(t, c.CreateModel(ctx, d))
	got, err = c.Model(ctx, "brave-otter")
	must(t, err)
	if got.Type != "dataset" || got.Maintainers == nil || len(got.Maintainers) != 0 {
		t.Errorf("Model = %+v (Maintainers must be empty, not nil)", got)
	}

	_, err = c.Model(ctx, "lost-yak")
	wantKind(t, err, zoo.NotFound)
	wantKind(t, c.CreateModel(ctx, &zoo.Model{ID: "", OwnerID: ann.ID}), zoo.Invalid)
	wantKind(t, c.CreateModel(ctx, &zoo.Model{ID: "lone-wolf", OwnerID: ann.ID + 1000}), zoo.NotFound)
	wantKind(t, c.CreateModel(ctx, &zoo.Model{ID: "lone-wolf", OwnerID: ann.ID, Maintainers: []int64{ann.ID + 1000}}), zoo.NotFound)
	// A failed create does not use up the id.
	must(t, c.CreateModel(ctx, &zoo.Model{ID: "lone-wolf", OwnerID: ann.ID}))
}

func testModelIDs(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	bob := user(t, c, "bob", zoo.RoleContributor)
	model(t, c, "quiet-lynx", ann.ID)
	err := c.CreateModel(ctx, &zoo.Model{ID: "quiet-lynx", OwnerID: bob.ID})
	wantKind(t, err, zoo.Conflict)
	got, err := c.Model(ctx, "quiet-lynx")
	must(t, err)
	if got.OwnerID != ann.ID {
		t.Errorf("the Conflict changed the owner to %d", got.OwnerID)
	}

	// Racing reservations of one id: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { errs[i] = c.CreateModel(ctx, &zoo.Model{ID: "swift-crane", OwnerID: ann.ID}) })
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else {
			wantKind(t, err, zoo.Conflict)
		}
	}
	if wins != 1 {
		t.Errorf("%d of %d concurrent CreateModel calls with one id succeeded, want 1", wins, len(errs))
	}
}

func testListModels(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	bob := user(t, c, "bob", zoo.RoleContributor)
	models, err := c.ListModels(ctx, false)
	must(t, err)
	if models == nil || len(models) != 0 {
		t.Fatalf("ListModels on an empty catalog = %#v, want empty", models)
	}
	model(t, c, "c-draft", ann.ID, bob.ID)
	model(t, c, "a-published", ann.ID)
	model(t, c, "b-retired", bob.ID)
	model(t, c, "d-empty", bob.ID)
	version(t, c, "c-draft", ann.ID, zoo.StateDraft)
	version(t, c, "a-published", ann.ID, zoo.StateSubmitted)
	version(t, c, "a-published", ann.ID, zoo.StatePublished)
	version(t, c, "b-retired", bob.ID, zoo.StateRetired)
	must(t, c.CountDownload(ctx, "a-published", 2))
	must(t, c.CountDownload(ctx, "a-published", 2))

	ids := func(ms []*zoo.Model) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.ID)
		}
		return out
	}
	all, err := c.ListModels(ctx, false)
	must(t, err)
	if got := ids(all); !slices.Equal(got, []string{"a-published", "b-retired", "c-draft", "d-empty"}) {
		t.Errorf("ListModels(false) = %v (want all, by id)", got)
	}
	pub, err := c.ListModels(ctx, true)
	must(t, err)
	if got := ids(pub); !slices.Equal(got, []string{"a-published", "b-retired"}) {
		t.Errorf("ListModels(true) = %v (want models with a published or retired version)", got)
	}
	for _, m := range all {
		switch m.ID {
		case "a-published":
			if m.Downloads != 2 {
				t.Errorf("a-published Downloads = %d, want 2", m.Downloads)
			}
		case "c-draft":
			if !slices.Equal(m.Maintainers, []int64{bob.ID}) {
				t.Errorf("c-draft Maintainers = %v", m.Maintainers)
			}
		}
		if m.Maintainers == nil {
			t.Errorf("%s Maintainers is nil", m.ID)
		}
	}
}

// --- versions

func testVersionNumbers(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	model(t, c, "m1", ann.ID)
	model(t, c, "m2", ann.ID)
	for want := 1; want <= 3; want++ {
		v := version(t, c, "m1", ann.ID, zoo.StateDraft)
		if v.Number != want {
			t.Fatalf("version number %d, want %d", v.Number, want)
		}
	}
	if v := version(t, c, "m2", ann.ID, zoo.StateDraft); v.Number != 1 {
		t.Errorf("another model's first version is %d, want 1", v.Number)
	}
	if v := version(t, c, "m1", ann.ID, zoo.StateDraft); v.Number != 4 {
		t.Errorf("after another model's upload, m1's next version is %d, want 4", v.Number)
	}
}

func testVersionNumbersConcurrent(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	model(t, c, "busy", ann.ID)
	model(t, c, "other", ann.ID)
	const n = 24
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string][]int{}
	errs := make(chan error, n)
	for i := range n {
		id := "busy"
		if i%3 == 0 {
			id = "other"
		}
		wg.Go(func() {
			v := newVersion(id, ann.ID, fmt.Sprint(i))
			if err := c.CreateVersion(ctx, nil, v, uploadEntry(v)); err != nil {
				errs <- err
				return
			}
			mu.Lock()
			got[id] = append(got[id], v.Number)
			mu.Unlock()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for id, want := range map[string]int{"busy": n * 2 / 3, "other": n / 3} {
		nums := got[id]
		slices.Sort(nums)
		for i, num := range nums {
			if num != i+1 {
				t.Fatalf("%s got numbers %v, want 1..%d each once", id, nums, want)
			}
		}
		if len(nums) != want {
			t.Fatalf("%s got %d versions, want %d", id, len(nums), want)
		}
		listed, err := c.ListVersions(ctx, zoo.VersionFilter{ModelID: id})
		must(t, err)
		if len(listed) != want {
			t.Errorf("%s lists %d versions, want %d", id, len(listed), want)
		}
	}
}

func testVersionRoundTrip(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	model(t, c, "m", ann.ID)
	v := newVersion("m", ann.ID, "rt")
	v.ValidationReport = json.RawMessage(`{"status": "valid-format",  "errors": [], "z": 1, "a": 2}`)
	v.TestReport = json.RawMessage(`[1, 2,3]`)
	v.ReviewComment = "n/a"
	must(t, c.CreateVersion(ctx, nil, v, uploadEntry(v)))
	if v.Number != 1 || v.State != zoo.StateDraft || v.TestStatus != zoo.TestPending || v.CreatedAt.IsZero() || v.PublishedAt != nil {
		t.Fatalf("CreateVersion left %+v", v)
	}
	if v.Files[0].Path != "rdf.yaml" {
		t.Errorf("CreateVersion did not sort Files by path: %v", v.Files)
	}
	got, err := c.Version(ctx, "m", 1)
	must(t, err)
	sameVersion(t, got, v)

	// Empty reports and files come back empty (nil reports, no files).
	w := &zoo.Version{ModelID: "m", UploaderID: ann.ID}
	must(t, c.CreateVersion(ctx, nil, w, uploadEntry(w)))
	got, err = c.Version(ctx, "m", 2)
	must(t, err)
	if got.ValidationReport != nil || got.TestReport != nil || got.Files == nil || len(got.Files) != 0 {
		t.Errorf("empty version read back as reports %q %q, files %#v", got.ValidationReport, got.TestReport, got.Files)
	}
	sameVersion(t, got, w)

	// A version created published (an import) keeps its times.
	created := time.Date(2021, 3, 4, 5, 6, 7, 891011000, time.UTC)
	published := created.Add(48 * time.Hour)
	p := newVersion("m", ann.ID, "import")
	p.State, p.CreatedAt, p.PublishedAt = zoo.StatePublished, created, &published
	must(t, c.CreateVersion(ctx, nil, p, uploadEntry(p)))
	got, err = c.Version(ctx, "m", 3)
	must(t, err)
	if !got.CreatedAt.Equal(created) || got.PublishedAt == nil || !got.PublishedAt.Equal(published) {
		t.Errorf("imported version has times %v, %v; want %v, %v", got.CreatedAt, got.PublishedAt, created, published)
	}
	sameVersion(t, got, p)
}

func testCreateVersionChecks(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	model(t, c, "m", ann.ID)
	wantKind(t, c.CreateVersion(ctx, nil, newVersion("missing", ann.ID, "x"), zoo.AuditEntry{Action: "upload"}), zoo.NotFound)
	wantKind(t, c.CreateVersion(ctx, nil, newVersion("m", ann.ID+1000, "x"), zoo.AuditEntry{Action: "upload"}), zoo.NotFound)
	bad := newVersion("m", ann.ID, "x")
	bad.State = "approved"
	wantKind(t, c.CreateVersion(ctx, nil, bad, uploadEntry(bad)), zoo.Invalid)
	bad = newVersion("m", ann.ID, "x")
	bad.ValidationReport = json.RawMessage(`{"unclosed": `)
	wantKind(t, c.CreateVersion(ctx, nil, bad, uploadEntry(bad)), zoo.Invalid)
	bad = newVersion("m", ann.ID, "x")
	bad.Files = append(bad.Files, bad.Files[0])
	wantKind(t, c.CreateVersion(ctx, nil, bad, uploadEntry(bad)), zoo.Invalid)
	// None of the failures used up a number.
	if v := version(t, c, "m", ann.ID, zoo.StateDraft); v.Number != 1 {
		t.Errorf("first successful version is %d, want 1", v.Number)
	}
}

// The upload's audit entry is written with the version, numbered.
func testCreateVersionAudit(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	model(t, c, "m", ann.ID)
	version(t, c, "m", ann.ID, zoo.StateSubmitted)
	v := newVersion("m", ann.ID, "2")
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	must(t, c.CreateVersion(ctx, nil, v, zoo.AuditEntry{At: at, ActorID: ann.ID, Action: "upload", ModelID: "ignored", Version: 99, Detail: "draft"}))
	es, err := c.Audit(ctx, "m", 0)
	must(t, err)
	if len(es) != 2 || es[0].Action != "upload" || es[0].Version != 2 || es[0].ModelID != "m" || es[0].ActorID != ann.ID ||
		es[0].Detail != "draft" || !es[0].At.Equal(at) || es[1].Version != 1 {
		t.Fatalf("audit after two uploads = %+v, want the upload of m/2 then m/1", es)
	}
	// No action: refused, and nothing is stored.
	wantKind(t, c.CreateVersion(ctx, nil, newVersion("m", ann.ID, "3"), zoo.AuditEntry{ActorID: ann.ID}), zoo.Invalid)
	// A failing version (unknown uploader) writes no audit entry either.
	wantKind(t, c.CreateVersion(ctx, nil, newVersion("m", ann.ID+1000, "3"), zoo.AuditEntry{Action: "upload"}), zoo.NotFound)
	vs, err := c.ListVersions(ctx, zoo.VersionFilter{ModelID: "m"})
	must(t, err)
	es, err = c.Audit(ctx, "m", 0)
	must(t, err)
	if len(vs) != 2 || len(es) != 2 {
		t.Errorf("after refused uploads: %d versions, %d audit entries; want 2 and 2", len(vs), len(es))
	}
	// The next version takes number 3: refused ones burned none.
	w := version(t, c, "m", ann.ID, zoo.StateDraft)
	if w.Number != 3 {
		t.Errorf("next version = %d, want 3", w.Number)
	}
}

// A new model is created with its first version, in one transaction: if
// the version cannot be stored, neither the model nor its id exist; an id
// ever used is refused (Conflict) with nothing stored.
func testCreateVersionNewModel(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	bob := user(t, c, "bob", zoo.RoleContributor)
	m := &zoo.Model{ID: "brave-otter", OwnerID: ann.ID, Maintainers: []int64{ann.ID, bob.ID}}
	v := newVersion("", ann.ID, "1")
	must(t, c.CreateVersion(ctx, m, v, zoo.AuditEntry{ActorID: ann.ID, Action: "upload"}))
	if v.ModelID != "brave-otter" || v.Number != 1 || m.Type != "model" || m.CreatedAt.IsZero() {
		t.Fatalf("created %+v / %+v", m, v)
	}
	got, err := c.Model(ctx, "brave-otter")
	must(t, err)
	if got.OwnerID != ann.ID || !slices.Equal(got.Maintainers, []int64{ann.ID, bob.ID}) {
		t.Errorf("Model = %+v", got)
	}
	es, err := c.Audit(ctx, "brave-otter", 0)
	must(t, err)
	if len(es) != 1 || es[0].Action != "upload" || es[0].Version != 1 {
		t.Errorf("audit = %+v", es)
	}

	// Taken id: Conflict, no version added to the existing model.
	err = c.CreateVersion(ctx, &zoo.Model{ID: "brave-otter", OwnerID: bob.ID}, newVersion("brave-otter", bob.ID, "x"), zoo.AuditEntry{Action: "upload"})
	wantKind(t, err, zoo.Conflict)
	if vs, _ := c.ListVersions(ctx, zoo.VersionFilter{ModelID: "brave-otter"}); len(vs) != 1 {
		t.Errorf("a refused new model added a version: %d versions", len(vs))
	}

	// The version fails (unknown uploader): no model, and the id is free.
	err = c.CreateVersion(ctx, &zoo.Model{ID: "calm-heron", OwnerID: ann.ID}, newVersion("", ann.ID+1000, "y"), zoo.AuditEntry{Action: "upload"})
	wantKind(t, err, zoo.NotFound)
	wantKind(t, firstErr(c.Model(ctx, "calm-heron")), zoo.NotFound)
	// The model fails (unknown maintainer): no version.
	err = c.CreateVersion(ctx, &zoo.Model{ID: "calm-heron", OwnerID: ann.ID, Maintainers: []int64{ann.ID + 1000}}, newVersion("", ann.ID, "y"), zoo.AuditEntry{Action: "upload"})
	wantKind(t, err, zoo.NotFound)
	wantKind(t, firstErr(c.Model(ctx, "calm-heron")), zoo.NotFound)
	// Version and model disagree: Invalid.
	wantKind(t, c.CreateVersion(ctx, &zoo.Model{ID: "calm-heron", OwnerID: ann.ID}, newVersion("brave-otter", ann.ID, "z"), zoo.AuditEntry{Action: "upload"}), zoo.Invalid)
	if all, _ := c.ListVersions(ctx, zoo.VersionFilter{}); len(all) != 1 {
		t.Errorf("refused creations stored versions: %d in all", len(all))
	}
	if ms, _ := c.ListModels(ctx, false); len(ms) != 1 {
		t.Errorf("refused creations stored models: %d", len(ms))
	}
	w := &zoo.Version{UploaderID: ann.ID}
	must(t, c.CreateVersion(ctx, &zoo.Model{ID: "calm-heron", OwnerID: ann.ID}, w, zoo.AuditEntry{Action: "upload"}))
	if w.Number != 1 {
		t.Errorf("first version of calm-heron = %d, want 1", w.Number)
	}

	// Concurrent creations of one id: exactly one wins.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			errs[i] = c.CreateVersion(ctx, &zoo.Model{ID: "swift-ibis", OwnerID: ann.ID}, newVersion("", ann.ID, fmt.Sprint(i)), zoo.AuditEntry{Action: "upload"})
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else {
			wantKind(t, err, zoo.Conflict)
		}
	}
	if vs, _ := c.ListVersions(ctx, zoo.VersionFilter{ModelID: "swift-ibis"}); wins != 1 || len(vs) != 1 {
		t.Errorf("%d concurrent creations of one model won, %d versions; want 1 and 1", wins, len(vs))
	}
}

func firstErr[T any](_ T, err error) error { return err }

func testVersionNotFound(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	model(t, c, "m", ann.ID)
	version(t, c, "m", ann.ID, zoo.StateDraft)
	for _, tc := range []struct {
		id string
		n  int
	}{{"m", 2}, {"m", 0}, {"nope", 1}} {
		_, err := c.Version(ctx, tc.id, tc.n)
		wantKind(t, err, zoo.NotFound)
		wantKind(t, c.Transition(ctx, tc.id, tc.n, []zoo.State{zoo.StateDraft}, zoo.StateSubmitted, zoo.AuditEntry{ActorID: ann.ID}), zoo.NotFound)
		wantKind(t, c.SetTestResult(ctx, tc.id, tc.n, zoo.TestPassed, nil), zoo.NotFound)
		wantKind(t, c.CountDownload(ctx, tc.id, tc.n), zoo.NotFound)
	}
	_, err := c.LatestPublished(ctx, "nope")
	wantKind(t, err, zoo.NotFound)
	_, err = c.LatestPublished(ctx, "m") // only a draft
	wantKind(t, err, zoo.NotFound)
	// A model's missing version and a missing model read differently.
	_, e1 := c.Version(ctx, "m", 2)
	_, e2 := c.Version(ctx, "nope", 1)
	if zoo.MessageOf(e1) == zoo.MessageOf(e2) {
		t.Errorf("same message for a missing version and a missing model: %q", zoo.MessageOf(e1))
	}
}

func testLatestPublished(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	model(t, c, "m", ann.ID)
	latest := func() int {
		t.Helper()
		v, err := c.LatestPublished(ctx, "m")
		if zoo.KindOf(err) == zoo.NotFound {
			return 0
		}
		must(t, err)
		return v.Number
	}
	version(t, c, "m", ann.ID, zoo.StateSubmitted) // 1
	if n := latest(); n != 0 {
		t.Fatalf("latest with nothing published = %d", n)
	}
	must(t, c.Transition(ctx, "m", 1, []zoo.State{zoo.StateSubmitted}, zoo.StatePublished, zoo.AuditEntry{ActorID: ann.ID}))
	version(t, c, "m", ann.ID, zoo.StatePublished) // 2
	version(t, c, "m", ann.ID, zoo.StateSubmitted) // 3
	version(t, c, "m", ann.ID, zoo.StateRejected)  // 4
	if n := latest(); n != 2 {
		t.Errorf("latest = %d, want 2 (the highest published; 3 is submitted, 4 rejected)", n)
	}
	retire := func(n int) {
		must(t, c.Transition(ctx, "m", n, []zoo.State{zoo.StatePublished}, zoo.StateRetired, zoo.AuditEntry{ActorID: ann.ID, Detail: "bug"}))
	}
	retire(2)
	if n := latest(); n != 1 {
		t.Errorf("latest after retiring 2 = %d, want 1 (a published version beats a higher retired one)", n)
	}
	retire(1)
	if n := latest(); n != 2 {
		t.Errorf("latest with everything retired = %d, want 2 (the highest retired)", n)
	}
	v, err := c.LatestPublished(ctx, "m")
	must(t, err)
	if v.State != zoo.StateRetired || v.RetiredReason != "bug" || len(v.Files) != 2 {
		t.Errorf("latest = %+v", v)
	}
	version(t, c, "m", ann.ID, zoo.StatePublished) // 5
	if n := latest(); n != 5 {
		t.Errorf("latest = %d, want 5", n)
	}
}

func testListVersions(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	bob := user(t, c, "bob", zoo.RoleContributor)
	model(t, c, "a", ann.ID, bob.ID)
	model(t, c, "b", ann.ID)
	version(t, c, "a", ann.ID, zoo.StateDraft)     // a/1
	version(t, c, "b", ann.ID, zoo.StateSubmitted) // b/1
	version(t, c, "a", bob.ID, zoo.StatePublished) // a/2
	version(t, c, "a", ann.ID, zoo.StateSubmitted) // a/3
	version(t, c, "b", ann.ID, zoo.StatePublished) // b/2
	names := func(f zoo.VersionFilter) []string {
		t.Helper()
		vs, err := c.ListVersions(ctx, f)
		must(t, err)
		if vs == nil {
			t.Fatal("ListVersions returned nil, want an empty list")
		}
		out := []string{}
		for _, v := range vs {
			out = append(out, fmt.Sprintf("%s/%d", v.ModelID, v.Number))
			if len(v.Files) != 2 {
				t.Errorf("%s/%d listed with %d files", v.ModelID, v.Number, len(v.Files))
			}
		}
		return out
	}
	for _, tc := range []struct {
		f    zoo.VersionFilter
		want []string
	}{
		{zoo.VersionFilter{}, []string{"b/2", "a/3", "a/2", "b/1", "a/1"}},
		{zoo.VersionFilter{ModelID: "a"}, []string{"a/3", "a/2", "a/1"}},
		{zoo.VersionFilter{States: []zoo.State{zoo.StateSubmitted}}, []string{"a/3", "b/1"}},
		{zoo.VersionFilter{States: []zoo.State{zoo.StatePublished, zoo.StateDraft}}, []string{"b/2", "a/2", "a/1"}},
		{zoo.VersionFilter{ModelID: "b", States: []zoo.State{zoo.StatePublished}}, []string{"b/2"}},
		{zoo.VersionFilter{Limit: 2}, []string{"b/2", "a/3"}},
		{zoo.VersionFilter{ModelID: "a", Limit: 1}, []string{"a/3"}},
		{zoo.VersionFilter{ModelID: "none"}, []string{}},
		{zoo.VersionFilter{States: []zoo.State{zoo.StateRetired}}, []string{}},
		{zoo.VersionFilter{UploaderID: bob.ID}, []string{"a/2"}},
		{zoo.VersionFilter{UploaderID: ann.ID, ModelID: "a"}, []string{"a/3", "a/1"}},
		{zoo.VersionFilter{UploaderID: ann.ID, States: []zoo.State{zoo.StatePublished}, Limit: 5}, []string{"b/2"}},
		{zoo.VersionFilter{UploaderID: ann.ID + bob.ID + 100}, []string{}},
	} {
		if got := names(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("ListVersions(%+v) = %v, want %v (newest first)", tc.f, got, tc.want)
		}
	}
}

// --- transitions and audit

func testTransitions(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	rev := user(t, c, "rev", zoo.RoleReviewer)
	adm := user(t, c, "adm", zoo.RoleAdmin)
	model(t, c, "m", ann.ID)
	version(t, c, "m", ann.ID, zoo.StateDraft)
	steps := []struct {
		from   zoo.State
		to     zoo.State
		actor  int64
		action string
		detail string
	}{
		{zoo.StateDraft, zoo.StateSubmitted, ann.ID, "submit", ""},
		{zoo.StateSubmitted, zoo.StateChangesRequested, rev.ID, "request-changes", "add a test image"},
		{zoo.StateChangesRequested, zoo.StateSubmitted, ann.ID, "submit", "added"},
		{zoo.StateSubmitted, zoo.StatePublished, rev.ID, "accept", "looks good"},
		{zoo.StatePublished, zoo.StateRetired, adm.ID, "retire", "wrong normalisation"},
	}
	var publishedAt *time.Time
	for i, s := range steps {
		before := time.Now().Add(-time.Second)
		must(t, c.Transition(ctx, "m", 1, []zoo.State{s.from, zoo.StateDraft}, s.to,
			zoo.AuditEntry{ActorID: s.actor, Action: s.action, Detail: s.detail}))
		v, err := c.Version(ctx, "m", 1)
		must(t, err)
		if v.State != s.to {
			t.Fatalf("step %d: state %s, want %s", i, v.State, s.to)
		}
		switch s.to {
		case zoo.StateChangesRequested:
			if v.ReviewComment != "add a test image" {
				t.Errorf("ReviewComment = %q", v.ReviewComment)
			}
		case zoo.StatePublished:
			if v.PublishedAt == nil || v.PublishedAt.Before(before) {
				t.Errorf("PublishedAt = %v after publishing", v.PublishedAt)
			}
			publishedAt = v.PublishedAt
		case zoo.StateRetired:
			if v.RetiredReason != "wrong normalisation" {
				t.Errorf("RetiredReason = %q", v.RetiredReason)
			}
			if v.PublishedAt == nil || !v.PublishedAt.Equal(*publishedAt) {
				t.Errorf("retiring changed PublishedAt to %v", v.PublishedAt)
			}
		}
	}
	// One audit entry per transition, newest first, in the same order,
	// after the upload's.
	entries, err := c.Audit(ctx, "m", 0)
	must(t, err)
	if len(entries) > 0 && entries[len(entries)-1].Action == "upload" {
		entries = entries[:len(entries)-1]
	}
	if len(entries) != len(steps) {
		t.Fatalf("%d audit entries for %d transitions: %+v", len(entries), len(steps), entries)
	}
	for i, s := range steps {
		e := entries[len(entries)-1-i]
		if e.ActorID != s.actor || e.Action != s.action || e.Detail != s.detail || e.ModelID != "m" || e.Version != 1 || e.ID == 0 || e.At.IsZero() {
			t.Errorf("audit entry %d = %+v, want %+v", i, e, s)
		}
	}

	// An empty action defaults to the target state.
	version(t, c, "m", ann.ID, zoo.StateDraft)
	must(t, c.Transition(ctx, "m", 2, []zoo.State{zoo.StateDraft}, zoo.StateSubmitted, zoo.AuditEntry{ActorID: ann.ID}))
	entries, err = c.Audit(ctx, "m", 1)
	must(t, err)
	if len(entries) != 1 || entries[0].Action != string(zoo.StateSubmitted) || entries[0].Version != 2 {
		t.Errorf("latest audit entry = %+v", entries)
	}
	wantKind(t, c.Transition(ctx, "m", 2, []zoo.State{zoo.StateSubmitted}, "approved", zoo.AuditEntry{}), zoo.Invalid)
	wantKind(t, c.Transition(ctx, "m", 2, nil, zoo.StatePublished, zoo.AuditEntry{}), zoo.Invalid)
}

func testTransitionWrongState(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	model(t, c, "m", ann.ID)
	version(t, c, "m", ann.ID, zoo.StateDraft)
	err := c.Transition(ctx, "m", 1, []zoo.State{zoo.StateSubmitted, zoo.StateChangesRequested}, zoo.StatePublished,
		zoo.AuditEntry{ActorID: ann.ID, Action: "accept"})
	wantKind(t, err, zoo.Conflict)
	v, err := c.Version(ctx, "m", 1)
	must(t, err)
	if v.State != zoo.StateDraft || v.PublishedAt != nil {
		t.Errorf("a refused transition changed the version: %s %v", v.State, v.PublishedAt)
	}
	entries, err := c.Audit(ctx, "m", 0)
	must(t, err)
	if len(entries) != 1 || entries[0].Action != "upload" {
		t.Errorf("a refused transition left audit entries: %+v (want only the upload's)", entries)
	}
}

func testTransitionConcurrent(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	model(t, c, "m", ann.ID)
	version(t, c, "m", ann.ID, zoo.StateSubmitted)
	// Reviewers race: accept and reject the same submitted version.
	var wg sync.WaitGroup
	errs := make([]error, 10)
	for i := range errs {
		to := zoo.StatePublished
		if i%2 == 1 {
			to = zoo.StateRejected
		}
		wg.Go(func() {
			errs[i] = c.Transition(ctx, "m", 1, []zoo.State{zoo.StateSubmitted}, to, zoo.AuditEntry{ActorID: ann.ID})
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		if err == nil {
			wins++
		} else {
			wantKind(t, err, zoo.Conflict)
		}
	}
	entries, err := c.Audit(ctx, "m", 0)
	must(t, err)
	if wins != 1 || len(entries) != 2 {
		t.Errorf("%d transitions from submitted succeeded, %d audit entries; want 1 and 2 (upload, transition)", wins, len(entries))
	}
}

func testAudit(t *testing.T, c zoo.Catalog) {
	adm := user(t, c, "adm", zoo.RoleAdmin)
	model(t, c, "m", adm.ID)
	at := time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC)
	must(t, c.AddAudit(ctx, zoo.AuditEntry{ActorID: adm.ID, Action: "token.create", Detail: "token 1", At: at}))
	must(t, c.AddAudit(ctx, zoo.AuditEntry{ActorID: adm.ID, Action: "maintainer.add", ModelID: "m"}))
	must(t, c.AddAudit(ctx, zoo.AuditEntry{ActorID: 0, Action: "test", ModelID: "m", Version: 1, Detail: "passed"}))
	wantKind(t, c.AddAudit(ctx, zoo.AuditEntry{ActorID: adm.ID}), zoo.Invalid)

	all, err := c.Audit(ctx, "", 0)
	must(t, err)
	if len(all) != 3 || all[0].Action != "test" || all[2].Action != "token.create" {
		t.Fatalf("Audit(all) = %+v, want 3 entries newest first", all)
	}
	if !all[2].At.Equal(at) || all[2].Detail != "token 1" || all[2].ModelID != "" || all[0].At.IsZero() {
		t.Errorf("Audit entry = %+v", all[2])
	}
	if all[0].ID <= all[1].ID || all[1].ID <= all[2].ID {
		t.Errorf("audit ids not increasing: %d %d %d", all[2].ID, all[1].ID, all[0].ID)
	}
	m, err := c.Audit(ctx, "m", 0)
	must(t, err)
	if len(m) != 2 || m[0].Version != 1 || m[1].Action != "maintainer.add" {
		t.Errorf("Audit(m) = %+v", m)
	}
	one, err := c.Audit(ctx, "", 1)
	must(t, err)
	if len(one) != 1 || one[0].Action != "test" {
		t.Errorf("Audit(limit 1) = %+v", one)
	}
	none, err := c.Audit(ctx, "other", 0)
	must(t, err)
	if none == nil || len(none) != 0 {
		t.Errorf("Audit(other) = %#v, want empty", none)
	}
}

// --- test results, downloads, blobs

func testSetTestResult(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	model(t, c, "m", ann.ID)
	version(t, c, "m", ann.ID, zoo.StateSubmitted)
	report := json.RawMessage(`{"status":"passed","outputs":[{"max_abs_diff":0.0001}]}`)
	must(t, c.SetTestResult(ctx, "m", 1, zoo.TestPassed, report))
	v, err := c.Version(ctx, "m", 1)
	must(t, err)
	if v.TestStatus != zoo.TestPassed || string(v.TestReport) != string(report) {
		t.Errorf("after SetTestResult: %s %s", v.TestStatus, v.TestReport)
	}
	must(t, c.SetTestResult(ctx, "m", 1, zoo.TestNotSupported, nil))
	v, err = c.Version(ctx, "m", 1)
	must(t, err)
	if v.TestStatus != zoo.TestNotSupported || v.TestReport != nil {
		t.Errorf("after SetTestResult(not-supported, nil): %s %s", v.TestStatus, v.TestReport)
	}
	wantKind(t, c.SetTestResult(ctx, "m", 1, "green", nil), zoo.Invalid)
	wantKind(t, c.SetTestResult(ctx, "m", 1, zoo.TestFailed, json.RawMessage(`{`)), zoo.Invalid)
}

// testCountDownloadOnce: one count per client, version and day, also
// under concurrency; earlier days are forgotten; unknown versions are
// NotFound. Backends that count per client implement CountDownloadOnce.
func testCountDownloadOnce(t *testing.T, c zoo.Catalog) {
	oc, ok := c.(interface {
		CountDownloadOnce(ctx context.Context, id string, n int, client string, day int64) (bool, error)
	})
	if !ok {
		t.Skip("this catalog does not count per client")
	}
	ann := user(t, c, "ann", zoo.RoleContributor)
	model(t, c, "m", ann.ID)
	version(t, c, "m", ann.ID, zoo.StatePublished)
	version(t, c, "m", ann.ID, zoo.StatePublished)
	var wg sync.WaitGroup
	var mu sync.Mutex
	counted := 0
	for i := range 20 {
		wg.Go(func() {
			ok, err := oc.CountDownloadOnce(ctx, "m", 1, fmt.Sprintf("client-%d", i%4), 100)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				counted++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if ok, err := oc.CountDownloadOnce(ctx, "m", 2, "client-0", 100); err != nil || !ok {
		t.Errorf("another version by the same client: %v, %v; want counted", ok, err)
	}
	if ok, err := oc.CountDownloadOnce(ctx, "m", 1, "client-0", 101); err != nil || !ok {
		t.Errorf("the next day: %v, %v; want counted", ok, err)
	}
	for n, want := range map[int]int64{1: 5, 2: 1} {
		v, err := c.Version(ctx, "m", n)
		must(t, err)
		if v.Downloads != want {
			t.Errorf("version %d Downloads = %d, want %d", n, v.Downloads, want)
		}
	}
	if counted != 4 {
		t.Errorf("20 downloads by 4 clients reported %d counted, want 4", counted)
	}
	if _, err := oc.CountDownloadOnce(ctx, "m", 9, "client-0", 101); zoo.KindOf(err) != zoo.NotFound {
		t.Errorf("unknown version: %v, want NotFound", err)
	}
	if _, err := oc.CountDownloadOnce(ctx, "nope", 1, "client-0", 101); zoo.KindOf(err) != zoo.NotFound {
		t.Errorf("unknown model: %v, want NotFound", err)
	}
}

func testCountDownload(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	model(t, c, "m", ann.ID)
	version(t, c, "m", ann.ID, zoo.StatePublished)
	version(t, c, "m", ann.ID, zoo.StatePublished)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if err := c.CountDownload(ctx, "m", 1+i%2); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	must(t, c.CountDownload(ctx, "m", 2))
	for n, want := range map[int]int64{1: 10, 2: 11} {
		v, err := c.Version(ctx, "m", n)
		must(t, err)
		if v.Downloads != want {
			t.Errorf("version %d Downloads = %d, want %d", n, v.Downloads, want)
		}
	}
	v, err := c.LatestPublished(ctx, "m")
	must(t, err)
	if v.Downloads != 11 {
		t.Errorf("LatestPublished Downloads = %d, want 11", v.Downloads)
	}
	m, err := c.Model(ctx, "m")
	must(t, err)
	if m.Downloads != 21 {
		t.Errorf("model Downloads = %d, want 21", m.Downloads)
	}
}

func testReferencedBlobs(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	model(t, c, "a", ann.ID)
	model(t, c, "b", ann.ID)
	want := map[string]bool{}
	add := func(v *zoo.Version) {
		must(t, c.CreateVersion(ctx, nil, v, uploadEntry(v)))
		want[v.PackageSHA256] = true
		for _, f := range v.Files {
			want[f.SHA256] = true
		}
	}
	add(newVersion("a", ann.ID, "1"))
	add(newVersion("b", ann.ID, "1"))
	shared := newVersion("a", ann.ID, "2") // shares its weights with b/1
	shared.Files[0] = newVersion("b", ann.ID, "1").Files[0]
	shared.State = zoo.StateRejected
	add(shared)
	got := map[string]int{}
	must(t, c.ReferencedBlobs(ctx, func(sha string) error {
		got[sha]++
		return nil
	}))
	if len(got) != len(want) {
		t.Errorf("ReferencedBlobs gave %d keys, want %d", len(got), len(want))
	}
	for k := range want {
		if got[k] != 1 {
			t.Errorf("blob %s reported %d times, want once", k, got[k])
		}
	}
	stop := errors.New("stop")
	calls := 0
	err := c.ReferencedBlobs(ctx, func(string) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("ReferencedBlobs after fn's error: %v after %d calls, want fn's error after 1", err, calls)
	}
}

// conversion is a finished conversion of version tag of model id, with
// one converted file, a description and a package.
func conversion(id, tag string) *zoo.Conversion {
	at := time.Date(2026, 12, 7, 13, 0, 0, 123456000, time.UTC)
	return &zoo.Conversion{
		Status:      zoo.ConversionConverted,
		Message:     "converted to torchscript; it reproduces the test outputs",
		Formats:     []zoo.ConvertedFormat{{Format: "torchscript", Path: "weights_torchscript.pt", Method: "script"}},
		Description: &zoo.File{Path: "rdf.yaml", SHA256: hash(id + tag + "converted-rdf"), Size: 20},
		Files:       []zoo.File{{Path: "weights_torchscript.pt", SHA256: hash(id + tag + "converted-ts"), Size: 2000}},
		Package:     &zoo.File{Path: "converted.zip", SHA256: hash(id + tag + "converted-zip"), Size: 3000},
		ZooVersion:  "dev", TorchVersion: "1.13.1",
		Report: json.RawMessage(`{"status":"converted","formats":{"torchscript":{"status":"added","method":"script"}}}`),
		At:     &at,
	}
}

func testConversion(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	model(t, c, "m", ann.ID)
	// A version waiting for a converter is created so.
	v := newVersion("m", ann.ID, "1")
	v.State, v.TestStatus = zoo.StateSubmitted, zoo.TestPending
	v.Converted = &zoo.Conversion{Status: zoo.ConversionWaiting}
	must(t, c.CreateVersion(ctx, nil, v, uploadEntry(v)))
	got, err := c.Version(ctx, "m", 1)
	must(t, err)
	sameVersion(t, got, v)
	// The conversion is recorded whatever the version's state; the
	// uploaded files stay as they were.
	must(t, c.Transition(ctx, "m", 1, []zoo.State{zoo.StateSubmitted}, zoo.StatePublished, zoo.AuditEntry{ActorID: ann.ID, Action: "accept"}))
	conv := conversion("m", "1")
	must(t, c.SetConversion(ctx, "m", 1, conv))
	got, err = c.Version(ctx, "m", 1)
	must(t, err)
	if !reflect.DeepEqual(got.Files, v.Files) {
		t.Errorf("SetConversion changed the uploaded files: %v, want %v", got.Files, v.Files)
	}
	want := *v
	want.Converted, want.State, want.PublishedAt = conv, zoo.StatePublished, got.PublishedAt
	sameVersion(t, got, &want)
	list, err := c.ListVersions(ctx, zoo.VersionFilter{ModelID: "m"})
	must(t, err)
	if len(list) != 1 {
		t.Fatalf("ListVersions: %d versions", len(list))
	}
	sameVersion(t, list[0], &want)
	latest, err := c.LatestPublished(ctx, "m")
	must(t, err)
	sameVersion(t, latest, &want)
	// Cleared with nil.
	must(t, c.SetConversion(ctx, "m", 1, nil))
	got, err = c.Version(ctx, "m", 1)
	must(t, err)
	if got.Converted != nil {
		t.Errorf("after SetConversion(nil): %+v", got.Converted)
	}
	// Checks.
	wantKind(t, c.SetConversion(ctx, "m", 2, conv), zoo.NotFound)
	wantKind(t, c.SetConversion(ctx, "nobody", 1, conv), zoo.NotFound)
	bad := *conv
	bad.Status = "done"
	wantKind(t, c.SetConversion(ctx, "m", 1, &bad), zoo.Invalid)
	bad = *conv
	bad.Report = json.RawMessage(`{`)
	wantKind(t, c.SetConversion(ctx, "m", 1, &bad), zoo.Invalid)
	bad = *conv
	bad.Files = []zoo.File{{Path: "w.onnx", SHA256: "../../etc/passwd"}}
	wantKind(t, c.SetConversion(ctx, "m", 1, &bad), zoo.Invalid)
	v2 := newVersion("m", ann.ID, "2")
	v2.Converted = &bad
	wantKind(t, c.CreateVersion(ctx, nil, v2, uploadEntry(v2)), zoo.Invalid)
}

func testConversionBlobs(t *testing.T, c zoo.Catalog) {
	ann := user(t, c, "ann", zoo.RoleContributor)
	model(t, c, "a", ann.ID)
	want := map[string]bool{}
	for _, tag := range []string{"1", "2"} {
		v := newVersion("a", ann.ID, tag)
		must(t, c.CreateVersion(ctx, nil, v, uploadEntry(v)))
		want[v.PackageSHA256] = true
		for _, f := range v.Files {
			want[f.SHA256] = true
		}
		conv := conversion("a", tag)
		if tag == "2" { // shares its converted weights with a/1
			conv.Files = conversion("a", "1").Files
		}
		must(t, c.SetConversion(ctx, "a", v.Number, conv))
		for _, k := range conv.Blobs() {
			want[k] = true
		}
	}
	got := map[string]int{}
	var order []string
	must(t, c.ReferencedBlobs(ctx, func(sha string) error {
		got[sha]++
		order = append(order, sha)
		return nil
	}))
	if len(got) != len(want) {
		t.Errorf("ReferencedBlobs gave %d keys, want %d (the conversions' blobs too)", len(got), len(want))
	}
	for k := range want {
		if got[k] != 1 {
			t.Errorf("blob %s reported %d times, want once", k, got[k])
		}
	}
	if !slices.IsSorted(order) {
		t.Errorf("ReferencedBlobs not in order")
	}
}
