// Package challenge is zoo's challenge platform: organisers publish an
// image-analysis problem with public training data and a hidden test set
// (inputs and ground truth); participants submit predictions (a zip of
// files named like the test inputs) or a published zoo model ID/N that a
// worker runs on the test inputs; submissions are scored with package
// score and ranked on a leaderboard.
//
// # What is hidden, and from whom
//
// A challenge stores three kinds of files (File.Kind): "public" (training
// and validation data), "input" (the test inputs) and "truth" (the
// hidden ground truth). Public files and test inputs are downloadable by
// anyone (Downloadable): a participant who submits predictions must be
// able to compute them, so every input a prediction is named after is
// published. Ground truths never leave the server: no route serves them,
// they are read by the scoring job alone, and a challenge whose truth is
// also given as a downloadable file (the same bytes) is refused at
// creation (CheckContract). The files live in the challenge tables of
// the catalog database, not in the blob store, so no /files/ or
// /packages/ route can reach them and zoo gc does not collect them.
//
// A "hidden" leaderboard (Challenge.Leaderboard) shows no scores — neither
// the leaderboard nor a participant's own scores — to anyone but the
// organisers until the phase has closed; a "public" one shows them as soon
// as a submission is scored.
//
// # Who may do what
//
// Reviewers and admins create challenges. The organisers of a challenge
// are its creator, the users named in its Organisers, and admins (who run
// the instance); a reviewer has no rights over a challenge they neither
// created nor are named in: its hidden leaderboard, other participants'
// submissions, edits and disqualifications are out of their reach.
// Any logged-in user may submit while a phase is open, within the phase's
// limits per participant: PerDay submissions per UTC calendar day (the
// count resets at 00:00 UTC) and Total over the phase. The limits are
// enforced by the store in the transaction that records the submission,
// so concurrent submissions cannot exceed them. A submission refused as
// invalid (a missing file, a wrong shape, NaN, an unreadable file, an
// unsafe zip) is not recorded and does not count; one recorded and then
// failed (a model that does not run) counts.
//
// Organisers may edit a challenge's title, description, phase dates and
// limits at any time, and its metrics until the first submission; every
// edit is recorded (Change). A participant may withdraw a submission while
// its phase is open: it is kept, never ranked, and still counts against
// the limits (the slot is not refunded). Organisers may disqualify a
// submission with a reason its submitter sees, and reinstate it.
//
// # Scoring and ranking
//
// Each prediction is scored against its ground truth with every metric of
// the challenge (score.Compute); a submission's score for a metric is the
// mean over the images (per-image scores are kept and shown). The
// leaderboard of a phase lists each participant's best scored submission:
//
//   - Ranking "metric": by the first metric, in its direction (higher is
//     better except mse and mae).
//   - Ranking "mean-rank": every submission is ranked by each metric, and
//     then by the mean of those ranks (lower is better).
//
// Ties share a rank, "1224" (standard competition) ranking: equal values
// get the same rank and the next value skips as many ranks as were shared.
// A participant's best submission is the one with the best rank (the
// earliest among equals); the leaderboard then ranks these best
// submissions again the same way.
//
// This package holds the nouns, the rules and the Store contract;
// challenge/platform is the service, the HTTP API and the pages.
package challenge

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/score"
)

// JobEval is the queue kind of a submission's evaluation.
const JobEval = "challenge-eval"

// EvalArgs are the arguments of a JobEval job.
type EvalArgs struct {
	Submission int64 `json:"submission"`
}

// File kinds.
const (
	Public = "public" // downloadable by anyone
	Input  = "input"  // test input: downloadable by anyone, to be predicted
	Truth  = "truth"  // hidden ground truth: never served
)

// Downloadable reports whether files of kind are served to anyone: public
// files and test inputs, never ground truths.
func Downloadable(kind string) bool { return kind == Public || kind == Input }

