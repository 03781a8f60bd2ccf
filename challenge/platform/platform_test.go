package platform

import (
	"archive/zip"
	"bytes"
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/blob/disk"
	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/postgres"
	"github.com/zoo-bioimage/zoo/postgres/pgtest"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/score"
	"github.com/zoo-bioimage/zoo/sqlite"
	"github.com/zoo-bioimage/zoo/tensor"
	"github.com/zoo-bioimage/zoo/tensor/npy"
)

var ctx = context.Background()

// env is a service on a fresh SQLite catalog with a clock the test sets.
type env struct {
	svc            *Service
	repo           *repo.Service
	now            time.Time
	org, alice, bo *zoo.User
	contributor    *zoo.User // a contributor who organises nothing
	truth, input   map[string]*tensor.Tensor
	files          []NewFile
}

var t0 = time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)

// catalog is what the tests need of a backend.
type catalog interface {
	zoo.Catalog
	Challenges() challenge.Store
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "zoo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return newEnvOn(t, db)
}

// TestOnPostgres runs the service tests on PostgreSQL too.
func TestOnPostgres(t *testing.T) {
	on := func(t *testing.T) *env {
		db, err := postgres.Open(ctx, pgtest.DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return newEnvOn(t, db)
	}
	t.Run("CreateRefusals", func(t *testing.T) { testCreateRefusals(t, on(t)) })
	t.Run("SubmitPhasesAndLimits", func(t *testing.T) { testSubmitPhasesAndLimits(t, on(t)) })
	t.Run("ScoringAndRanking", func(t *testing.T) { testScoringAndRanking(t, on(t)) })
	t.Run("HiddenLeaderboard", func(t *testing.T) { testHiddenLeaderboard(t, on(t)) })
	t.Run("UpdateRules", func(t *testing.T) { testUpdateRules(t, on(t)) })
	t.Run("OrganiserRightsPerChallenge", func(t *testing.T) { testOrganiserRightsPerChallenge(t, on(t)) })
}

func newEnvOn(t *testing.T, db catalog) *env {
	t.Helper()
	dir := t.TempDir()
	blobs, err := disk.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{now: t0, repo: repo.New(db, blobs, nil, repo.Config{TempDir: dir})}
	e.svc = &Service{Store: db.Challenges(), Repo: e.repo, Now: func() time.Time { return e.now }, TempDir: dir}
	mk := func(name string, role zoo.Role) *zoo.User {
		u, err := db.CreateUser(ctx, name, role)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	e.org, e.alice, e.bo, e.contributor = mk("olga", zoo.RoleReviewer), mk("alice", zoo.RoleContributor), mk("bo", zoo.RoleContributor), mk("carl", zoo.RoleContributor)
	e.truth, e.input = map[string]*tensor.Tensor{}, map[string]*tensor.Tensor{}
	for i, name := range []string{"img01.npy", "img02.npy"} {
		e.truth[name] = pattern(t, 8, 8, float32(100+i))
		e.input[name] = pattern(t, 8, 8, float32(7000+i))
		e.files = append(e.files, NewFile{Kind: challenge.Input, Name: name, Data: enc(t, e.input[name])},
			NewFile{Kind: challenge.Truth, Name: name, Data: enc(t, e.truth[name])})
	}
	e.files = append(e.files, NewFile{Kind: challenge.Public, Name: "train.npy", Data: enc(t, pattern(t, 8, 8, 1))})
	return e
}

// pattern is a float32 image with distinctive values (so its bytes can be
// searched for in responses).
func pattern(t testing.TB, h, w int, base float32) *tensor.Tensor {
	x, err := tensor.New(tensor.Float32, []int{h, w})
	if err != nil {
		t.Fatal(err)
	}
	for i := range x.Float32s() {
		x.Float32s()[i] = base + float32(i)*0.37 + float32(i%5)*1.9
	}
	return x
}

func enc(t testing.TB, x *tensor.Tensor) []byte {
	var b bytes.Buffer
	if err := npy.Write(&b, x); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func (e *env) challenge(slug, board string) *challenge.Challenge {
	return &challenge.Challenge{
		Slug: slug, Title: "Demo", Description: "# Demo\n\nSome *text* and <script>alert(1)</script>.", Leaderboard: board,
		Ranking: challenge.RankMeanRank, Metrics: []challenge.Metric{{Name: score.MetricPSNR}, {Name: score.MetricMAE}},
		Phases: []challenge.Phase{
			{Name: "dev", OpensAt: t0.Add(-time.Hour), ClosesAt: t0.Add(48 * time.Hour), PerDay: 2, Total: 3},
			{Name: "final", OpensAt: t0.Add(72 * time.Hour), ClosesAt: t0.Add(96 * time.Hour), PerDay: 1, Total: 1},
		},
	}
}

func (e *env) create(t *testing.T, slug, board string) *challenge.Challenge {
	t.Helper()
	c := e.challenge(slug, board)
	if err := e.svc.Create(ctx, e.org, c, e.files); err != nil {
		t.Fatal(err)
	}
	return c
}

// predictions zips f(truth) for every input.
func (e *env) predictions(t testing.TB, f func(name string, x *tensor.Tensor) *tensor.Tensor) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, name := range []string{"img01.npy", "img02.npy"} {
		w, _ := zw.Create(name)
		w.Write(enc(t, f(name, e.truth[name].Clone())))
	}
	zw.Close()
	return b.Bytes()
}

func offset(d float32) func(string, *tensor.Tensor) *tensor.Tensor {
	return func(_ string, x *tensor.Tensor) *tensor.Tensor {
		for i := range x.Float32s() {
			x.Float32s()[i] += d * float32(1+i%3)
		}
		return x
	}
}

func want(t *testing.T, err error, kind zoo.Kind, says ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want %v saying %q", kind, says)
	}
	if zoo.KindOf(err) != kind {
		t.Errorf("kind %v, want %v: %v", zoo.KindOf(err), kind, err)
	}
	for _, s := range says {
		if !strings.Contains(zoo.MessageOf(err), s) {
			t.Errorf("message %q does not say %q", zoo.MessageOf(err), s)
		}
	}
}

func TestCreateRefusals(t *testing.T) { testCreateRefusals(t, newEnv(t)) }

func testCreateRefusals(t *testing.T, e *env) {
	err := e.svc.Create(ctx, e.alice, e.challenge("demo", "public"), e.files)
	want(t, err, zoo.Forbidden, "reviewers and admins")
	err = e.svc.Create(ctx, nil, e.challenge("demo", "public"), e.files)
	want(t, err, zoo.Unauthorized)
	for _, tc := range []struct {
		edit func(c *challenge.Challenge)
		says string
	}{
		{func(c *challenge.Challenge) { c.Slug = "Bad Slug" }, "slug"},
		{func(c *challenge.Challenge) { c.Metrics = []challenge.Metric{{Name: "accuracy"}} }, "metrics.0"},
		{func(c *challenge.Challenge) { c.Metrics = []challenge.Metric{{Name: score.MetricPSNR, Threshold: 0.5}} }, "metrics.0 (psnr)"},
		{func(c *challenge.Challenge) { c.Metrics = nil }, "at least one metric"},
		{func(c *challenge.Challenge) { c.Phases[0].ClosesAt = c.Phases[0].OpensAt }, "closes_at must come after opens_at"},
		{func(c *challenge.Challenge) { c.Phases[1].Total = 0 }, "per_day and total"},
		{func(c *challenge.Challenge) { c.Phases[1].Name = "dev" }, `two phases are named "dev"`},
		{func(c *challenge.Challenge) { c.Ranking = "best" }, "ranking"},
		{func(c *challenge.Challenge) { c.Organisers = []string{"nobody"} }, `organiser "nobody"`},
	} {
		c := e.challenge("demo", "public")
		tc.edit(c)
		want(t, e.svc.Create(ctx, e.org, c, e.files), zoo.Invalid, tc.says)
	}
	// An input without its truth, and a truth without its input.
	files := append([]NewFile(nil), e.files...)
	files = append(files, NewFile{Kind: challenge.Input, Name: "img03.npy", Data: files[0].Data})
	want(t, e.svc.Create(ctx, e.org, e.challenge("demo", "public"), files), zoo.Invalid, `test input "img03.npy" has no ground truth`)
	files = append(append([]NewFile(nil), e.files...), NewFile{Kind: challenge.Truth, Name: "img09.npy", Data: e.files[1].Data})
	want(t, e.svc.Create(ctx, e.org, e.challenge("demo", "public"), files), zoo.Invalid, `ground truth "img09.npy" has no test input`)
	files = append(append([]NewFile(nil), e.files...), NewFile{Kind: challenge.Public, Name: "../x", Data: []byte("x")})
	want(t, e.svc.Create(ctx, e.org, e.challenge("demo", "public"), files), zoo.Invalid, "plain file name")

	e.create(t, "demo", "public")
	want(t, e.svc.Create(ctx, e.org, e.challenge("demo", "public"), e.files), zoo.Conflict, "demo exists")
}

func TestSubmitPhasesAndLimits(t *testing.T) { testSubmitPhasesAndLimits(t, newEnv(t)) }

func testSubmitPhasesAndLimits(t *testing.T, e *env) {
	e.create(t, "demo", "public")
	good := e.predictions(t, offset(0.5))
	_, err := e.svc.Submit(ctx, e.alice, "demo", "final", good, "")
	want(t, err, zoo.Conflict, "phase final opens at 2026-05-07T10:00:00Z")
	_, err = e.svc.Submit(ctx, e.alice, "demo", "nope", good, "")
	want(t, err, zoo.NotFound, `no phase "nope"`)
	_, err = e.svc.Submit(ctx, nil, "demo", "dev", good, "")
	want(t, err, zoo.Unauthorized)

	// An invalid submission is refused, says which file, and does not count.
	bad := e.predictions(t, func(name string, x *tensor.Tensor) *tensor.Tensor {
		if name == "img02.npy" {
			x.Float32s()[5] = float32(math.NaN())
		}
		return x
	})
	for range 3 {
		_, err = e.svc.Submit(ctx, e.alice, "demo", "dev", bad, "")
		want(t, err, zoo.Invalid, `prediction "img02.npy"`, "NaN")
	}
	// 2 per day.
	for i := range 2 {
		s, err := e.svc.Submit(ctx, e.alice, "demo", "dev", good, "")
		if err != nil {
			t.Fatalf("submission %d: %v", i+1, err)
		}
		if s.Status != challenge.StatusScored {
			t.Errorf("status %s (%s)", s.Status, s.Message)
		}
	}
	_, err = e.svc.Submit(ctx, e.alice, "demo", "dev", good, "")
	want(t, err, zoo.Conflict, "2 of the 2 submissions allowed per day", "2026-05-05T00:00:00Z")
	// Bo has his own count.
	if _, err := e.svc.Submit(ctx, e.bo, "demo", "dev", good, ""); err != nil {
		t.Fatal(err)
	}
	// The next UTC day: one more reaches the total of 3.
	e.now = time.Date(2026, 5, 5, 0, 0, 1, 0, time.UTC)
	if _, err := e.svc.Submit(ctx, e.alice, "demo", "dev", good, ""); err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.Submit(ctx, e.alice, "demo", "dev", good, "")
	want(t, err, zoo.Conflict, "3 of the 3 submissions allowed in phase dev")
	// After the close.
	e.now = t0.Add(48 * time.Hour)
	_, err = e.svc.Submit(ctx, e.bo, "demo", "dev", good, "")
	want(t, err, zoo.Conflict, "phase dev closed at 2026-05-06T10:00:00Z")
	// A model that does not exist, and a malformed reference.
	e.now = t0
	_, err = e.svc.Submit(ctx, e.bo, "demo", "dev", nil, "no-such-model/1")
	want(t, err, zoo.NotFound)
	_, err = e.svc.Submit(ctx, e.bo, "demo", "dev", nil, "just-a-name")
	want(t, err, zoo.Invalid, "ID/N")
}

func TestScoringAndRanking(t *testing.T) { testScoringAndRanking(t, newEnv(t)) }

func testScoringAndRanking(t *testing.T, e *env) {
	c := e.create(t, "demo", "public")
	perfect := e.predictions(t, func(_ string, x *tensor.Tensor) *tensor.Tensor { return x })
	sa, err := e.svc.Submit(ctx, e.alice, "demo", "dev", e.predictions(t, offset(2)), "")
	if err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(time.Minute)
	sb, err := e.svc.Submit(ctx, e.bo, "demo", "dev", perfect, "")
	if err != nil {
		t.Fatal(err)
	}
	e.now = e.now.Add(time.Minute)
	if _, err := e.svc.Submit(ctx, e.alice, "demo", "dev", e.predictions(t, offset(1)), ""); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Store.Submission(ctx, sb.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(float64(got.Scores["psnr"]), 1) || got.Scores["mae"] != 0 || len(got.Images) != 2 || got.Images[1].Name != "img02.npy" {
		t.Errorf("perfect submission: %+v", got)
	}
	// The truth t and t + d·(1, 2, 3, 1, 2, 3, …): MAE = mean of d·(1+i%3) over 64 pixels = d·127/64.
	a, _ := e.svc.Store.Submission(ctx, sa.ID)
	if m := float64(a.Scores["mae"]); math.Abs(m-2*127.0/64) > 1e-5 {
		t.Errorf("mae %v, want %v", m, 2*127.0/64)
	}
	_, rows, err := e.svc.Leaderboard(ctx, nil, "demo", "dev")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Submission.User != "bo" || rows[0].Rank != 1 || rows[1].Submission.User != "alice" || rows[1].Rank != 2 {
		t.Fatalf("leaderboard: %+v", rows)
	}
	if rows[1].Submission.ID == sa.ID {
		t.Error("alice's worse submission is on the leaderboard instead of her best")
	}
	_ = c
}

func TestHiddenLeaderboard(t *testing.T) { testHiddenLeaderboard(t, newEnv(t)) }

func testHiddenLeaderboard(t *testing.T, e *env) {
	e.create(t, "secret", challenge.LeaderboardHidden)
	s, err := e.svc.Submit(ctx, e.alice, "secret", "dev", e.predictions(t, offset(1)), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []*zoo.User{nil, e.alice, e.bo} {
		_, _, err := e.svc.Leaderboard(ctx, u, "secret", "dev")
		want(t, err, zoo.Forbidden, "hidden until the phase closes at 2026-05-06T10:00:00Z")
	}
	_, own, err := e.svc.Submission(ctx, e.alice, "secret", s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if own.Scores != nil || own.Images != nil || own.Status != challenge.StatusScored {
		t.Errorf("alice sees her scores before the close: %+v", own)
	}
	mine, _ := e.svc.Submissions(ctx, e.alice, "secret")
	if len(mine) != 1 || mine[0].Scores != nil {
		t.Errorf("alice's list shows scores: %+v", mine)
	}
	_, _, err = e.svc.Submission(ctx, e.bo, "secret", s.ID)
	want(t, err, zoo.NotFound)
	if _, rows, err := e.svc.Leaderboard(ctx, e.org, "secret", "dev"); err != nil || len(rows) != 1 {
		t.Errorf("the organiser: %v, %d rows", err, len(rows))
	}
	e.now = t0.Add(48 * time.Hour) // the phase closes
	if _, rows, err := e.svc.Leaderboard(ctx, e.bo, "secret", "dev"); err != nil || len(rows) != 1 || rows[0].Submission.Scores == nil {
		t.Errorf("after the close: %v, %+v", err, rows)
	}
	// A phase still to come stays hidden.
	_, _, err = e.svc.Leaderboard(ctx, e.bo, "secret", "final")
	want(t, err, zoo.Forbidden)
}
