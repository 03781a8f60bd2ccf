package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

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

func us(t time.Time) int64 { return t.UnixMicro() }

func fromUS(v int64) time.Time { return time.UnixMicro(v).UTC() }

func (s *challengeStore) CreateChallenge(ctx context.Context, c *challenge.Challenge, data [][]byte) error {
	const op = "postgres.CreateChallenge"
	spec, err := json.Marshal(c)
	if err != nil {
		return zoo.E(op, zoo.Internal, err, "")
	}
	return s.db.tx(ctx, op, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, `INSERT INTO challenges (slug, spec, created_by, created_at) VALUES ($1, $2, $3, $4) RETURNING id`,
			c.Slug, string(spec), c.CreatedBy, us(c.CreatedAt)).Scan(&id)
		if err != nil {
			return dbError(op, err, "", "a challenge named "+c.Slug+" exists; choose another slug")
		}
		for i, f := range c.Files {
			if _, err := tx.Exec(ctx, `INSERT INTO challenge_files (challenge_id, kind, name, data) VALUES ($1, $2, $3, $4)`,
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
	c.ID, c.CreatedBy, c.CreatedAt = id, by, fromUS(at)
	return &c, nil
}

const challengeCols = `id, spec, created_by, created_at`

func (s *challengeStore) Challenge(ctx context.Context, slug string) (*challenge.Challenge, error) {
	return scanChallenge("postgres.Challenge", s.db.pool.QueryRow(ctx, `SELECT `+challengeCols+` FROM challenges WHERE slug = $1`, slug))
}

func (s *challengeStore) ChallengeByID(ctx context.Context, id int64) (*challenge.Challenge, error) {
	return scanChallenge("postgres.Challenge", s.db.pool.QueryRow(ctx, `SELECT `+challengeCols+` FROM challenges WHERE id = $1`, id))
}

func (s *challengeStore) Challenges(ctx context.Context) ([]*challenge.Challenge, error) {
	const op = "postgres.Challenges"
	rows, err := s.db.pool.Query(ctx, `SELECT `+challengeCols+` FROM challenges ORDER BY created_at DESC, id DESC`)
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
	err := s.db.pool.QueryRow(ctx, `SELECT data FROM challenge_files WHERE challenge_id = $1 AND kind = $2 AND name = $3`,
		challengeID, kind, name).Scan(&b)
	return b, dbError("postgres.FileData", err, "no such file", "")
}

func (s *challengeStore) AddSubmission(ctx context.Context, sub *challenge.Submission, data []byte, lim challenge.Limit) error {
	const op = "postgres.AddSubmission"
	return s.db.tx(ctx, op, func(tx pgx.Tx) error {
		// The challenge's row lock serialises submissions to it: the
		// count below and the insert cannot interleave with another's.
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM challenges WHERE id = $1 FOR UPDATE`, sub.ChallengeID).Scan(&one); err != nil {
			return dbError(op, err, "no such challenge", "")
		}
		var total, today int
		err := tx.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE created_at >= $1) FROM challenge_submissions
			WHERE challenge_id = $2 AND user_id = $3 AND phase = $4`, us(lim.DayStart), sub.ChallengeID, sub.UserID, sub.Phase).Scan(&total, &today)
		if err != nil {
			return dbError(op, err, "", "")
		}
		if err := challenge.CheckLimit(sub.Phase, lim, total, today); err != nil {
			return err
		}
		err = tx.QueryRow(ctx, `INSERT INTO challenge_submissions (challenge_id, phase, user_id, user_name, kind, model, status, created_at, data)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`, sub.ChallengeID, sub.Phase, sub.UserID, sub.User, sub.Kind, sub.Model,
			sub.Status, us(sub.CreatedAt), data).Scan(&sub.ID)
		return dbError(op, err, "no such challenge", "")
	})
}

const submissionCols = `id, challenge_id, phase, user_id, user_name, kind, model, status, message, created_at, scored_at, scores, images, withdrawn_at, dq_reason, dq_by, dq_at`

func scanSubmission(op string, sc interface{ Scan(...any) error }) (*challenge.Submission, error) {
	var sub challenge.Submission
	var at int64
	var scored *int64
	var scores, images *string
	var withdrawn, dqAt *int64
	var dqReason, dqBy string
	if err := sc.Scan(&sub.ID, &sub.ChallengeID, &sub.Phase, &sub.UserID, &sub.User, &sub.Kind, &sub.Model, &sub.Status, &sub.Message,
		&at, &scored, &scores, &images, &withdrawn, &dqReason, &dqBy, &dqAt); err != nil {
		return nil, dbError(op, err, "no such submission", "")
	}
	sub.CreatedAt = fromUS(at)
	if withdrawn != nil {
		t := fromUS(*withdrawn)
		sub.WithdrawnAt = &t
	}
	if dqAt != nil {
		sub.Disqualified = &challenge.Disqualification{Reason: dqReason, By: dqBy, At: fromUS(*dqAt)}
	}
	if scored != nil {
		t := fromUS(*scored)
		sub.ScoredAt = &t
	}
	deref := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	if err := challenge.DecodeScores(deref(scores), deref(images), &sub); err != nil {
		return nil, zoo.E(op, zoo.Internal, err, "")
	}
	return &sub, nil
}

func (s *challengeStore) Submission(ctx context.Context, id int64) (*challenge.Submission, error) {
	return scanSubmission("postgres.Submission", s.db.pool.QueryRow(ctx, `SELECT `+submissionCols+` FROM challenge_submissions WHERE id = $1`, id))
}

func (s *challengeStore) SubmissionData(ctx context.Context, id int64) ([]byte, error) {
	var b []byte
	err := s.db.pool.QueryRow(ctx, `SELECT data FROM challenge_submissions WHERE id = $1 AND data IS NOT NULL`, id).Scan(&b)
	return b, dbError("postgres.SubmissionData", err, "the submission has no stored predictions", "")
}

func (s *challengeStore) Submissions(ctx context.Context, challengeID, userID int64) ([]*challenge.Submission, error) {
	const op = "postgres.Submissions"
	rows, err := s.db.pool.Query(ctx, `SELECT `+submissionCols+` FROM challenge_submissions
		WHERE challenge_id = $1 AND ($2 = 0 OR user_id = $2) ORDER BY id`, challengeID, userID)
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
	const op = "postgres.FinishSubmission"
	scores, images, err := challenge.EncodeScores(sub)
	if err != nil {
		return zoo.E(op, zoo.Internal, err, "")
	}
	var scored *int64
	if sub.ScoredAt != nil {
		v := us(*sub.ScoredAt)
		scored = &v
	}
	tag, err := s.db.pool.Exec(ctx, `UPDATE challenge_submissions SET status = $1, message = $2, scored_at = $3, scores = $4, images = $5, data = NULL WHERE id = $6`,
		sub.Status, sub.Message, scored, scores, images, sub.ID)
	if err != nil {
		return dbError(op, err, "", "")
	}
	if tag.RowsAffected() == 0 {
		return zoo.E(op, zoo.NotFound, nil, "no such submission")
	}
	return nil
}