// CheckContract checks a challenge's files (with their SHA256) as a
// participant meets them: every test input is downloadable under its own
// name (no public file has the same name, which would be served instead)
// and no ground truth is downloadable, under any name (no public file or
// input has a truth's bytes). The error names the files and what to do.
func CheckContract(files []File) error {
	const op = "challenge.Create"
	byName := map[string]File{}
	for _, f := range files {
		if !Downloadable(f.Kind) {
			continue
		}
		if o, ok := byName[f.Name]; ok && o.Kind != f.Kind {
			return zoo.E(op, zoo.Invalid, nil, "%q is given both as public and as an input file: the download link of a name serves one file, so participants could not download the input; rename one", f.Name)
		}
		byName[f.Name] = f
	}
	for _, t := range files {
		if t.Kind != Truth {
			continue
		}
		for _, f := range files {
			if Downloadable(f.Kind) && f.SHA256 == t.SHA256 {
				return zoo.E(op, zoo.Invalid, nil, "ground truth %q is also given as the %s file %q, which anyone can download; ground truths must stay hidden", t.Name, f.Kind, f.Name)
			}
		}
	}
	return nil
}

// Leaderboard visibilities.
const (
	LeaderboardPublic = "public"
	LeaderboardHidden = "hidden"
)

// Ranking rules.
const (
	RankMetric   = "metric"    // by the first metric
	RankMeanRank = "mean-rank" // by the mean of the ranks by every metric
)

// Submission kinds and states.
const (
	KindPredictions = "predictions"
	KindModel       = "model"

	StatusQueued = "queued"
	StatusScored = "scored"
	StatusFailed = "failed"
)

// Challenge is one challenge as organisers define it.
type Challenge struct {
	ID          int64     `json:"-"`
	Slug        string    `json:"slug"`
	Title       string    `json:"title"`
	Description string    `json:"description"` // markdown
	Organisers  []string  `json:"organisers,omitempty"`
	Leaderboard string    `json:"leaderboard"`
	Metrics     []Metric  `json:"metrics"`
	Ranking     string    `json:"ranking"`
	Phases      []Phase   `json:"phases"`
	Files       []File    `json:"files"`
	CreatedBy   int64     `json:"-"`
	CreatedAt   time.Time `json:"created_at"`
	// Changes is the challenge's edit history, oldest first; set by the
	// service for organisers only (stores keep it apart from the spec).
	Changes []Change `json:"changes,omitempty"`
}

// Change records one edit of a challenge: who made it, when, and which
// fields it changed ("title", "description", "metrics",
// "phases.final.closes_at", …).
type Change struct {
	User   string    `json:"user"`
	At     time.Time `json:"at"`
	Fields []string  `json:"fields"`
}

// Disqualification is an organiser's decision to take a submission off
// the leaderboards, with the reason shown to the submitter.
type Disqualification struct {
	Reason string    `json:"reason"`
	By     string    `json:"by"`
	At     time.Time `json:"at"`
}

// MaxReason is the longest disqualification reason, in characters.
const MaxReason = 500

// Metric is one metric of a challenge and its options.
type Metric struct {
	Name      score.Metric `json:"name"`
	Threshold float64      `json:"threshold,omitempty"`  // f1, ap
	DataRange float64      `json:"data_range,omitempty"` // psnr, si-psnr, ssim
}

// Options are the metric's score options.
func (m Metric) Options() score.Options {
	return score.Options{Threshold: m.Threshold, DataRange: m.DataRange}
}

// Key names the metric in scores: its name, with the threshold when given
// ("ap@0.75"), so two thresholds of one metric can rank side by side.
func (m Metric) Key() string {
	if m.Threshold != 0 {
		return string(m.Name) + "@" + strconv.FormatFloat(m.Threshold, 'g', -1, 64)
	}
	return string(m.Name)
}

// Phase is a period in which submissions are accepted.
type Phase struct {
	Name     string    `json:"name"`
	OpensAt  time.Time `json:"opens_at"`
	ClosesAt time.Time `json:"closes_at"`
	PerDay   int       `json:"per_day"` // per participant and UTC day
	Total    int       `json:"total"`   // per participant over the phase
}

// Open reports whether submissions are accepted at t.
func (p Phase) Open(t time.Time) bool { return !t.Before(p.OpensAt) && t.Before(p.ClosesAt) }

// Closed reports whether the phase is over at t.
func (p Phase) Closed(t time.Time) bool { return !t.Before(p.ClosesAt) }

