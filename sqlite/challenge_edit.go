package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/challenge"
)

func (s *challengeStore) UpdateChallenge(ctx context.Context, c *challenge.Challenge, ch challenge.Change, seen int, metricsChanged bool) error {
	const op = "sqlite.UpdateChallenge"
	v := *c
	v.Changes = nil
	spec, err := json.Marshal(&v)
	if err != nil {
		return zoo.E(op, zoo.Internal, err, "")
	}
	fields, err := json.Marshal(ch.Fields)
	if err != nil {
		return zoo.E(op, zoo.Internal, err, "")
	}
	// BEGIN IMMEDIATE on the one writer: no submission can be added
	// between the count and the update.
	return s.db.tx(ctx, op, func(tx *sql.Tx) error {
		var edits int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM challenge_changes WHERE challenge_id = ?`, c.ID).Scan(&edits); err != nil {
			return dbError(op, err, "", "")
		}
		if edits != seen {
			return zoo.E(op, zoo.Conflict, nil, "challenge %s was edited by someone else meanwhile; reload it and make your edit again", c.Slug)
		}
		if metricsChanged {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM challenge_submissions WHERE challenge_id = ?`, c.ID).Scan(&n); err != nil {
				return dbError(op, err, "", "")
			}
			if n > 0 {
				return zoo.E(op, zoo.Conflict, nil, "challenge %s has %d submissions; its metrics cannot change any more", c.Slug, n)
			}
		}
		res, err := tx.ExecContext(ctx, `UPDATE challenges SET spec = ? WHERE id = ?`, string(spec), c.ID)
		if err := affected(op, res, err, "no such challenge"); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO challenge_changes (challenge_id, user_name, at, fields) VALUES (?, ?, ?, ?)`,
			c.ID, ch.User, micros(ch.At), string(fields))
		return dbError(op, err, "", "")
	})
}

func (s *challengeStore) ChallengeChanges(ctx context.Context, challengeID int64) ([]challenge.Change, error) {
	const op = "sqlite.ChallengeChanges"
	rows, err := s.db.read.QueryContext(ctx, `SELECT user_name, at, fields FROM challenge_changes WHERE challenge_id = ? ORDER BY id`, challengeID)
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	defer rows.Close()
	var out []challenge.Change
	for rows.Next() {
		var ch challenge.Change
		var at int64
		var fields string
		if err := rows.Scan(&ch.User, &at, &fields); err != nil {
			return nil, dbError(op, err, "", "")
		}
		if err := json.Unmarshal([]byte(fields), &ch.Fields); err != nil {
			return nil, zoo.E(op, zoo.Internal, err, "")
		}
		ch.At = fromMicros(at)
		out = append(out, ch)
	}
	return out, dbError(op, rows.Err(), "", "")
}

func (s *challengeStore) WithdrawSubmission(ctx context.Context, id int64, at time.Time) error {
	const op = "sqlite.WithdrawSubmission"
	return s.db.tx(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE challenge_submissions SET withdrawn_at = ? WHERE id = ? AND withdrawn_at IS NULL`, micros(at), id)
		if err != nil {
			return dbError(op, err, "", "")
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return dbError(op, err, "", "")
		}
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM challenge_submissions WHERE id = ?`, id).Scan(&one); err != nil {
			return dbError(op, err, "no such submission", "")
		}
		return zoo.E(op, zoo.Conflict, nil, "submission %d is already withdrawn", id)
	})
}

func (s *challengeStore) DisqualifySubmission(ctx context.Context, id int64, d *challenge.Disqualification) error {
	const op = "sqlite.DisqualifySubmission"
	reason, by, at := "", "", any(nil)
	if d != nil {
		reason, by, at = d.Reason, d.By, micros(d.At)
	}
	return s.db.tx(ctx, op, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE challenge_submissions SET dq_reason = ?, dq_by = ?, dq_at = ? WHERE id = ?`, reason, by, at, id)
		return affected(op, res, err, "no such submission")
	})
}
