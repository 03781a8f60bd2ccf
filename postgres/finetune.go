package postgres

import (
	"context"
	"github.com/jackc/pgx/v5"
	"time"

	"github.com/zoo-bioimage/zoo"
	"github.com/zoo-bioimage/zoo/finetune/ftjob"
)

// Finetunes returns the store of fine-tuning jobs (table finetune_jobs,
// migration 0011; see package ftjob).
func (db *DB) FinetuneJobs() ftjob.Store { return ftStore{db} }

type ftStore struct{ db *DB }

func (s ftStore) CreateFinetune(ctx context.Context, j *ftjob.Job, maxActive int) error {
	const op = "postgres.CreateFinetune"
	return s.db.tx(ctx, op, func(tx pgx.Tx) error {
		// One creation per owner at a time: the count below and the insert
		// are then one step.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('finetune:' || $1))`, j.Owner); err != nil {
			return dbError(op, err, "", "")
		}
		var n int
		if err := tx.QueryRow(ctx, rb(`SELECT count(*) FROM finetune_jobs WHERE owner = ? AND state IN ('queued', 'running')`), j.Owner).Scan(&n); err != nil {
			return dbError(op, err, "", "")
		}
		if n >= maxActive {
			return zoo.E(op, zoo.Conflict, ftjob.ErrTooMany, "you have %d fine-tuning job(s) queued or running, the most one user may have; wait until one ends or cancel one", n)
		}
		_, err := tx.Exec(ctx, rb(`INSERT INTO finetune_jobs (`+ftjob.Columns+`) VALUES (?,?,?,?,?,?,?,?)`), ftjob.Row(j)...)
		return dbError(op, err, "", "a fine-tuning job with this id exists")
	})
}

func (s ftStore) Finetune(ctx context.Context, id string) (*ftjob.Job, error) {
	var rec string
	err := s.db.pool.QueryRow(ctx, rb(`SELECT record FROM finetune_jobs WHERE id = ?`), id).Scan(&rec)
	if err != nil {
		return nil, dbError("postgres.Finetune", err, "no fine-tuning job "+id, "")
	}
	return ftjob.Decode(rec)
}

func (s ftStore) Finetunes(ctx context.Context, owner string, limit int) ([]*ftjob.Job, error) {
	const op = "postgres.Finetunes"
	rows, err := s.db.pool.Query(ctx, rb(`SELECT record FROM finetune_jobs WHERE owner = ? ORDER BY created_at DESC, id LIMIT ?`), owner, limit)
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	defer rows.Close()
	var out []*ftjob.Job
	for rows.Next() {
		var rec string
		if err := rows.Scan(&rec); err != nil {
			return nil, dbError(op, err, "", "")
		}
		j, err := ftjob.Decode(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, j)
	}
	return out, dbError(op, rows.Err(), "", "")
}

func (s ftStore) UpdateFinetune(ctx context.Context, id string, fn func(*ftjob.Job) error) (*ftjob.Job, error) {
	const op = "postgres.UpdateFinetune"
	var j *ftjob.Job
	err := s.db.tx(ctx, op, func(tx pgx.Tx) error {
		var rec string
		if err := tx.QueryRow(ctx, rb(`SELECT record FROM finetune_jobs WHERE id = ? FOR UPDATE`), id).Scan(&rec); err != nil {
			return dbError(op, err, "no fine-tuning job "+id, "")
		}
		var err error
		if j, err = ftjob.Decode(rec); err != nil {
			return err
		}
		if err := fn(j); err != nil {
			return err
		}
		j.ID, j.UpdatedAt = id, time.Now().UTC()
		row := ftjob.Row(j)
		_, err = tx.Exec(ctx, rb(`UPDATE finetune_jobs SET owner = ?, state = ?, created_at = ?, expires_at = ?, data_sha256 = ?, checkpoint_sha256 = ?, record = ? WHERE id = ?`),
			append(row[1:], id)...)
		return dbError(op, err, "", "")
	})
	if err != nil {
		return nil, err
	}
	return j, nil
}

func (s ftStore) ExpiredFinetunes(ctx context.Context, now time.Time, limit int) ([]string, error) {
	const op = "postgres.ExpiredFinetunes"
	rows, err := s.db.pool.Query(ctx, rb(`SELECT id FROM finetune_jobs WHERE expires_at > 0 AND expires_at < ? ORDER BY expires_at LIMIT ?`), now.UnixMilli(), limit)
	if err != nil {
		return nil, dbError(op, err, "", "")
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, dbError(op, err, "", "")
		}
		ids = append(ids, id)
	}
	return ids, dbError(op, rows.Err(), "", "")
}

func (s ftStore) FinetuneBlobs(ctx context.Context, fn func(sha string) error) error {
	const op = "postgres.FinetuneBlobs"
	rows, err := s.db.pool.Query(ctx, rb(`SELECT data_sha256, checkpoint_sha256 FROM finetune_jobs WHERE data_sha256 != '' OR checkpoint_sha256 != ''`))
	if err != nil {
		return dbError(op, err, "", "")
	}
	var shas []string
	for rows.Next() {
		var a, b string
		if err := rows.Scan(&a, &b); err != nil {
			return dbError(op, err, "", "")
		}
		shas = append(shas, a, b)
	}
	if err := rows.Err(); err != nil {
		return dbError(op, err, "", "")
	}
	rows.Close()
	for _, sha := range shas {
		if sha != "" {
			if err := fn(sha); err != nil {
				return err
			}
		}
	}
	return nil
}