// File is a stored file of a challenge.
type File struct {
	Kind   string `json:"kind"`
	Name   string `json:"name"`
	Size   int64  `json:"size,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// Phase returns the phase named name.
func (c *Challenge) Phase(name string) (Phase, bool) {
	for _, p := range c.Phases {
		if p.Name == name {
			return p, true
		}
	}
	return Phase{}, false
}

// Organiser reports whether u organises c: its creator (CreatedBy), one
// of its Organisers (user names, which are unique and never reused), or
// an admin. Rights are per challenge: being a reviewer grants none over a
// challenge one neither created nor is named in.
func (c *Challenge) Organiser(u *zoo.User) bool {
	if u == nil {
		return false
	}
	if u.Role == zoo.RoleAdmin || (c.CreatedBy != 0 && u.ID == c.CreatedBy) {
		return true
	}
	for _, n := range c.Organisers {
		if n == u.Name {
			return true
		}
	}
	return false
}

// Names returns the names of c's files of kind, in stored order.
func (c *Challenge) Names(kind string) []string {
	var out []string
	for _, f := range c.Files {
		if f.Kind == kind {
			out = append(out, f.Name)
		}
	}
	return out
}

// Submission is one submission and, once scored, its scores.
type Submission struct {
	ID          int64            `json:"id"`
	ChallengeID int64            `json:"-"`
	Phase       string           `json:"phase"`
	UserID      int64            `json:"-"`
	User        string           `json:"user"`
	Kind        string           `json:"kind"`
	Model       string           `json:"model,omitempty"` // ID/N of a model submission
	Status      string           `json:"status"`
	Message     string           `json:"message,omitempty"` // why it failed
	CreatedAt   time.Time        `json:"created_at"`
	ScoredAt    *time.Time       `json:"scored_at,omitempty"`
	Scores      map[string]Value `json:"scores,omitempty"` // metric key → mean over images
	Images      []ImageScore     `json:"images,omitempty"`
	// WithdrawnAt is when the submitter withdrew it: it stays recorded
	// (and counted against the phase's limits) but is never ranked.
	WithdrawnAt *time.Time `json:"withdrawn_at,omitempty"`
	// Disqualified is set while an organiser has disqualified it: it is
	// never ranked until reinstated.
	Disqualified *Disqualification `json:"disqualified,omitempty"`
}

// Ranked reports whether s may appear on a leaderboard: scored, neither
// withdrawn nor disqualified.
func (s *Submission) Ranked() bool {
	return s.Status == StatusScored && s.WithdrawnAt == nil && s.Disqualified == nil
}

// ImageScore is the scores of one hidden image.
type ImageScore struct {
	Name   string           `json:"name"`
	Scores map[string]Value `json:"scores"`
}

// Value is a score that survives JSON: ±Inf and NaN as the strings
// "Infinity", "-Infinity" and "NaN" (PSNR of a perfect prediction is +Inf).
type Value float64

// MarshalJSON implements json.Marshaler.
func (v Value) MarshalJSON() ([]byte, error) { return score.MarshalValue(float64(v)), nil }

// UnmarshalJSON implements json.Unmarshaler.
func (v *Value) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		switch s {
		case "Infinity":
			*v = Value(math.Inf(1))
		case "-Infinity":
			*v = Value(math.Inf(-1))
		default:
			*v = Value(math.NaN())
		}
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	*v = Value(f)
	return nil
}

// Limit is what AddSubmission enforces: at most PerDay submissions of the
// user in the phase since DayStart, and at most Total in the phase.
type Limit struct {
	PerDay   int
	Total    int
	DayStart time.Time
}

// Store keeps challenges, their files and submissions. *sqlite.DB and
// *postgres.DB implement it; challengetest is the conformance suite.
type Store interface {
	// CreateChallenge stores c (setting c.ID) with the contents of its
	// files, data[i] for c.Files[i]. A taken slug is a Conflict.
	CreateChallenge(ctx context.Context, c *Challenge, data [][]byte) error
	// Challenge returns the challenge with slug (NotFound).
	Challenge(ctx context.Context, slug string) (*Challenge, error)
	// ChallengeByID returns the challenge with id (NotFound).
	ChallengeByID(ctx context.Context, id int64) (*Challenge, error)
	// Challenges lists every challenge, newest first.
	Challenges(ctx context.Context) ([]*Challenge, error)
	// FileData returns the contents of one file of a challenge (NotFound).
	// Callers decide who may see which kind.
	FileData(ctx context.Context, challengeID int64, kind, name string) ([]byte, error)
	// AddSubmission records s (setting ID) with its data (the predictions
	// zip, or nil) if the user's submissions in s's phase are below lim
	// (Conflict otherwise, with a message saying which limit). The count
	// and the insert are one transaction serialised per challenge.
	AddSubmission(ctx context.Context, s *Submission, data []byte, lim Limit) error
	// Submission returns one submission with its scores (NotFound).
	Submission(ctx context.Context, id int64) (*Submission, error)
	// SubmissionData returns the stored zip of a predictions submission.
	SubmissionData(ctx context.Context, id int64) ([]byte, error)
	// Submissions lists the challenge's submissions, oldest first; userID
	// > 0 restricts them to one user's.
	Submissions(ctx context.Context, challengeID, userID int64) ([]*Submission, error)
	// FinishSubmission records the outcome of scoring (status scored or
	// failed, the message, scores, per-image scores and the time) and
	// drops the stored data. It leaves a withdrawal or disqualification
	// as it is: a score arriving after a withdrawal is stored, and the
	// submission stays withdrawn.
	FinishSubmission(ctx context.Context, s *Submission) error

	// UpdateChallenge stores c (read with Challenge, then edited) as
	// challenge c.ID and appends ch to its history, in one transaction
	// serialised with AddSubmission. seen is the number of changes the
	// edit was based on (read before c): if the history has grown since,
	// another edit came first and this one is a Conflict ("reload and try
	// again"), so no edit is lost. With metricsChanged, a challenge that
	// has any submission is a Conflict. On a Conflict nothing changes.
	UpdateChallenge(ctx context.Context, c *Challenge, ch Change, seen int, metricsChanged bool) error
	// ChallengeChanges returns the history of a challenge, oldest first.
	ChallengeChanges(ctx context.Context, challengeID int64) ([]Change, error)
	// WithdrawSubmission marks submission id withdrawn at at (NotFound;
	// Conflict when it already is).
	WithdrawSubmission(ctx context.Context, id int64, at time.Time) error
	// DisqualifySubmission sets (d != nil) or clears (d == nil, a
	// reinstatement) the disqualification of submission id (NotFound).
	DisqualifySubmission(ctx context.Context, id int64, d *Disqualification) error
}

// CheckLimit is the rule stores apply in AddSubmission: total and today
// are the user's submissions in phase so far (today: since lim.DayStart).
func CheckLimit(phase string, lim Limit, total, today int) error {
	const op = "challenge.Submit"
	if total >= lim.Total {
		return zoo.E(op, zoo.Conflict, nil, "you have made %d of the %d submissions allowed in phase %s; no more are accepted", total, lim.Total, phase)
	}
	if today >= lim.PerDay {
		return zoo.E(op, zoo.Conflict, nil, "you have made %d of the %d submissions allowed per day in phase %s; submit again after %s", today, lim.PerDay, phase, lim.DayStart.Add(24*time.Hour).UTC().Format(time.RFC3339))
	}
	return nil
}

// EncodeScores is how stores keep a submission's scores: JSON text of
// Scores and Images ("null" when absent).
func EncodeScores(s *Submission) (scores, images string, err error) {
	a, err := json.Marshal(s.Scores)
	if err != nil {
		return "", "", err
	}
	b, err := json.Marshal(s.Images)
	return string(a), string(b), err
}

// DecodeScores reads what EncodeScores wrote into s ("" means none).
func DecodeScores(scores, images string, s *Submission) error {
	if scores != "" {
		if err := json.Unmarshal([]byte(scores), &s.Scores); err != nil {
			return err
		}
	}
	if images != "" {
		return json.Unmarshal([]byte(images), &s.Images)
	}
	return nil
}
