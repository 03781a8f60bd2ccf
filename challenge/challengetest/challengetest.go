// Package challengetest is the conformance suite of challenge.Store: every
// backend (sqlite, postgres) runs Run.
package challengetest

import (
	"bytes"
	"context"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/score"
)

// Run runs the suite; open returns an empty store.
func Run(t *testing.T, open func(t *testing.T) challenge.Store) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, challenge.Store)
	}{
		{"CreateAndGet", testCreate},
		{"Files", testFiles},
		{"Submissions", testSubmissions},
		{"Limits", testLimits},
		{"ConcurrentLimits", testConcurrent},
		{"Update", testUpdate},
		{"WithdrawDisqualify", testWithdraw},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

var ctx = context.Background()

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Example returns a challenge with one phase and one input/truth pair.
func Example(slug string) (*challenge.Challenge, [][]byte) {
	c := &challenge.Challenge{
		Slug: slug, Title: "Nuclei", Description: "# Segment\nnuclei", Organisers: []string{"olga"},
		Leaderboard: challenge.LeaderboardPublic, Ranking: challenge.RankMeanRank,
		Metrics: []challenge.Metric{{Name: score.MetricPSNR}, {Name: score.MetricAP, Threshold: 0.75}},
		Phases:  []challenge.Phase{{Name: "final", OpensAt: t0, ClosesAt: t0.Add(30 * 24 * time.Hour), PerDay: 3, Total: 5}},
		Files: []challenge.File{
			{Kind: challenge.Public, Name: "train.npy", Size: 3},
			{Kind: challenge.Input, Name: "img01.npy", Size: 4},
			{Kind: challenge.Truth, Name: "img01.npy", Size: 5},
		},
		CreatedBy: 7, CreatedAt: t0,
	}
	return c, [][]byte{[]byte("pub"), []byte("in01"), []byte("truth")}
}

func kind(t *testing.T, err error, want zoo.Kind, what string) {
	t.Helper()
	if zoo.KindOf(err) != want || err == nil {
		t.Fatalf("%s: err %v (kind %v), want kind %v", what, err, zoo.KindOf(err), want)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testCreate(t *testing.T, s challenge.Store) {
	c, data := Example("nuclei-2026")
	must(t, s.CreateChallenge(ctx, c, data))
	if c.ID == 0 {
		t.Fatal("CreateChallenge set no ID")
	}
	got, err := s.Challenge(ctx, "nuclei-2026")
	must(t, err)
	if got.ID != c.ID || got.Title != "Nuclei" || got.CreatedBy != 7 || !got.CreatedAt.Equal(t0) || got.Ranking != challenge.RankMeanRank ||
		len(got.Phases) != 1 || got.Phases[0].Total != 5 || !got.Phases[0].ClosesAt.Equal(c.Phases[0].ClosesAt) ||
		len(got.Metrics) != 2 || got.Metrics[1].Threshold != 0.75 || len(got.Files) != 3 || got.Organisers[0] != "olga" {
		t.Errorf("read back %+v, want %+v", got, c)
	}
	byID, err := s.ChallengeByID(ctx, c.ID)
	must(t, err)
	if byID.Slug != c.Slug {
		t.Errorf("ChallengeByID gave %s", byID.Slug)
	}
	dup, data2 := Example("nuclei-2026")
	kind(t, s.CreateChallenge(ctx, dup, data2), zoo.Conflict, "a second challenge with the same slug")
	_, err = s.Challenge(ctx, "nope")
	kind(t, err, zoo.NotFound, "an unknown slug")
	_, err = s.ChallengeByID(ctx, c.ID+100)
	kind(t, err, zoo.NotFound, "an unknown id")

	later, data3 := Example("later")
	later.CreatedAt = t0.Add(time.Hour)
	must(t, s.CreateChallenge(ctx, later, data3))
	all, err := s.Challenges(ctx)
	must(t, err)
	if len(all) != 2 || all[0].Slug != "later" || all[1].Slug != "nuclei-2026" {
		t.Errorf("Challenges gave %d, want later then nuclei-2026", len(all))
	}
}

func testFiles(t *testing.T, s challenge.Store) {
	c, data := Example("files")
	must(t, s.CreateChallenge(ctx, c, data))
	for i, f := range c.Files {
		b, err := s.FileData(ctx, c.ID, f.Kind, f.Name)
		must(t, err)
		if !bytes.Equal(b, data[i]) {
			t.Errorf("%s %s: got %q, want %q", f.Kind, f.Name, b, data[i])
		}
	}
	// Kind is part of the key: the input and the truth share a name.
	_, err := s.FileData(ctx, c.ID, challenge.Public, "img01.npy")
	kind(t, err, zoo.NotFound, "a public file that is not there")
	_, err = s.FileData(ctx, c.ID+1, challenge.Truth, "img01.npy")
	kind(t, err, zoo.NotFound, "another challenge's file")
}

func sub(c *challenge.Challenge, user int64, at time.Time) *challenge.Submission {
	return &challenge.Submission{ChallengeID: c.ID, Phase: "final", UserID: user, User: "u", Kind: challenge.KindPredictions,
		Status: challenge.StatusQueued, CreatedAt: at}
}

func lim(c *challenge.Challenge, day time.Time) challenge.Limit {
	p := c.Phases[0]
	return challenge.Limit{PerDay: p.PerDay, Total: p.Total, DayStart: day}
}

func testSubmissions(t *testing.T, s challenge.Store) {
	c, data := Example("subs")
	must(t, s.CreateChallenge(ctx, c, data))
	a := sub(c, 1, t0)
	must(t, s.AddSubmission(ctx, a, []byte("zipdata"), lim(c, t0.Truncate(24*time.Hour))))
	b := sub(c, 2, t0.Add(time.Minute))
	b.Kind, b.Model = challenge.KindModel, "shark/1"
	must(t, s.AddSubmission(ctx, b, nil, lim(c, t0.Truncate(24*time.Hour))))
	if a.ID == 0 || b.ID == 0 || a.ID == b.ID {
		t.Fatalf("ids %d, %d", a.ID, b.ID)
	}
	got, err := s.SubmissionData(ctx, a.ID)
	must(t, err)
	if string(got) != "zipdata" {
		t.Errorf("SubmissionData %q", got)
	}
	_, err = s.SubmissionData(ctx, b.ID)
	kind(t, err, zoo.NotFound, "data of a model submission")

	all, err := s.Submissions(ctx, c.ID, 0)
	must(t, err)
	if len(all) != 2 || all[0].ID != a.ID || all[1].Model != "shark/1" || all[1].User != "u" || !all[1].CreatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("Submissions: %+v", all)
	}
	mine, err := s.Submissions(ctx, c.ID, 2)
	must(t, err)
	if len(mine) != 1 || mine[0].ID != b.ID {
		t.Errorf("Submissions of user 2: %+v", mine)
	}

	at := t0.Add(time.Hour)
	a.Status, a.ScoredAt = challenge.StatusScored, &at
	a.Scores = map[string]challenge.Value{"psnr": challenge.Value(math.Inf(1)), "ap@0.75": 0.5}
	a.Images = []challenge.ImageScore{{Name: "img01.npy", Scores: map[string]challenge.Value{"psnr": challenge.Value(math.Inf(1)), "ap@0.75": 0.5}}}
	must(t, s.FinishSubmission(ctx, a))
	r, err := s.Submission(ctx, a.ID)
	must(t, err)
	if r.Status != challenge.StatusScored || r.ScoredAt == nil || !r.ScoredAt.Equal(at) || !math.IsInf(float64(r.Scores["psnr"]), 1) ||
		r.Scores["ap@0.75"] != 0.5 || len(r.Images) != 1 || r.Images[0].Name != "img01.npy" {
		t.Errorf("after FinishSubmission: %+v", r)
	}
	_, err = s.SubmissionData(ctx, a.ID)
	kind(t, err, zoo.NotFound, "data of a scored submission (dropped)")

	b.Status, b.Message, b.ScoredAt = challenge.StatusFailed, "the model failed", &at
	must(t, s.FinishSubmission(ctx, b))
	r, err = s.Submission(ctx, b.ID)
	must(t, err)
	if r.Status != challenge.StatusFailed || r.Message != "the model failed" || r.Scores != nil {
		t.Errorf("failed submission: %+v", r)
	}
	_, err = s.Submission(ctx, b.ID+100)
	kind(t, err, zoo.NotFound, "an unknown submission")
	ghost := sub(c, 1, t0)
	ghost.ID = b.ID + 100
	kind(t, s.FinishSubmission(ctx, ghost), zoo.NotFound, "finishing an unknown submission")
}

func testLimits(t *testing.T, s challenge.Store) {
	c, data := Example("limits") // 3 per day, 5 in all
	must(t, s.CreateChallenge(ctx, c, data))
	day1 := t0.Truncate(24 * time.Hour)
	for i := range 3 {
		must(t, s.AddSubmission(ctx, sub(c, 1, t0.Add(time.Duration(i)*time.Minute)), nil, lim(c, day1)))
	}
	err := s.AddSubmission(ctx, sub(c, 1, t0.Add(time.Hour)), nil, lim(c, day1))
	kind(t, err, zoo.Conflict, "a 4th submission on one day")
	// Another user and another phase have their own counts.
	must(t, s.AddSubmission(ctx, sub(c, 2, t0), nil, lim(c, day1)))
	other := sub(c, 1, t0)
	other.Phase = "other"
	must(t, s.AddSubmission(ctx, other, nil, lim(c, day1)))
	// The next day: 2 more reach the total of 5.
	day2 := day1.Add(24 * time.Hour)
	must(t, s.AddSubmission(ctx, sub(c, 1, day2), nil, lim(c, day2)))
	must(t, s.AddSubmission(ctx, sub(c, 1, day2.Add(time.Minute)), nil, lim(c, day2)))
	err = s.AddSubmission(ctx, sub(c, 1, day2.Add(2*time.Minute)), nil, lim(c, day2))
	kind(t, err, zoo.Conflict, "a 6th submission in the phase")
	mine, err := s.Submissions(ctx, c.ID, 1)
	must(t, err)
	if len(mine) != 6 { // 5 in final, 1 in other
		t.Errorf("user 1 has %d submissions recorded, want 6", len(mine))
	}
}

// testConcurrent: 20 submissions at once by one user against a limit of 5
// record exactly 5; the others are refused as Conflict.
func testConcurrent(t *testing.T, s challenge.Store) {
	c, data := Example("race")
	must(t, s.CreateChallenge(ctx, c, data))
	l := challenge.Limit{PerDay: 100, Total: 5, DayStart: t0.Truncate(24 * time.Hour)}
	var wg sync.WaitGroup
	errs := make([]error, 20)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.AddSubmission(ctx, sub(c, 9, t0), []byte("z"), l)
		}()
	}
	wg.Wait()
	ok, refused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case zoo.KindOf(err) == zoo.Conflict:
			refused++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	mine, err := s.Submissions(ctx, c.ID, 9)
	must(t, err)
	if ok != 5 || refused != 15 || len(mine) != 5 {
		t.Errorf("20 concurrent submissions, limit 5: %d accepted, %d refused, %d recorded; want 5, 15, 5", ok, refused, len(mine))
	}
}

