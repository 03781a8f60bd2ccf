package platform

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/challenge"
	"github.com/zoo-bioimage/zoo/repo"
	"github.com/zoo-bioimage/zoo/runner"
	"github.com/zoo-bioimage/zoo/score"
	"github.com/zoo-bioimage/zoo/spec"
	"github.com/zoo-bioimage/zoo/tensor"
)

// Service carries out the challenge operations on a challenge.Store. Set Store and
// Repo; the other fields have defaults.
type Service struct {
	Store challenge.Store
	Repo  *repo.Service // model submissions: visibility and unpacking
	// Queue receives challenge.JobEval jobs; nil evaluates each submission before
	// Submit returns.
	Queue repo.Enqueuer
	Now   func() time.Time
	// TempDir is where model submissions are unpacked ("" = os.TempDir()).
	TempDir string
	Zip     challenge.ZipLimits
	Threads int // inference threads of a model submission (0 = all CPUs)
	// Open loads a submitted model's weights (runner.Options.Open); nil
	// runs them in this process. zoo serve and worker run them in a bounded
	// child process (package modelhost).
	Open func(m *spec.Model, src *spec.Source, format string, threads int) (runner.Model, error)
	// ModelTimeout bounds a model submission's run on all test inputs
	// (default 30 minutes); a model that takes longer fails.
	ModelTimeout time.Duration
}

