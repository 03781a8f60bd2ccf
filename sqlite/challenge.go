package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/challenge"
)

// challengeStore is challenge.Store on a DB.
type challengeStore struct {
	db *DB
}

// Challenges returns the challenge store of db (see package challenge).
func (db *DB) Challenges() challenge.Store {
	return &challengeStore{db: db}
}

func (s *challengeStore) CreateChallenge(ctx context.Context, c *challenge.Challenge, data [][]byte) error {
	const op = "sqlite.CreateChallenge"
	spec, err := json.Marshal(c)
	if err != nil {
		return zoo.E(op, zoo.Internal, err, "")
	}
	return s.db.tx(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO challenges (slug, spec, created_by, created_at) VALUES (?, ?, ?, ?)`,
			c.Slug, string(spec), c.CreatedBy, micros(c.CreatedAt))
		if err != nil {
			return dbError(op, err, "", "a challenge named "+c.Slug+" exists; choose another slug")
		}
		id, err := res.LastInsertId()
		if err != nil {
			return dbError(op, err, "", "")
		}
		for i, f := range c.Files {
			if _, err := tx.ExecContext(ctx, `INSERT INTO challenge_files (challenge_id, kind, name, data) VALUES (?, ?, ?, ?)`,
				id, f.Kind, f.Name, data[i]); err != nil {
				return dbError(op, err, "", f.Kind+" file "+f.Name+" is given twice")
			}
		}
		c.ID = id
		return nil
	})
}

func scanChallenge(op string, sc interface{ Scan(...any) error }) (*challenge.Challenge, error) {
	var c challenge.Challenge
	var spec string
	var at int64
	if err := sc.Scan(&c.ID, &spec, &c.CreatedBy, &at); err != nil {
		return nil, dbError(op, err, "no such challenge", "")
	}
	id, by := c.ID, c.CreatedBy
	if err := json.Unmarshal([]byte(spec), &c); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "")
	}
	c.ID, c.CreatedBy, c.CreatedAt = id, by, fromMicros(at)
	return &c, nil
}

const challengeCols = `id, spec, created_by, created_at`

func (s *challengeStore) Challenge(ctx context.Context, slug string) (*challenge.Challenge, error) {
	return scanChallenge("sqlite.Challenge", s.db.read.QueryRowContext(ctx, `SELECT `+challengeCols+` FROM challenges WHERE slug = ?`, slug))
}

func (s *challengeStore) ChallengeByID(ctx context.Context, id int64) (*challenge.Challenge, error) {
	return scanChallenge("sqlite.Challenge", s.db.read.QueryRowContext(ctx, `SELECT `+challengeCols+` FROM challenges WHERE id = ?`, id))
}

func (s *challengeStore) Challenges(ctx context.Context) ([]*challenge.Challenge, error) {
	const op = "sqlite.Challenges"
	rows, err := s.db.read.QueryContext(ctx, `SELECT `+challengeCols+` FROM challenges ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	defer rows.Close()
	var out []*challenge.Challenge
	for rows.Next() {
		c, err := scanChallenge(op, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, dbError(op, rows.Err(), "", "")
}

func (s *challengeStore) FileData(ctx context.Context, challengeID int64, kind, name string) ([]byte, error) {
	var b []byte
	err := s.db.read.QueryRowContext(ctx, `SELECT data FROM challenge_files WHERE challenge_id = ? AND kind = ? AND name = ?`,
		challengeID, kind, name).Scan(&b)
	return b, dbError("sqlite.FileData", err, "no such file", "")
}

func (s *challengeStore) AddSubmission(ctx context.Context, sub *challenge.Submission, data []byte, lim challenge.Limit) error {
	const op = "sqlite.AddSubmission"
	// One writer connection with BEGIN IMMEDIATE: the count and the
	// insert cannot interleave with another submission's.
	return s.db.tx(ctx, op, func(tx *sql.Tx) error {
		var total, today int
		err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(created_at >= ?), 0) FROM challenge_submissions
			WHERE challenge_id = ? AND user_id = ? AND phase = ?`, micros(lim.DayStart), sub.ChallengeID, sub.UserID, sub.Phase).Scan(&total, &today)
		if err != nil {
			return dbError(op, err, "", "")
		}
		if err := challenge.CheckLimit(sub.Phase, lim, total, today); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO challenge_submissions (challenge_id, phase, user_id, user_name, kind, model, status, created_at, data)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, sub.ChallengeID, sub.Phase, sub.UserID, sub.User, sub.Kind, sub.Model, sub.Status, micros(sub.CreatedAt), data)
		if err != nil {
			return dbError(op, err, "no such challenge", "")
		}
		sub.ID, err = res.LastInsertId()
		return dbError(op, err, "", "")
	})
}

const submissionCols = `id, challenge_id, phase, user_id, user_name, kind, model, status, message, created_at, scored_at, scores, images, withdrawn_at, dq_reason, dq_by, dq_at`

func scanSubmission(op string, sc interface{ Scan(...any) error }) (*challenge.Submission, error) {
	var sub challenge.Submission
	var at int64
	var scored sql.NullInt64
	var scores, images sql.NullString
	var withdrawn, dqAt sql.NullInt64
	var dqReason, dqBy string
	if err := sc.Scan(&sub.ID, &sub.ChallengeID, &sub.Phase, &sub.UserID, &sub.User, &sub.Kind, &sub.Model, &sub.Status, &sub.Message,
		&at, &scored, &scores, &images, &withdrawn, &dqReason, &dqBy, &dqAt); err != nil {
		return nil, dbError(op, err, "no such submission", "")
	}
	sub.CreatedAt, sub.ScoredAt = fromMicros(at), timePtr(scored)
	sub.WithdrawnAt = timePtr(withdrawn)
	if dqAt.Valid {
		sub.Disqualified = &challenge.Disqualification{Reason: dqReason, By: dqBy, At: fromMicros(dqAt.Int64)}
	}
	if err := challenge.DecodeScores(scores.String, images.String, &sub); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "")
	}
	return &sub, nil
}

func (s *challengeStore) Submission(ctx context.Context, id int64) (*challenge.Submission, error) {
	return scanSubmission("sqlite.Submission", s.db.read.QueryRowContext(ctx, `SELECT `+submissionCols+` FROM challenge_submissions WHERE id = ?`, id))
}

func (s *challengeStore) SubmissionData(ctx context.Context, id int64) ([]byte, error) {
	var b []byte
	err := s.db.read.QueryRowContext(ctx, `SELECT data FROM challenge_submissions WHERE id = ? AND data IS NOT NULL`, id).Scan(&b)
	return b, dbError("sqlite.SubmissionData", err, "the submission has no stored predictions", "")
}

func (s *challengeStore) Submissions(ctx context.Context, challengeID, userID int64) ([]*challenge.Submission, error) {
	const op = "sqlite.Submissions"
	rows, err := s.db.read.QueryContext(ctx, `SELECT `+submissionCols+` FROM challenge_submissions
		WHERE challenge_id = ? AND (? = 0 OR user_id = ?) ORDER BY id`, challengeID, userID, userID)
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	defer rows.Close()
	var out []*challenge.Submission
	for rows.Next() {
		sub, err := scanSubmission(op, rows)
		if err != nil {
			return nil, err
		}
		out = append(out, sub)
	}
	return out, dbError(op, rows.Err(), "", "")
}

func (s *challengeStore) FinishSubmission(ctx context.Context, sub *challenge.Submission) error {
	const op = "sqlite.FinishSubmission"
	scores, images, err := challenge.EncodeScores(sub)
	if err != nil {
		return zoo.E(op, zoo.Internal, err, "")
	}
	return s.db.tx(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE challenge_submissions SET status = ?, message = ?, scored_at = ?, scores = ?, images = ?, data = NULL WHERE id = ?`,
			sub.Status, sub.Message, nullMicros(sub.ScoredAt), scores, images, sub.ID)
		return affected(op, res, err, "no such submission")
	})
}
