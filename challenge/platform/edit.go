package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/challenge"
)

// MaxPatch is the largest PATCH body, in bytes (the description included).
const MaxPatch = 256 << 10

// maxTitle is the longest title, in characters.
const maxTitle = 300

// Patch is an edit of a challenge, JSON merge-patch style: a field left
// out (or null) keeps its value. Phases are matched by name and only the
// fields given change; a phase cannot be added, removed or renamed here.
// Metrics, when given, replace the list (refused once the challenge has a
// submission). Files — public data, test inputs and ground truth —,
// the slug, organisers, leaderboard and ranking cannot be changed.
type Patch struct {
	Title       *string            `json:"title,omitempty"`
	Description *string            `json:"description,omitempty"`
	Metrics     []challenge.Metric `json:"metrics,omitempty"`
	Phases      []PhasePatch       `json:"phases,omitempty"`
}

// PhasePatch edits the phase called Name.
type PhasePatch struct {
	Name     string     `json:"name"`
	OpensAt  *time.Time `json:"opens_at,omitempty"`
	ClosesAt *time.Time `json:"closes_at,omitempty"`
	PerDay   *int       `json:"per_day,omitempty"`
	Total    *int       `json:"total,omitempty"`
}

// ParsePatch reads a PATCH body: at most MaxPatch bytes of valid UTF-8
// holding one JSON object with only Patch's fields. Errors are Invalid
// (TooLarge for size) with a message saying what to fix.
func ParsePatch(b []byte) (*Patch, error) {
	const op = "challenge.Update"
	if len(b) > MaxPatch {
		return nil, zoo.E(op, zoo.TooLarge, nil, "the edit is %d bytes; at most %d are accepted", len(b), MaxPatch)
	}
	if !utf8.Valid(b) {
		return nil, zoo.E(op, zoo.Invalid, nil, "the edit is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var p Patch
	if err := dec.Decode(&p); err != nil {
		msg := err.Error()
		if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
			switch strings.Trim(f, `"`) {
			case "files", "public", "input", "truth", "hidden":
				return nil, zoo.E(op, zoo.Invalid, nil, "the challenge's files (public data, test inputs and ground truth) cannot be changed by an edit")
			}
			return nil, zoo.E(op, zoo.Invalid, nil, "unknown field %s; an edit may change title, description, metrics and phases [{name, opens_at, closes_at, per_day, total}]", f)
		}
		return nil, zoo.E(op, zoo.Invalid, nil, "the edit is not a JSON object of a challenge's fields: %s", strings.TrimPrefix(msg, "json: "))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, zoo.E(op, zoo.Invalid, nil, "the edit has data after its JSON object")
	}
	return &p, nil
}

// Update applies an edit of the challenge with slug by u, one of its
// organisers (its creator, a named organiser or an admin), and records who changed which
// fields when. Rules: a phase closes after it opens, limits are at least
// 1, and the metrics cannot change once any submission exists (Conflict).
// Lowering a limit keeps the submissions already made; it only refuses
// new ones. An edit that changes nothing records nothing; one that races
// another edit of the same challenge is a Conflict (reload and retry).
func (s *Service) Update(ctx context.Context, u *zoo.User, slug string, p *Patch) (*challenge.Challenge, error) {
	const op = "challenge.Update"
	if u == nil {
		return nil, zoo.E(op, zoo.Unauthorized, nil, "log in to edit a challenge")
	}
	c, err := s.Store.Challenge(ctx, slug)
	if err != nil {
		return nil, err
	}
	if !c.Organiser(u) {
		return nil, zoo.E(op, zoo.Forbidden, nil, "only the organisers of %s (its creator, the users it names as organisers, and admins) may edit it", slug)
	}
	// The history is counted before the challenge is read again: an edit
	// committed in between makes the store refuse this one rather than
	// overwrite it with stale fields.
	before, err := s.Store.ChallengeChanges(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	if c, err = s.Store.ChallengeByID(ctx, c.ID); err != nil {
		return nil, err
	}
	bad := func(format string, args ...any) error { return zoo.E(op, zoo.Invalid, nil, format, args...) }
	var fields []string
	if p.Title != nil && *p.Title != c.Title {
		t := strings.TrimSpace(*p.Title)
		switch {
		case t == "":
			return nil, bad("a challenge needs a title")
		case utf8.RuneCountInString(t) > maxTitle:
			return nil, bad("the title has %d characters; at most %d are allowed", utf8.RuneCountInString(t), maxTitle)
		case strings.IndexFunc(t, unicode.IsControl) >= 0:
			return nil, bad("the title holds control characters")
		}
		c.Title = t
		fields = append(fields, "title")
	}
	if p.Description != nil && *p.Description != c.Description {
		c.Description = *p.Description
		fields = append(fields, "description")
	}
	metricsChanged := false
	if p.Metrics != nil && !reflect.DeepEqual(p.Metrics, c.Metrics) {
		if err := checkMetrics(op, p.Metrics); err != nil {
			return nil, err
		}
		c.Metrics, metricsChanged = p.Metrics, true
		fields = append(fields, "metrics")
	}
	seen := map[string]bool{}
	for i, pp := range p.Phases {
		if seen[pp.Name] {
			return nil, bad("phases.%d: phase %q is edited twice", i, pp.Name)
		}
		seen[pp.Name] = true
		j := -1
		for k := range c.Phases {
			if c.Phases[k].Name == pp.Name {
				j = k
			}
		}
		if j < 0 {
			return nil, bad("phases.%d: challenge %s has no phase %q; phases cannot be added or renamed", i, slug, pp.Name)
		}
		ph := &c.Phases[j]
		change := func(field string) { fields = append(fields, "phases."+ph.Name+"."+field) }
		if pp.OpensAt != nil && !pp.OpensAt.Equal(ph.OpensAt) {
			ph.OpensAt = pp.OpensAt.UTC().Truncate(time.Microsecond)
			change("opens_at")
		}
		if pp.ClosesAt != nil && !pp.ClosesAt.Equal(ph.ClosesAt) {
			ph.ClosesAt = pp.ClosesAt.UTC().Truncate(time.Microsecond)
			change("closes_at")
		}
		if pp.PerDay != nil && *pp.PerDay != ph.PerDay {
			ph.PerDay = *pp.PerDay
			change("per_day")
		}
		if pp.Total != nil && *pp.Total != ph.Total {
			ph.Total = *pp.Total
			change("total")
		}
		switch {
		case ph.OpensAt.IsZero() || !ph.ClosesAt.After(ph.OpensAt):
			return nil, bad("phases.%d (%s): closes_at (%s) must come after opens_at (%s)", i, ph.Name,
				ph.ClosesAt.Format(time.RFC3339), ph.OpensAt.Format(time.RFC3339))
		case ph.PerDay < 1 || ph.Total < 1:
			return nil, bad("phases.%d (%s): per_day and total must be at least 1", i, ph.Name)
		}
	}
	if len(fields) > 0 {
		ch := challenge.Change{User: u.Name, At: s.now(), Fields: fields}
		if err := s.Store.UpdateChallenge(ctx, c, ch, len(before), metricsChanged); err != nil {
			return nil, err
		}
	}
	return s.Get(ctx, u, slug)
}

// Withdraw withdraws submission id of u's while its phase is open: it is
// kept for the record (and still counts against the phase's limits — a
// withdrawal does not give the slot back) but never ranked. Only the
// submitter may withdraw; after the phase closes it is a Conflict.
func (s *Service) Withdraw(ctx context.Context, u *zoo.User, slug string, id int64) (*challenge.Submission, error) {
	const op = "challenge.Withdraw"
	if u == nil {
		return nil, zoo.E(op, zoo.Unauthorized, nil, "log in to withdraw a submission")
	}
	c, sub, err := s.Submission(ctx, u, slug, id)
	if err != nil {
		return nil, err
	}
	if sub.UserID != u.ID {
		return nil, zoo.E(op, zoo.Forbidden, nil, "only its submitter may withdraw submission %d; organisers disqualify", id)
	}
	if p, ok := c.Phase(sub.Phase); !ok || p.Closed(s.now()) {
		return nil, zoo.E(op, zoo.Conflict, nil, "phase %s has closed; its submissions can no longer be withdrawn", sub.Phase)
	}
	if err := s.Store.WithdrawSubmission(ctx, id, s.now()); err != nil {
		return nil, err
	}
	_, sub, err = s.Submission(ctx, u, slug, id)
	return sub, err
}

// CheckReason checks a disqualification reason: 1 to challenge.MaxReason
// characters of valid UTF-8 without control characters other than
// newlines and tabs. It returns the reason trimmed.
func CheckReason(reason string) (string, error) {
	const op = "challenge.Disqualify"
	if !utf8.ValidString(reason) {
		return "", zoo.E(op, zoo.Invalid, nil, "the reason is not valid UTF-8")
	}
	reason = strings.TrimSpace(reason)
	n := utf8.RuneCountInString(reason)
	switch {
	case n == 0:
		return "", zoo.E(op, zoo.Invalid, nil, "give the reason for the disqualification; the participant sees it")
	case n > challenge.MaxReason:
		return "", zoo.E(op, zoo.Invalid, nil, "the reason has %d characters; at most %d are allowed", n, challenge.MaxReason)
	case strings.IndexFunc(reason, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' }) >= 0:
		return "", zoo.E(op, zoo.Invalid, nil, "the reason holds control characters")
	}
	return reason, nil
}

// Disqualify takes submission id off the leaderboards, with a reason its
// submitter sees (organisers only; disqualifying again replaces the
// reason).
func (s *Service) Disqualify(ctx context.Context, u *zoo.User, slug string, id int64, reason string) (*challenge.Submission, error) {
	reason, err := CheckReason(reason)
	if err != nil {
		return nil, err
	}
	return s.judge(ctx, u, slug, id, &challenge.Disqualification{Reason: reason})
}

// Reinstate undoes a disqualification (organisers only; a submission that
// is not disqualified is a Conflict).
func (s *Service) Reinstate(ctx context.Context, u *zoo.User, slug string, id int64) (*challenge.Submission, error) {
	return s.judge(ctx, u, slug, id, nil)
}

func (s *Service) judge(ctx context.Context, u *zoo.User, slug string, id int64, d *challenge.Disqualification) (*challenge.Submission, error) {
	const op = "challenge.Disqualify"
	if u == nil {
		return nil, zoo.E(op, zoo.Unauthorized, nil, "log in as an organiser")
	}
	c, sub, err := s.Submission(ctx, u, slug, id)
	if err != nil {
		return nil, err
	}
	if !c.Organiser(u) {
		return nil, zoo.E(op, zoo.Forbidden, nil, "only the organisers of %s disqualify and reinstate submissions", slug)
	}
	if d == nil && sub.Disqualified == nil {
		return nil, zoo.E(op, zoo.Conflict, nil, "submission %d is not disqualified", id)
	}
	if d != nil {
		d.By, d.At = u.Name, s.now()
	}
	if err := s.Store.DisqualifySubmission(ctx, id, d); err != nil {
		return nil, err
	}
	_, sub, err = s.Submission(ctx, u, slug, id)
	return sub, err
}