// now is the service's clock in UTC, to the microsecond the stores keep.
func (s *Service) now() time.Time {
	t := time.Now()
	if s.Now != nil {
		t = s.Now()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// slugRE is compiled on first use (counted repetitions are costly to compile at start-up).
var slugRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,62}$`) })

// NewFile is a file given to Create.
type NewFile struct {
	Kind, Name string
	Data       []byte
}

// Create checks and stores a new challenge. u must be a reviewer or an
// admin. Test inputs and ground truths pair by name without extension
// (img01.tif ↔ img01.npy): every input needs exactly one truth. The data
// contract (challenge.CheckContract) must hold: every input downloadable,
// no truth.
func (s *Service) Create(ctx context.Context, u *zoo.User, c *challenge.Challenge, files []NewFile) error {
	const op = "challenge.Create"
	if u == nil {
		return zoo.E(op, zoo.Unauthorized, nil, "log in to create a challenge")
	}
	if u.Role.Rank() < zoo.RoleReviewer.Rank() {
		return zoo.E(op, zoo.Forbidden, nil, "only reviewers and admins create challenges; ask one to create it and name you among its organisers")
	}
	bad := func(format string, args ...any) error { return zoo.E(op, zoo.Invalid, nil, format, args...) }
	if !slugRE().MatchString(c.Slug) {
		return bad("slug %q: use 2 to 63 lower-case letters, digits and '-', starting with a letter or digit", c.Slug)
	}
	if strings.TrimSpace(c.Title) == "" {
		return bad("a challenge needs a title")
	}
	switch c.Leaderboard {
	case "":
		c.Leaderboard = challenge.LeaderboardPublic
	case challenge.LeaderboardPublic, challenge.LeaderboardHidden:
	default:
		return bad("leaderboard %q: use public or hidden", c.Leaderboard)
	}
	switch c.Ranking {
	case "":
		c.Ranking = challenge.RankMetric
	case challenge.RankMetric, challenge.RankMeanRank:
	default:
		return bad("ranking %q: use metric (the first metric) or mean-rank", c.Ranking)
	}
	if len(c.Metrics) == 0 {
		return bad("a challenge needs at least one metric (psnr, si-psnr, ssim, mse, mae, iou, dice, f1, ap, mean-ap, pq)")
	}
	if err := checkMetrics(op, c.Metrics); err != nil {
		return err
	}
	if len(c.Phases) == 0 {
		return bad("a challenge needs at least one phase (name, opens_at, closes_at, per_day, total)")
	}
	phases := map[string]bool{}
	for i, p := range c.Phases {
		switch {
		case !slugRE().MatchString(p.Name):
			return bad("phases.%d: name %q: use 2 to 63 lower-case letters, digits and '-'", i, p.Name)
		case phases[p.Name]:
			return bad("phases.%d: two phases are named %q", i, p.Name)
		case p.OpensAt.IsZero() || !p.ClosesAt.After(p.OpensAt):
			return bad("phases.%d (%s): closes_at must come after opens_at", i, p.Name)
		case p.PerDay < 1 || p.Total < 1:
			return bad("phases.%d (%s): per_day and total must be at least 1", i, p.Name)
		}
		phases[p.Name] = true
		c.Phases[i].OpensAt, c.Phases[i].ClosesAt = p.OpensAt.UTC(), p.ClosesAt.UTC()
	}
	for _, n := range c.Organisers {
		if _, err := s.Repo.Catalog().UserByName(ctx, n); err != nil {
			return bad("organiser %q: no such user", n)
		}
	}
	c.Files = nil
	var data [][]byte
	seen := map[string]bool{}
	truths := map[string]string{}
	var inputs []string
	for _, f := range files {
		if err := challenge.CheckName(f.Name); err != nil {
			return bad("file %s", err)
		}
		k := f.Kind + "/" + f.Name
		if seen[k] {
			return bad("%s file %q is given twice", f.Kind, f.Name)
		}
		seen[k] = true
		switch f.Kind {
		case challenge.Public:
		case challenge.Input, challenge.Truth:
			t, err := challenge.DecodeImage(f.Name, f.Data)
			if err != nil {
				return bad("%s file %q cannot be read as an image (.npy or .tif): %s", f.Kind, f.Name, zoo.MessageOf(err))
			}
			if f.Kind == challenge.Truth {
				if prev, dup := truths[challenge.Stem(f.Name)]; dup {
					return bad("ground truths %q and %q have the same name without extension; each input needs exactly one", prev, f.Name)
				}
				truths[challenge.Stem(f.Name)] = f.Name
				if where := challenge.NonFinite(t); where != "" {
					return bad("ground truth %q holds NaN or infinity (%s)", f.Name, where)
				}
			} else {
				inputs = append(inputs, f.Name)
			}
		default:
			return bad("file %q: kind %q; use public, input or truth", f.Name, f.Kind)
		}
		c.Files = append(c.Files, challenge.File{Kind: f.Kind, Name: f.Name, Size: int64(len(f.Data)), SHA256: sha(f.Data)})
		data = append(data, f.Data)
	}
	if len(inputs) == 0 {
		return bad("a challenge needs test inputs (kind input) and their ground truths (kind truth)")
	}
	inStems := map[string]bool{}
	for _, in := range inputs {
		if inStems[challenge.Stem(in)] {
			return bad("two test inputs are named %s.*; predictions are named after inputs without extension, so each name must be unique", challenge.Stem(in))
		}
		inStems[challenge.Stem(in)] = true
		if _, ok := truths[challenge.Stem(in)]; !ok {
			return bad("test input %q has no ground truth: add a truth file named %s.npy or %s.tif", in, challenge.Stem(in), challenge.Stem(in))
		}
	}
	for st, name := range truths {
		if !inStems[st] {
			return bad("ground truth %q has no test input named %s.*", name, st)
		}
	}
	if err := challenge.CheckContract(c.Files); err != nil {
		return err
	}
	c.CreatedBy = u.ID
	c.CreatedAt = s.now()
	return s.Store.CreateChallenge(ctx, c, data)
}

// truthName is the ground truth of input in c.
func truthName(c *challenge.Challenge, input string) string {
	for _, f := range c.Files {
		if f.Kind == challenge.Truth && challenge.Stem(f.Name) == challenge.Stem(input) {
			return f.Name
		}
	}
	return ""
}

// truths decodes every ground truth of c, by input name.
func (s *Service) truths(ctx context.Context, c *challenge.Challenge) (map[string]*tensor.Tensor, error) {
	out := map[string]*tensor.Tensor{}
	for _, in := range c.Names(challenge.Input) {
		name := truthName(c, in)
		b, err := s.Store.FileData(ctx, c.ID, challenge.Truth, name)
		if err != nil {
			return nil, err
		}
		t, err := challenge.DecodeImage(name, b)
		if err != nil {
			return nil, zoo.E("challenge", zoo.Internal, err, "the ground truth %s cannot be read", name)
		}
		out[in] = t
	}
	return out, nil
}

// checkMetrics checks a challenge's metrics: known, with valid options,
// each key once.
func checkMetrics(op string, metrics []challenge.Metric) error {
	bad := func(format string, args ...any) error { return zoo.E(op, zoo.Invalid, nil, format, args...) }
	if len(metrics) == 0 {
		return bad("a challenge needs at least one metric (psnr, si-psnr, ssim, mse, mae, iou, dice, f1, ap, mean-ap, pq)")
	}
	keys := map[string]bool{}
	for i, m := range metrics {
		if _, err := score.ParseMetric(string(m.Name)); err != nil {
			return bad("metrics.%d: %v", i, err)
		}
		if err := m.Options().Check(m.Name); err != nil {
			return bad("metrics.%d (%s): %v", i, m.Name, err)
		}
		if keys[m.Key()] {
			return bad("metrics.%d: %s is listed twice", i, m.Key())
		}
		keys[m.Key()] = true
	}
	return nil
}

// Get returns the challenge with slug as u may see it: public files and
// test inputs with their sizes and hashes; ground truths by name only,
// and only to organisers.
func (s *Service) Get(ctx context.Context, u *zoo.User, slug string) (*challenge.Challenge, error) {
	c, err := s.Store.Challenge(ctx, slug)
	if err != nil {
		return nil, err
	}
	v := view(c, u)
	if c.Organiser(u) {
		if v.Changes, err = s.Store.ChallengeChanges(ctx, c.ID); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func view(c *challenge.Challenge, u *zoo.User) *challenge.Challenge {
	v := *c
	v.Files = nil
	org := c.Organiser(u)
	if !org {
		v.Changes = nil
	}
	for _, f := range c.Files {
		switch {
		case challenge.Downloadable(f.Kind):
		case org:
			f.Size, f.SHA256 = 0, "" // a ground truth: its name, to its organisers
		default:
			continue
		}
		v.Files = append(v.Files, f)
	}
	return &v
}

// List returns every challenge as u may see it.
func (s *Service) List(ctx context.Context, u *zoo.User) ([]*challenge.Challenge, error) {
	cs, err := s.Store.Challenges(ctx)
	if err != nil {
		return nil, err
	}
	for i, c := range cs {
		cs[i] = view(c, u)
	}
	return cs, nil
}

// PublicFile returns a downloadable file of a challenge (a public file or
// a test input, challenge.Downloadable). Ground truths are NotFound,
// exactly like files that do not exist.
func (s *Service) PublicFile(ctx context.Context, slug, name string) ([]byte, error) {
	c, err := s.Store.Challenge(ctx, slug)
	if err != nil {
		return nil, err
	}
	for _, f := range c.Files {
		if challenge.Downloadable(f.Kind) && f.Name == name {
			return s.Store.FileData(ctx, c.ID, f.Kind, name)
		}
	}
	return nil, zoo.E("challenge.File", zoo.NotFound, nil, "challenge %s has no downloadable file %q", slug, name)
}

// Submit records a submission of u to a phase: predictions (a zip) or
// model ("ID/N" of a published version). Predictions are checked before
// anything is recorded; an invalid zip is refused (zoo.Invalid, naming the
// file and why) and does not count against the limits.
func (s *Service) Submit(ctx context.Context, u *zoo.User, slug, phase string, zipData []byte, model string) (*challenge.Submission, error) {
	const op = "challenge.Submit"
	if u == nil {
		return nil, zoo.E(op, zoo.Unauthorized, nil, "log in to submit")
	}
	c, err := s.Store.Challenge(ctx, slug)
	if err != nil {
		return nil, err
	}
	p, ok := c.Phase(phase)
	if !ok {
		return nil, zoo.E(op, zoo.NotFound, nil, "challenge %s has no phase %q", slug, phase)
	}
	now := s.now()
	switch {
	case now.Before(p.OpensAt):
		return nil, zoo.E(op, zoo.Conflict, nil, "phase %s opens at %s; submit then", phase, p.OpensAt.Format(time.RFC3339))
	case p.Closed(now):
		return nil, zoo.E(op, zoo.Conflict, nil, "phase %s closed at %s; it takes no more submissions", phase, p.ClosesAt.Format(time.RFC3339))
	}
	sub := &challenge.Submission{ChallengeID: c.ID, Phase: phase, UserID: u.ID, User: u.Name, Status: challenge.StatusQueued, CreatedAt: now}
	var data []byte
	if model != "" {
		if zipData != nil {
			return nil, zoo.E(op, zoo.Invalid, nil, "submit either predictions (a zip) or a model, not both")
		}
		id, n, err := ParseModelRef(model)
		if err != nil {
			return nil, err
		}
		v, err := s.Repo.Get(ctx, u, id, n)
		if err != nil {
			return nil, err
		}
		if v.State != zoo.StatePublished {
			return nil, zoo.E(op, zoo.Invalid, nil, "model %s/%d is %s; only published versions can be submitted", id, n, v.State)
		}
		sub.Kind, sub.Model = challenge.KindModel, fmt.Sprintf("%s/%d", v.ModelID, v.Number)
	} else {
		truths, err := s.truths(ctx, c)
		if err != nil {
			return nil, err
		}
		shapes, axes := map[string][]int{}, map[string][]string{}
		for in, t := range truths {
			shapes[in], axes[in] = t.Shape, t.Axes
		}
		if _, err := challenge.ReadPredictions(zipData, c.Names(challenge.Input), shapes, axes, s.Zip); err != nil {
			return nil, err
		}
		sub.Kind, data = challenge.KindPredictions, zipData
	}
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if err := s.Store.AddSubmission(ctx, sub, data, challenge.Limit{PerDay: p.PerDay, Total: p.Total, DayStart: day}); err != nil {
		return nil, err
	}
	if s.Queue == nil {
		if err := s.Evaluate(ctx, sub.ID); err != nil {
			return nil, err
		}
		return s.Store.Submission(ctx, sub.ID)
	}
	if _, err := s.Queue.Enqueue(ctx, challenge.JobEval, challenge.EvalArgs{Submission: sub.ID}); err != nil {
		return nil, err
	}
	return sub, nil
}

// ParseModelRef parses "ID/N" (N ≥ 1).
func ParseModelRef(ref string) (string, int, error) {
	id, ns, ok := strings.Cut(ref, "/")
	n, err := strconv.Atoi(ns)
	if !ok || id == "" || err != nil || n < 1 {
		return "", 0, zoo.E("challenge.Submit", zoo.Invalid, nil, "model %q: give a published version as ID/N, e.g. affable-shark/1", ref)
	}
	return id, n, nil
}

// failure is an evaluation outcome that is the submission's fault: it is
// recorded as failed with its message, not retried.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

// Evaluate scores submission id (the challenge.JobEval handler). Problems of the
// submission (a model that does not run, a prediction of the wrong shape)
// are recorded as a failed submission with their message; other errors
// (storage, a worker without a runtime) are returned so the job is retried.
func (s *Service) Evaluate(ctx context.Context, id int64) error {
	sub, err := s.Store.Submission(ctx, id)
	if err != nil {
		return err
	}
	if sub.Status != challenge.StatusQueued {
		return nil // already done (a retried job)
	}
	c, err := s.Store.ChallengeByID(ctx, sub.ChallengeID)
	if err != nil {
		return err
	}
	truths, err := s.truths(ctx, c)
	if err != nil {
		return err
	}
	var preds map[string]*tensor.Tensor
	switch sub.Kind {
	case challenge.KindPredictions:
		data, err := s.Store.SubmissionData(ctx, id)
		if err != nil {
			return err
		}
		shapes, axes := map[string][]int{}, map[string][]string{}
		for in, t := range truths {
			shapes[in], axes[in] = t.Shape, t.Axes
		}
		preds, err = challenge.ReadPredictions(data, c.Names(challenge.Input), shapes, axes, s.Zip)
		if err != nil {
			err = &failure{zoo.MessageOf(err)}
		}
	case challenge.KindModel:
		limit := s.ModelTimeout
		if limit <= 0 {
			limit = 30 * time.Minute
		}
		mctx, cancel := context.WithTimeout(ctx, limit)
		preds, err = s.runModel(mctx, c, sub, truths)
		if ctx.Err() == nil && mctx.Err() != nil {
			err = &failure{fmt.Sprintf("the model ran longer than the limit of %s on the test inputs", limit)}
		}
		cancel()
	default:
		err = &failure{"unknown submission kind " + sub.Kind}
	}
	var f *failure
	if err == nil {
		err = scoreAll(c, sub, truths, preds)
	}
	now := s.now()
	sub.ScoredAt = &now
	switch {
	case err == nil:
		sub.Status = challenge.StatusScored
	case errors.As(err, &f):
		sub.Status, sub.Message, sub.Scores, sub.Images = challenge.StatusFailed, f.msg, nil, nil
	default:
		return err
	}
	return s.Store.FinishSubmission(ctx, sub)
}

// scoreAll computes every metric per image and their means.
func scoreAll(c *challenge.Challenge, sub *challenge.Submission, truths, preds map[string]*tensor.Tensor) error {
	sub.Scores, sub.Images = map[string]challenge.Value{}, nil
	sums := map[string]float64{}
	inputs := c.Names(challenge.Input)
	for _, in := range inputs {
		img := challenge.ImageScore{Name: in, Scores: map[string]challenge.Value{}}
		for _, m := range c.Metrics {
			v, err := score.Compute(m.Name, truths[in], preds[in], m.Options())
			if err != nil {
				var ie *score.InputError
				if errors.As(err, &ie) {
					return &failure{fmt.Sprintf("%s of %s: %s: %s", m.Key(), in, ie.Input, ie.Reason)}
				}
				return &failure{fmt.Sprintf("%s of %s: %s", m.Key(), in, zoo.MessageOf(err))}
			}
			img.Scores[m.Key()] = challenge.Value(v)
			sums[m.Key()] += v
		}
		sub.Images = append(sub.Images, img)
	}
	for k, v := range sums {
		sub.Scores[k] = challenge.Value(v / float64(len(inputs)))
	}
	return nil
}

// runModel runs a published model on every test input and returns its
// first output per input, fitted to the ground truth's shape.
func (s *Service) runModel(ctx context.Context, c *challenge.Challenge, sub *challenge.Submission, truths map[string]*tensor.Tensor) (map[string]*tensor.Tensor, error) {
	id, n, err := ParseModelRef(sub.Model)
	if err != nil {
		return nil, &failure{zoo.MessageOf(err)}
	}
	v, err := s.Repo.Catalog().Version(ctx, id, n)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(s.TempDir, "zoo-challenge-")
	if err != nil {
		return nil, zoo.E("challenge.Evaluate", zoo.Internal, err, "")
	}
	defer os.RemoveAll(dir)
	pkgDir := filepath.Join(dir, "model")
	if err := s.Repo.Unpack(ctx, v, pkgDir); err != nil {
		return nil, err
	}
	pkg, err := runner.Load(pkgDir, runner.LoadOptions{})
	if err != nil {
		return nil, &failure{"the model cannot be loaded: " + zoo.MessageOf(err)}
	}
	pred, err := runner.NewPredictor(pkg, "", runner.Options{Threads: s.Threads, Open: s.Open})
	if err != nil {
		if zoo.KindOf(err) == zoo.Unavailable {
			return nil, err // this worker cannot run it now: the job is retried
		}
		return nil, &failure{"the model cannot run on this server: " + zoo.MessageOf(err)}
	}
	defer pred.Close()
	m := pred.Model
	if len(m.Inputs) != 1 {
		return nil, &failure{fmt.Sprintf("the model has %d inputs; challenges run models with one input", len(m.Inputs))}
	}
	out := map[string]*tensor.Tensor{}
	for _, in := range c.Names(challenge.Input) {
		b, err := s.Store.FileData(ctx, c.ID, challenge.Input, in)
		if err != nil {
			return nil, err
		}
		path := filepath.Join(dir, in)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, zoo.E("challenge.Evaluate", zoo.Internal, err, "")
		}
		img, err := runner.ReadImage(path)
		os.Remove(path)
		if err != nil {
			return nil, zoo.E("challenge.Evaluate", zoo.Internal, err, "test input %s", in)
		}
		x, err := runner.ToInput(img, &m.Inputs[0], nil)
		if err != nil {
			return nil, &failure{fmt.Sprintf("test input %s does not fit the model's input: %s", in, zoo.MessageOf(err))}
		}
		sample := runner.Sample{m.Inputs[0].ID: x}
		if err := pred.UseDatasetStats([]runner.Sample{sample}); err != nil {
			return nil, &failure{"the model's dataset statistics: " + zoo.MessageOf(err)}
		}
		res, err := pred.Predict(ctx, sample)
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			return nil, &failure{fmt.Sprintf("the model failed on test input %s: %s", in, zoo.MessageOf(err))}
		}
		y := res[m.Outputs[0].ID]
		t := truths[in]
		fy, err := challenge.FitShape(y, t.Shape, t.Axes)
		if err != nil {
			return nil, &failure{fmt.Sprintf("the model's output %s for test input %s %s", m.Outputs[0].ID, in, err)}
		}
		if where := challenge.NonFinite(fy); where != "" {
			return nil, &failure{fmt.Sprintf("the model's output for test input %s holds NaN or infinity (%s)", in, where)}
		}
		out[in] = fy
	}
	return out, nil
}

// ScoresVisible reports whether u may see scores of phase now: organisers
// always, others when the leaderboard is public or the phase has closed.
func (s *Service) ScoresVisible(c *challenge.Challenge, phase string, u *zoo.User) bool {
	if c.Organiser(u) || c.Leaderboard == challenge.LeaderboardPublic {
		return true
	}
	p, ok := c.Phase(phase)
	return ok && p.Closed(s.now())
}

// hiddenMessage says why scores are not shown.
func hiddenMessage(c *challenge.Challenge, phase string) string {
	p, _ := c.Phase(phase)
	return fmt.Sprintf("the leaderboard of phase %s is hidden until the phase closes at %s", phase, p.ClosesAt.Format(time.RFC3339))
}

// redact drops the scores of sub unless u may see them.
func (s *Service) redact(c *challenge.Challenge, sub *challenge.Submission, u *zoo.User) *challenge.Submission {
	if s.ScoresVisible(c, sub.Phase, u) {
		return sub
	}
	r := *sub
	r.Scores, r.Images = nil, nil
	return &r
}

// challenge.Leaderboard returns the ranked leaderboard of a phase, or Forbidden
// while it is hidden from u.
func (s *Service) Leaderboard(ctx context.Context, u *zoo.User, slug, phase string) (*challenge.Challenge, []challenge.Row, error) {
	c, err := s.Store.Challenge(ctx, slug)
	if err != nil {
		return nil, nil, err
	}
	if _, ok := c.Phase(phase); !ok {
		return nil, nil, zoo.E("challenge.Leaderboard", zoo.NotFound, nil, "challenge %s has no phase %q", slug, phase)
	}
	if !s.ScoresVisible(c, phase, u) {
		return nil, nil, zoo.E("challenge.Leaderboard", zoo.Forbidden, nil, "%s", hiddenMessage(c, phase))
	}
	subs, err := s.Store.Submissions(ctx, c.ID, 0)
	if err != nil {
		return nil, nil, err
	}
	return view(c, u), challenge.Leaderboard(c, phase, subs), nil
}

// Submissions lists the submissions u may see: organisers all, others
// their own (scores redacted while hidden).
func (s *Service) Submissions(ctx context.Context, u *zoo.User, slug string) ([]*challenge.Submission, error) {
	if u == nil {
		return nil, zoo.E("challenge.Submissions", zoo.Unauthorized, nil, "log in to see your submissions")
	}
	c, err := s.Store.Challenge(ctx, slug)
	if err != nil {
		return nil, err
	}
	var uid int64
	if !c.Organiser(u) {
		uid = u.ID
	}
	subs, err := s.Store.Submissions(ctx, c.ID, uid)
	if err != nil {
		return nil, err
	}
	for i, sub := range subs {
		subs[i] = s.redact(c, sub, u)
	}
	return subs, nil
}

// Submission returns one submission of a challenge: to its owner and the
// organisers, and to anyone once it is on a visible leaderboard (scored,
// not withdrawn or disqualified, scores visible). Otherwise it is NotFound.
func (s *Service) Submission(ctx context.Context, u *zoo.User, slug string, id int64) (*challenge.Challenge, *challenge.Submission, error) {
	c, err := s.Store.Challenge(ctx, slug)
	if err != nil {
		return nil, nil, err
	}
	sub, err := s.Store.Submission(ctx, id)
	if err != nil || sub.ChallengeID != c.ID {
		return nil, nil, zoo.E("challenge.Submission", zoo.NotFound, nil, "challenge %s has no submission %d", slug, id)
	}
	own := u != nil && u.ID == sub.UserID
	if !own && !(sub.Ranked() && s.ScoresVisible(c, sub.Phase, u)) && !c.Organiser(u) {
		return nil, nil, zoo.E("challenge.Submission", zoo.NotFound, nil, "challenge %s has no submission %d", slug, id)
	}
	return view(c, u), s.redact(c, sub, u), nil
}

// sha is the hex SHA-256 of b.
func sha(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