func testUpdate(t *testing.T, s challenge.Store) {
	c, data := Example("edits")
	must(t, s.CreateChallenge(ctx, c, data))
	c.Title, c.Phases[0].Total = "Nuclei, again", 2
	c.Metrics = c.Metrics[:1]
	must(t, s.UpdateChallenge(ctx, c, challenge.Change{User: "olga", At: t0.Add(time.Hour), Fields: []string{"title", "metrics", "phases.final.total"}}, 0, true))
	got, err := s.Challenge(ctx, "edits")
	must(t, err)
	if got.Title != "Nuclei, again" || got.Phases[0].Total != 2 || len(got.Metrics) != 1 || len(got.Files) != 3 || got.Changes != nil {
		t.Errorf("after UpdateChallenge: %+v", got)
	}
	must(t, s.AddSubmission(ctx, sub(c, 1, t0), []byte("z"), lim(c, t0)))
	c.Metrics = append(c.Metrics, challenge.Metric{Name: score.MetricMSE})
	err = s.UpdateChallenge(ctx, c, challenge.Change{User: "olga", At: t0.Add(2 * time.Hour), Fields: []string{"metrics"}}, 1, true)
	kind(t, err, zoo.Conflict, "metrics changed after a submission")
	got, err = s.Challenge(ctx, "edits")
	must(t, err)
	if len(got.Metrics) != 1 {
		t.Errorf("a refused update changed the metrics: %+v", got.Metrics)
	}
	c.Metrics = got.Metrics
	c.Description = "new"
	// An edit based on a stale history (another edit came first) is refused.
	err = s.UpdateChallenge(ctx, c, challenge.Change{User: "admin", At: t0.Add(3 * time.Hour), Fields: []string{"description"}}, 0, false)
	kind(t, err, zoo.Conflict, "an edit racing another")
	must(t, s.UpdateChallenge(ctx, c, challenge.Change{User: "admin", At: t0.Add(3 * time.Hour), Fields: []string{"description"}}, 1, false))
	chs, err := s.ChallengeChanges(ctx, c.ID)
	must(t, err)
	if len(chs) != 2 || chs[0].User != "olga" || !chs[0].At.Equal(t0.Add(time.Hour)) || len(chs[0].Fields) != 3 ||
		chs[1].User != "admin" || chs[1].Fields[0] != "description" {
		t.Errorf("ChallengeChanges: %+v", chs)
	}
	other, data := Example("edits-other")
	must(t, s.CreateChallenge(ctx, other, data))
	if chs, err := s.ChallengeChanges(ctx, other.ID); err != nil || len(chs) != 0 {
		t.Errorf("another challenge's changes: %v %+v", err, chs)
	}
}

