package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/challenge"
)

func (s *challengeStore) UpdateChallenge(ctx context.Context, c *challenge.Challenge, ch challenge.Change, seen int, metricsChanged bool) error {
	const op = "postgres.UpdateChallenge"
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
	return s.db.tx(ctx, op, func(tx pgx.Tx) error {
		// The challenge's row lock, as in AddSubmission: no submission can
		// be added between the count and the update.
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM challenges WHERE id = $1 FOR UPDATE`, c.ID).Scan(&one); err != nil {
			return dbError(op, err, "no such challenge", "")
		}
		var edits int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM challenge_changes WHERE challenge_id = $1`, c.ID).Scan(&edits); err != nil {
			return dbError(op, err, "", "")
		}
		if edits != seen {
			return zoo.E(op, zoo.Conflict, nil, "challenge %s was edited by someone else meanwhile; reload it and make your edit again", c.Slug)
		}
		if metricsChanged {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM challenge_submissions WHERE challenge_id = $1`, c.ID).Scan(&n); err != nil {
				return dbError(op, err, "", "")
			}
			if n > 0 {
				return zoo.E(op, zoo.Conflict, nil, "challenge %s has %d submissions; its metrics cannot change any more", c.Slug, n)
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE challenges SET spec = $1 WHERE id = $2`, string(spec), c.ID); err != nil {
			return dbError(op, err, "", "")
		}
		_, err = tx.Exec(ctx, `INSERT INTO challenge_changes (challenge_id, user_name, at, fields) VALUES ($1, $2, $3, $4)`,
			c.ID, ch.User, us(ch.At), string(fields))
		return dbError(op, err, "", "")
	})
}

func (s *challengeStore) ChallengeChanges(ctx context.Context, challengeID int64) ([]challenge.Change, error) {
	const op = "postgres.ChallengeChanges"
	rows, err := s.db.pool.Query(ctx, `SELECT user_name, at, fields FROM challenge_changes WHERE challenge_id = $1 ORDER BY id`, challengeID)
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
		ch.At = fromUS(at)
		out = append(out, ch)
	}
	return out, dbError(op, rows.Err(), "", "")
}

func (s *challengeStore) WithdrawSubmission(ctx context.Context, id int64, at time.Time) error {
	const op = "postgres.WithdrawSubmission"
	return s.db.tx(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE challenge_submissions SET withdrawn_at = $1 WHERE id = $2 AND withdrawn_at IS NULL`, us(at), id)
		if err != nil {
			return dbError(op, err, "", "")
		}
		if tag.RowsAffected() == 1 {
			return nil
		}
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM challenge_submissions WHERE id = $1`, id).Scan(&one); err != nil {
			return dbError(op, err, "no such submission", "")
		}
		return zoo.E(op, zoo.Conflict, nil, "submission %d is already withdrawn", id)
	})
}

func (s *challengeStore) DisqualifySubmission(ctx context.Context, id int64, d *challenge.Disqualification) error {
	const op = "postgres.DisqualifySubmission"
	reason, by := "", ""
	var at *int64
	if d != nil {
		v := us(d.At)
		reason, by, at = d.Reason, d.By, &v
	}
	tag, err := s.db.pool.Exec(ctx, `UPDATE challenge_submissions SET dq_reason = $1, dq_by = $2, dq_at = $3 WHERE id = $4`, reason, by, at, id)
	if err != nil {
		return dbError(op, err, "", "")
	}
	if tag.RowsAffected() == 0 {
		return zoo.E(op, zoo.NotFound, nil, "no such submission")
	}
	return nil
}