func testWithdraw(t *testing.T, s challenge.Store) {
	c, data := Example("withdraw")
	must(t, s.CreateChallenge(ctx, c, data))
	a := sub(c, 1, t0)
	must(t, s.AddSubmission(ctx, a, []byte("z"), lim(c, t0)))
	// A withdrawal racing the scoring job: the score arrives after it.
	must(t, s.WithdrawSubmission(ctx, a.ID, t0.Add(time.Minute)))
	kind(t, s.WithdrawSubmission(ctx, a.ID, t0.Add(2*time.Minute)), zoo.Conflict, "withdrawing twice")
	kind(t, s.WithdrawSubmission(ctx, a.ID+1000, t0), zoo.NotFound, "withdrawing a missing submission")
	at := t0.Add(3 * time.Minute)
	a.Status, a.ScoredAt, a.Scores = challenge.StatusScored, &at, map[string]challenge.Value{"psnr": 20}
	must(t, s.FinishSubmission(ctx, a))
	got, err := s.Submission(ctx, a.ID)
	must(t, err)
	if got.Status != challenge.StatusScored || got.Scores["psnr"] != 20 || got.WithdrawnAt == nil || !got.WithdrawnAt.Equal(t0.Add(time.Minute)) || got.Ranked() {
		t.Errorf("withdrawn, then scored: %+v", got)
	}
	// The withdrawn submission still counts against the limits.
	l := lim(c, t0)
	l.Total = 1
	kind(t, s.AddSubmission(ctx, sub(c, 1, t0.Add(time.Hour)), nil, l), zoo.Conflict, "a withdrawn submission's slot")

	b := sub(c, 2, t0)
	must(t, s.AddSubmission(ctx, b, nil, lim(c, t0)))
	d := &challenge.Disqualification{Reason: "copied — the same bytes as #1", By: "olga", At: t0.Add(time.Hour)}
	must(t, s.DisqualifySubmission(ctx, b.ID, d))
	got, err = s.Submission(ctx, b.ID)
	must(t, err)
	if got.Disqualified == nil || *got.Disqualified != *d || got.WithdrawnAt != nil {
		t.Errorf("disqualified: %+v", got)
	}
	all, err := s.Submissions(ctx, c.ID, 2)
	must(t, err)
	if len(all) != 1 || all[0].Disqualified == nil {
		t.Errorf("Submissions lost the disqualification: %+v", all)
	}
	must(t, s.DisqualifySubmission(ctx, b.ID, nil))
	got, err = s.Submission(ctx, b.ID)
	must(t, err)
	if got.Disqualified != nil {
		t.Errorf("reinstated, still disqualified: %+v", got.Disqualified)
	}
	kind(t, s.DisqualifySubmission(ctx, b.ID+1000, d), zoo.NotFound, "disqualifying a missing submission")
}
